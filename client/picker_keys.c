/* picker_keys.c: what each key does in the picker (fzf's bindings), and holding back the
 * keys that act on results until the results of what was typed before them are in. */
#include <string.h>

#include "picker_impl.h"
#include "term_key.h"

/* Move the cursor `delta` results towards the worse ones (negative: the better ones). */
static void move_cursor(struct picker *p, long delta)
{
	if (p->shown.n == 0)
		return;
	long c = (long)p->cursor + delta;
	if (c < 0)
		c = 0;
	if ((size_t)c >= p->shown.n)
		c = (long)p->shown.n - 1;
	p->cursor = (size_t)c;
	p->is_dirty = 1;
}

/* Up on screen: towards worse results in the default layout (best at the bottom), towards
 * better ones with --reverse (best at the top). */
static void move_up(struct picker *p, long n)
{
	move_cursor(p, p->o->is_reverse ? -n : n);
}

static int edit(struct picker *p, int is_changed)
{
	p->is_dirty = 1;
	return is_changed ? picker_daemon_query_changed(p) : 0;
}

/* Act on one key. Returns RUNNING, or the exit status to leave with. */
static int on_key(struct picker *p, const struct term_key *k)
{
	struct picker_line *l = &p->line;
	long page = picker_list_rows(p) > 1 ? picker_list_rows(p) - 1 : 1;
	int rc = 0;
	if (p->is_paste) {
		if (k->kind == KEY_PASTE_END)
			p->is_paste = 0;
		else if (k->kind == KEY_CHAR)
			rc = edit(p, picker_line_insert(l, k->utf8, strlen(k->utf8)) == 0);
		else if (k->kind == KEY_TAB || k->kind == KEY_ENTER)
			rc = edit(p, picker_line_insert(l, " ", 1) == 0);
		return rc < 0 ? 2 : RUNNING;
	}
	switch (k->kind) {
	case KEY_CHAR:
		rc = edit(p, picker_line_insert(l, k->utf8, strlen(k->utf8)) == 0);
		break;
	case KEY_ENTER:
		return picker_daemon_accept(p);
	case KEY_ESC:
		return 130;
	case KEY_TAB:
	case KEY_BTAB:
		if (!p->o->is_multi)
			break;
		if (picker_daemon_mark(p) < 0)
			return 2;
		move_cursor(p, k->kind == KEY_TAB ? 1 : -1);
		p->is_dirty = 1;
		break;
	case KEY_BSPACE:
		rc = edit(p, picker_line_delete_backward(l));
		break;
	case KEY_ALT_BSPACE:
		rc = edit(p, picker_line_kill_word_backward(l));
		break;
	case KEY_DELETE:
		rc = edit(p, picker_line_delete_forward(l));
		break;
	case KEY_UP:
		move_up(p, 1);
		break;
	case KEY_DOWN:
		move_up(p, -1);
		break;
	case KEY_PGUP:
		move_up(p, page);
		break;
	case KEY_PGDN:
		move_up(p, -page);
		break;
	case KEY_LEFT:
		picker_line_left(l);
		p->is_dirty = 1;
		break;
	case KEY_RIGHT:
		picker_line_right(l);
		p->is_dirty = 1;
		break;
	case KEY_HOME:
		picker_line_start(l);
		p->is_dirty = 1;
		break;
	case KEY_END:
		picker_line_end(l);
		p->is_dirty = 1;
		break;
	case KEY_PASTE_BEGIN:
		p->is_paste = 1;
		break;
	case KEY_ALT:
		switch (k->cp) {
		case 'b':
			picker_line_word_left(l);
			p->is_dirty = 1;
			break;
		case 'f':
			picker_line_word_right(l);
			p->is_dirty = 1;
			break;
		case 'd':
			rc = edit(p, picker_line_kill_word_forward(l));
			break;
		default:
			break;
		}
		break;
	case KEY_CTRL:
		switch (k->cp) {
		case 'c':
		case 'g':
		case 'q':
			return 130;
		case 'k':
		case 'p':
			move_up(p, 1);
			break;
		case 'j':
		case 'n':
			move_up(p, -1);
			break;
		case 'a':
			picker_line_start(l);
			p->is_dirty = 1;
			break;
		case 'e':
			picker_line_end(l);
			p->is_dirty = 1;
			break;
		case 'b':
			picker_line_left(l);
			p->is_dirty = 1;
			break;
		case 'f':
			picker_line_right(l);
			p->is_dirty = 1;
			break;
		case 'u':
			rc = edit(p, picker_line_kill_to_start(l));
			break;
		case 'w':
			rc = edit(p, picker_line_rubout_word(l));
			break;
		case 'd':
			/* fzf's delete-char/eof: on an empty query, leave. */
			if (l->len == 0)
				return 130;
			rc = edit(p, picker_line_delete_forward(l));
			break;
		case 'l':
			p->is_dirty = 1;
			break;
		default:
			break;
		}
		break;
	default:
		break;
	}
	return rc < 0 ? 2 : RUNNING;
}

/* Decode and act on the buffered input. `is_final`: nothing more is coming now, so a lone
 * escape is the escape key. */
/* Whether the key acts on the results (picks, marks, moves among them). Such a key waits
 * until the answer to what was typed before it has come: enter right after typing picks
 * from the new results, not from the ones still on screen. */
static int is_on_results(const struct term_key *k)
{
	switch (k->kind) {
	case KEY_ENTER:
	case KEY_TAB:
	case KEY_BTAB:
	case KEY_UP:
	case KEY_DOWN:
	case KEY_PGUP:
	case KEY_PGDN:
		return 1;
	case KEY_CTRL:
		return k->cp == 'j' || k->cp == 'k' || k->cp == 'n' || k->cp == 'p';
	default:
		return 0;
	}
}

/* Whether keys on the results wait for the answer in flight: always when it is for a new
 * text; when it only brings more of the same text (the cursor neared the end, the index
 * grew), only once the cursor is on the last result there is, as the results shown stay
 * valid and a large answer can take long. */
static int is_answer_awaited(const struct picker *p)
{
	if (p->is_latest_done || !p->latest_id)
		return 0;
	return p->is_latest_new_text || p->cursor + 1 >= p->shown.n;
}

int picker_keys_on_input(struct picker *p, int is_final)
{
	size_t i = 0, n = 0;
	int status = RUNNING;
	struct term_key k;
	while (status == RUNNING && i < p->in_len &&
	       (n = term_key_decode(p->in + i, p->in_len - i, is_final, &k)) > 0) {
		if (!p->is_paste && is_on_results(&k)) {
			/* Near the end of the results: ask for more before moving on, as keys
			 * come in bursts (a held arrow key) faster than the loop goes round. */
			picker_daemon_refresh(p);
			if (is_answer_awaited(p))
				break; /* picker_daemon_read() calls again when the answer is in */
		}
		i += n;
		status = on_key(p, &k);
	}
	memmove(p->in, p->in + i, p->in_len - i);
	p->in_len -= i;
	/* Only a key cut short waits for a deadline; a key held back waits for an answer. */
	p->esc_deadline_ms = p->in_len && n == 0 ? picker_now_ms() + PICKER_ESC_TIMEOUT_MS : 0;
	return status;
}
