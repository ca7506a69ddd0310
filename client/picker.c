/* picker.c: the picker's event loop: one poll() over the terminal, the daemon's socket and
 * a signal pipe. Every edit sends a query on the one connection (the daemon cancels the
 * older one); lines of any query but the latest are dropped, so typing never waits. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "picker_impl.h"
#include "term_key.h"

/* Results asked for first: a screenful with room to scroll. Scrolling near the end asks
 * again for PICKER_LIMIT_GROWTH times as many, up to the protocol's PICKER_LIMIT_MAX. */
#define PICKER_FIRST_LIMIT  200
#define PICKER_LIMIT_GROWTH 4
#define PICKER_LIMIT_MAX    10000
/* How often to ask the daemon's status: often while the first walk runs (the count and
 * the results grow), rarely after (only the total changes). */
#define PICKER_STATUS_WALKING_MS 250
#define PICKER_STATUS_READY_MS	 2000
/* A lone escape byte is the escape key when nothing follows it this soon; terminals send
 * a key's sequence in one write, so this only needs to cover a slow link. */
#define PICKER_ESC_TIMEOUT_MS 50
/* How long to wait for the terminal's cursor position report (inline mode only). */
#define PICKER_CPR_TIMEOUT_MS 500
/* How long to wait for the daemon to confirm the picks before exiting anyway. */
#define PICKER_PICK_TIMEOUT_MS 1000
/* Lines of the terminal used when --min-height is not given, as fzf. */
#define PICKER_MIN_HEIGHT 10

/* Ways out of the loop, besides an exit status. */
enum { RUNNING = -1 };

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void results_clear(struct picker_results *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		free(rs->items[i].path);
		free(rs->items[i].pos);
	}
	rs->n = 0;
	rs->matched = 0;
	rs->is_estimate = 0;
}

static void results_release(struct picker_results *rs)
{
	results_clear(rs);
	free(rs->items);
	memset(rs, 0, sizeof(*rs));
}

/* Add a result line to `rs`. Returns 0, -EPROTO for a line without a path, -ENOMEM. */
static int results_add(struct picker_results *rs, json_t *line)
{
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 256;
		struct picker_result *items = realloc(rs->items, cap * sizeof(*items));
		if (!items)
			return -ENOMEM;
		rs->items = items;
		rs->cap = cap;
	}
	struct picker_result *r = &rs->items[rs->n];
	memset(r, 0, sizeof(*r));
	int rc = conn_result_path(line, &r->path, &r->len);
	if (rc < 0)
		return rc;
	const char *type = json_string_value(json_object_get(line, "type"));
	r->type = type ? type[0] : 'f';
	json_t *pos = json_object_get(line, "positions");
	size_t n = json_is_array(pos) ? json_array_size(pos) : 0;
	if (n) {
		r->pos = malloc(n * sizeof(*r->pos));
		if (!r->pos) {
			free(r->path);
			return -ENOMEM;
		}
		for (size_t i = 0; i < n; i++) {
			json_int_t v = json_integer_value(json_array_get(pos, i));
			/* Drop what is out of order or out of range: they only highlight. */
			if (v >= 0 && (size_t)v < r->len &&
			    (r->n_pos == 0 || (uint32_t)v > r->pos[r->n_pos - 1]))
				r->pos[r->n_pos++] = (uint32_t)v;
		}
	}
	rs->n++;
	return 0;
}

static void marks_release(struct picker *p)
{
	for (size_t i = 0; i < p->n_marks; i++)
		free(p->marks[i].path);
	free(p->marks);
	p->marks = NULL;
	p->n_marks = p->cap_marks = 0;
}

/* Mark or unmark the current result. Returns 0 or -ENOMEM. */
static int toggle_mark(struct picker *p)
{
	if (p->cursor >= p->shown.n)
		return 0;
	const struct picker_result *r = &p->shown.items[p->cursor];
	for (size_t i = 0; i < p->n_marks; i++) {
		if (p->marks[i].len == r->len && !memcmp(p->marks[i].path, r->path, r->len)) {
			free(p->marks[i].path);
			memmove(&p->marks[i], &p->marks[i + 1],
				(p->n_marks - i - 1) * sizeof(*p->marks));
			p->n_marks--;
			return 0;
		}
	}
	if (p->n_marks == p->cap_marks) {
		size_t cap = p->cap_marks ? p->cap_marks * 2 : 16;
		struct picker_mark *marks = realloc(p->marks, cap * sizeof(*marks));
		if (!marks)
			return -ENOMEM;
		p->marks = marks;
		p->cap_marks = cap;
	}
	char *copy = malloc(r->len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, r->path, r->len + 1);
	p->marks[p->n_marks++] = (struct picker_mark){copy, r->len};
	return 0;
}

/* Send `req` (consumed). Returns the id (> 0) or -errno, which is also kept in
 * p->io_error for the loop to report. */
static long long send_request(struct picker *p, json_t *req)
{
	if (!req)
		return -ENOMEM;
	long long id = conn_request(&p->conn, req);
	json_decref(req);
	if (id < 0 && !p->io_error)
		p->io_error = (int)id;
	return id;
}

static int send_status(struct picker *p)
{
	long long id = send_request(p, json_pack("{s:s}", "op", "status"));
	if (id < 0)
		return (int)id;
	p->status_id = id;
	return 0;
}

/* Ask for the current query text. `is_new_text`: the text changed (the cursor goes back
 * to the best result when the answer comes); else the same text again, for more results
 * or a grown index. Returns 0 or -errno. */
static int send_query(struct picker *p, int is_new_text)
{
	json_t *req =
	    json_pack("{s:s, s:s%, s:I, s:b, s:b}", "op", "query", "query", p->line.text,
		      p->line.len, "limit", (json_int_t)p->limit, "positions", 1, "frecency", 1);
	if (req && p->o->type && json_object_set_new(req, "type", json_string(p->o->type)) < 0)
		req = (json_decref(req), NULL);
	if (req && p->o->under && conn_set_path(req, "under", p->o->under, strlen(p->o->under)) < 0)
		req = (json_decref(req), NULL);
	long long id = send_request(p, req);
	if (id < 0)
		return (int)id;
	p->latest_id = id;
	p->is_latest_done = 0;
	p->is_latest_while_ready = p->has_status && p->is_ready;
	p->is_latest_new_text |= is_new_text;
	p->entries_queried = p->entries;
	results_clear(&p->incoming);
	return 0;
}

/* Ask for a first page of results for the text. */
static int start_query(struct picker *p)
{
	p->limit = PICKER_FIRST_LIMIT;
	return send_query(p, 1);
}

/* The user changed the text: -1 and -0 no longer apply. */
static int query_changed(struct picker *p)
{
	p->is_auto_pending = 0;
	return start_query(p);
}

static int put(struct picker *p, const char *s)
{
	return term_write(&p->term, s, strlen(s));
}

/* ---------------------------------------------------------------------------------------
 * The screen
 */

/* Wait for the terminal's answer to a cursor position request; keys typed meanwhile stay
 * in the input buffer. Returns 0 and the position, or -ETIMEDOUT. */
static int read_cursor_position(struct picker *p, int *row, int *col)
{
	if (term_write(&p->term, "\033[6n", 4) < 0)
		return -EIO;
	uint64_t deadline = now_ms() + PICKER_CPR_TIMEOUT_MS;
	for (;;) {
		struct term_key k;
		size_t n;
		for (size_t i = 0; i < p->in_len; i += n) {
			n = term_key_decode(p->in + i, p->in_len - i, 0, &k);
			if (n == 0)
				break;
			if (k.kind == KEY_CPR) {
				*row = k.row;
				*col = k.col;
				memmove(p->in + i, p->in + i + n, p->in_len - i - n);
				p->in_len -= n;
				return 0;
			}
		}
		uint64_t now = now_ms();
		if (now >= deadline || p->in_len == sizeof(p->in))
			return -ETIMEDOUT;
		struct pollfd pfd = {.fd = p->term.fd, .events = POLLIN};
		if (poll(&pfd, 1, (int)(deadline - now)) <= 0)
			continue;
		ssize_t got = read(p->term.fd, p->in + p->in_len, sizeof(p->in) - p->in_len);
		if (got <= 0)
			return -ETIMEDOUT;
		p->in_len += (size_t)got;
	}
}

/* Make room for the UI below the cursor: newlines scroll the screen when it is too near
 * the bottom; then back up to the UI's first line. */
static int reserve_lines(struct picker *p)
{
	p->frame.len = 0;
	for (int i = 1; i < p->height; i++)
		picker_buf_puts(&p->frame, "\n");
	if (p->height > 1)
		picker_buf_printf(&p->frame, "\033[%dA", p->height - 1);
	p->parked = 0;
	return p->frame.is_oom ? -ENOMEM : term_write(&p->term, p->frame.data, p->frame.len);
}

static int ui_open(struct picker *p)
{
	int rc = term_raw(&p->term);
	if (rc < 0)
		return rc;
	term_size(&p->term);
	p->height = picker_height(p, p->term.rows);
	p->is_ui_open = 1;
	p->is_dirty = 1;
	/* Bracketed paste: pasted text is typed into the query, never taken as keys. */
	if (p->is_fullscreen)
		return put(p, "\033[?1049h\033[?2004h\033[H\033[2J");
	int row, col;
	if (read_cursor_position(p, &row, &col) == 0) {
		p->start_col = col;
		p->is_moved_down = col > 1;
	} else {
		/* Unknown column: begin on a fresh line, and stay there at the end. */
		p->start_col = 0;
		p->is_moved_down = 1;
	}
	rc = put(p, "\033[?2004h");
	if (rc == 0 && p->is_moved_down)
		rc = put(p, "\n");
	return rc < 0 ? rc : reserve_lines(p);
}

/* Erase the inline UI: back to its first line and clear to the end of the screen. */
static void erase_inline(struct picker *p)
{
	char buf[64];
	int n = p->parked > 0 ? snprintf(buf, sizeof(buf), "\r\033[%dA\033[J", p->parked)
			      : snprintf(buf, sizeof(buf), "\r\033[J");
	term_write(&p->term, buf, (size_t)n);
	p->parked = 0;
}

static void ui_close(struct picker *p)
{
	if (!p->is_ui_open)
		return;
	if (p->is_fullscreen) {
		put(p, "\033[?2004l\033[?25h\033[?1049l");
	} else {
		erase_inline(p);
		char buf[64];
		int n = 0;
		if (p->is_moved_down && p->start_col > 0)
			n = snprintf(buf, sizeof(buf), "\033[A\033[%dG", p->start_col);
		term_write(&p->term, buf, (size_t)n);
		put(p, "\033[?2004l\033[?25h");
	}
	term_restore(&p->term);
	p->is_ui_open = 0;
}

/* Open the UI, or say why not. Returns RUNNING or 2. */
static int ui_open_or_fail(struct picker *p)
{
	int rc = ui_open(p);
	if (rc == 0)
		return RUNNING;
	ui_close(p);
	fprintf(stderr, "trawl: set up the terminal: %s\n", strerror(-rc));
	return 2;
}

static int ui_resize(struct picker *p)
{
	term_size(&p->term);
	if (p->is_fullscreen) {
		p->height = picker_height(p, p->term.rows);
		p->is_dirty = 1;
		return put(p, "\033[H\033[2J");
	}
	erase_inline(p);
	p->height = picker_height(p, p->term.rows);
	p->is_dirty = 1;
	return reserve_lines(p);
}

/* ---------------------------------------------------------------------------------------
 * Leaving
 */

static int print_path(const char *path, size_t len, int is_print0)
{
	if (fwrite(path, 1, len, stdout) != len || putchar(is_print0 ? '\0' : '\n') == EOF)
		return -EIO;
	return 0;
}

/* Tell the daemon what was picked, and wait (briefly) until it has heard. */
static void send_picks(struct picker *p, const struct picker_mark *picks, size_t n)
{
	if (!p->is_latest_done && p->latest_id > 0) {
		/* A running query would hold the picks back until it ends. */
		send_request(
		    p, json_pack("{s:s, s:I}", "op", "cancel", "target", (json_int_t)p->latest_id));
	}
	long long last_id = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *req = json_pack("{s:s}", "op", "pick");
		if (req && conn_set_path(req, "path", picks[i].path, picks[i].len) < 0)
			req = (json_decref(req), NULL);
		long long id = send_request(p, req);
		if (id > 0)
			last_id = id;
	}
	uint64_t deadline = now_ms() + PICKER_PICK_TIMEOUT_MS;
	while (last_id > 0) {
		uint64_t now = now_ms();
		json_t *line = NULL;
		if (now >= deadline || conn_read(&p->conn, &line, (int)(deadline - now)) < 0)
			break;
		int is_last = json_integer_value(json_object_get(line, "id")) == last_id;
		json_decref(line);
		if (is_last)
			break;
	}
}

/* Print the picks (the marked paths, else the current one) and leave. Returns the exit
 * status. */
static int accept(struct picker *p)
{
	struct picker_mark current = {0}, *picks = p->marks;
	size_t n = p->n_marks;
	if (n == 0) {
		if (p->cursor >= p->shown.n) {
			ui_close(p);
			return 1;
		}
		current.path = p->shown.items[p->cursor].path;
		current.len = p->shown.items[p->cursor].len;
		picks = &current;
		n = 1;
	}
	ui_close(p);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = print_path(picks[i].path, picks[i].len, p->o->is_print0);
	if (rc == 0 && fflush(stdout) == EOF)
		rc = -EIO;
	if (rc < 0) {
		fprintf(stderr, "trawl: write: %s\n", strerror(errno ? errno : EIO));
		return 2;
	}
	send_picks(p, picks, n);
	return 0;
}

/* ---------------------------------------------------------------------------------------
 * Keys
 */

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
	return is_changed ? query_changed(p) : 0;
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
		return accept(p);
	case KEY_ESC:
		return 130;
	case KEY_TAB:
	case KEY_BTAB:
		if (!p->o->is_multi)
			break;
		if (toggle_mark(p) < 0)
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

static int on_input(struct picker *p, int is_final)
{
	size_t i = 0, n = 0;
	int status = RUNNING;
	struct term_key k;
	while (status == RUNNING && i < p->in_len &&
	       (n = term_key_decode(p->in + i, p->in_len - i, is_final, &k)) > 0) {
		if (!p->is_paste && is_on_results(&k) && !p->is_latest_done && p->latest_id)
			break; /* on_socket() calls again when the answer is in */
		i += n;
		status = on_key(p, &k);
	}
	memmove(p->in, p->in + i, p->in_len - i);
	p->in_len -= i;
	/* Only a key cut short waits for a deadline; a key held back waits for an answer. */
	p->esc_deadline_ms = p->in_len && n == 0 ? now_ms() + PICKER_ESC_TIMEOUT_MS : 0;
	return status;
}

/* ---------------------------------------------------------------------------------------
 * Answers from the daemon
 */

static void on_status(struct picker *p, json_t *line)
{
	p->status_id = 0;
	p->has_status = 1;
	p->is_ready = json_is_true(json_object_get(line, "ready"));
	p->entries = json_integer_value(json_object_get(line, "entries"));
	json_t *walk = json_object_get(line, "walk");
	p->walk_seen = json_integer_value(json_object_get(walk, "entries_seen"));
	p->next_status_ms =
	    now_ms() + (p->is_ready ? PICKER_STATUS_READY_MS : PICKER_STATUS_WALKING_MS);
	p->is_dirty = 1;
}

/* Apply -1 and -0 to the answer of the initial query. Returns RUNNING or an exit status. */
static int decide_auto(struct picker *p)
{
	p->is_auto_pending = 0;
	if (p->o->is_exit_0 && p->shown.matched == 0 && p->shown.n == 0) {
		ui_close(p);
		return 1;
	}
	if (p->o->is_select_1 && p->shown.n == 1 && p->shown.matched == 1 &&
	    !p->shown.is_estimate) {
		p->cursor = 0;
		return accept(p);
	}
	return RUNNING;
}

static int on_done(struct picker *p, json_t *line)
{
	struct picker_results tmp = p->shown;
	p->shown = p->incoming;
	p->incoming = tmp;
	results_clear(&p->incoming);
	p->shown.matched = json_integer_value(json_object_get(line, "matched"));
	p->shown.is_estimate = json_is_true(json_object_get(line, "matched_is_estimate"));
	p->is_latest_done = 1;
	p->error[0] = '\0';
	if (p->is_latest_new_text) {
		p->cursor = p->scroll = 0;
		p->is_latest_new_text = 0;
	}
	p->is_dirty = 1;
	if (p->is_auto_pending && p->is_latest_while_ready)
		return decide_auto(p);
	return RUNNING;
}

static int on_line(struct picker *p, json_t *line)
{
	json_t *id = json_object_get(line, "id");
	long long n = json_is_integer(id) ? json_integer_value(id) : -1;
	if (n > 0 && n == p->status_id) {
		if (!json_object_get(line, "error"))
			on_status(p, line);
		else
			p->status_id = 0;
		return RUNNING;
	}
	if (n != p->latest_id || p->is_latest_done)
		return RUNNING;
	const char *error = json_string_value(json_object_get(line, "error"));
	if (error) {
		snprintf(p->error, sizeof(p->error), "%s", error);
		p->is_latest_done = 1;
		p->is_auto_pending = 0;
		p->is_latest_new_text = 0;
		p->is_dirty = 1;
		return RUNNING;
	}
	if (json_is_true(json_object_get(line, "done")))
		return json_is_true(json_object_get(line, "cancelled")) ? RUNNING
									: on_done(p, line);
	int rc = results_add(&p->incoming, line);
	if (rc == -ENOMEM) {
		ui_close(p);
		fprintf(stderr, "trawl: %s\n", strerror(ENOMEM));
		return 2;
	}
	return RUNNING; /* a line without a path: ignore it, as unknown fields */
}

static int on_socket(struct picker *p)
{
	for (;;) {
		json_t *line = NULL;
		int rc = conn_read(&p->conn, &line, 0);
		if (rc == -EAGAIN)
			return RUNNING;
		if (rc < 0) {
			ui_close(p);
			if (rc == -EPIPE)
				fprintf(stderr, "trawl: trawld on '%s' closed the connection\n",
					p->sock_path);
			else if (rc == -EPROTO)
				fprintf(stderr,
					"trawl: trawld on '%s' sent a line that is not a JSON "
					"object\n",
					p->sock_path);
			else
				fprintf(stderr, "trawl: talking to trawld on '%s': %s\n",
					p->sock_path, strerror(-rc));
			return 2;
		}
		int status = on_line(p, line);
		json_decref(line);
		if (status != RUNNING)
			return status;
	}
}

/* After answers and status: ask again when the shown results are stale or too few. */
static int refresh(struct picker *p)
{
	if (!p->is_latest_done || p->latest_id == 0)
		return 0;
	/* The first walk is adding entries, or has just finished: ask again. */
	if (p->has_status && !p->is_ready && p->entries != p->entries_queried)
		return send_query(p, 0);
	if (p->has_status && p->is_ready && !p->is_latest_while_ready)
		return send_query(p, 0);
	/* Near the end of what was sent, and the daemon has more. */
	size_t rows = (size_t)picker_list_rows(p);
	if (p->is_ui_open && p->cursor + rows >= p->shown.n && p->shown.n >= p->limit &&
	    p->limit < PICKER_LIMIT_MAX && (long long)p->shown.n < p->shown.matched) {
		p->limit = p->limit * PICKER_LIMIT_GROWTH < PICKER_LIMIT_MAX
			       ? p->limit * PICKER_LIMIT_GROWTH
			       : PICKER_LIMIT_MAX;
		return send_query(p, 0);
	}
	return 0;
}

/* ---------------------------------------------------------------------------------------
 * The loop
 */

static int on_signal(struct picker *p, int signo)
{
	switch (signo) {
	case SIGWINCH:
		return p->is_ui_open && ui_resize(p) < 0 ? 2 : RUNNING;
	case SIGTSTP:
		if (p->is_ui_open) {
			ui_close(p);
			term_stop_self();
			return ui_open_or_fail(p);
		} else {
			term_stop_self();
		}
		return RUNNING;
	case SIGINT:
		return 130;
	default:
		return 128 + signo;
	}
}

static int loop(struct picker *p, int signal_fd)
{
	for (;;) {
		if (p->is_ui_open && p->is_dirty && picker_draw(p) < 0) {
			ui_close(p);
			fprintf(stderr, "trawl: write to the terminal: %s\n", strerror(errno));
			return 2;
		}
		/* Wake for the next status request (none while one is answered) or to
		 * decide a lone escape. */
		uint64_t now = now_ms(), wake = p->status_id ? UINT64_MAX : p->next_status_ms;
		if (p->esc_deadline_ms && p->esc_deadline_ms < wake)
			wake = p->esc_deadline_ms;
		int timeout = wake == UINT64_MAX     ? -1
			      : wake <= now	     ? 0
			      : wake - now > INT_MAX ? INT_MAX
						     : (int)(wake - now);
		struct pollfd fds[3] = {
		    {.fd = signal_fd, .events = POLLIN},
		    {.fd = p->conn.fd, .events = POLLIN},
		    /* a full input buffer (keys held back) is read when it drains */
		    {.fd = p->is_ui_open && p->in_len < sizeof(p->in) ? p->term.fd : -1,
		     .events = POLLIN},
		};
		if (poll(fds, 3, timeout) < 0 && errno != EINTR) {
			ui_close(p);
			fprintf(stderr, "trawl: poll: %s\n", strerror(errno));
			return 2;
		}
		int status = RUNNING, signo;
		while (status == RUNNING && (signo = term_signal_next()) > 0)
			status = on_signal(p, signo);
		if (status == RUNNING && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			status = on_socket(p);
			if (status == RUNNING && p->in_len && p->is_ui_open)
				status = on_input(p, 0); /* keys held back for this answer */
		}
		if (status == RUNNING && (fds[2].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t got =
			    read(p->term.fd, p->in + p->in_len, sizeof(p->in) - p->in_len);
			if (got > 0)
				p->in_len += (size_t)got;
			else if (got == 0 || (errno != EINTR && errno != EAGAIN))
				status = 129; /* the terminal hung up */
			if (status == RUNNING)
				status = on_input(p, p->in_len == sizeof(p->in));
		}
		now = now_ms();
		if (status == RUNNING && p->esc_deadline_ms && now >= p->esc_deadline_ms)
			status = on_input(p, 1);
		if (status == RUNNING && !p->status_id && now >= p->next_status_ms)
			send_status(p);
		if (status == RUNNING && p->has_status && p->latest_id == 0)
			start_query(p);
		/* -1 and -0 wait for the initial answer, unless the index is still being
		 * built: then the picker shows at once and they apply once it is ready. */
		if (status == RUNNING && !p->is_ui_open &&
		    (!p->is_auto_pending || (p->has_status && !p->is_ready)))
			status = ui_open_or_fail(p);
		if (status == RUNNING)
			refresh(p);
		if ((status == RUNNING || status == 2) && p->io_error) {
			ui_close(p);
			fprintf(stderr, "trawl: talking to trawld on '%s': %s\n", p->sock_path,
				strerror(-p->io_error));
			return 2;
		}
		if (status != RUNNING)
			return status;
	}
}

/* Parse --height: "N" lines or "N%" of the terminal. Returns 0 or -EINVAL. */
static int parse_height(struct picker *p, const char *spec)
{
	char *end;
	long v = strtol(spec, &end, 10);
	if (end == spec || v <= 0 || (*end && strcmp(end, "%") != 0) || (*end == '%' && v > 100) ||
	    v > 10000)
		return -EINVAL;
	p->is_height_percent = *end == '%';
	p->height_spec = (int)v;
	p->is_fullscreen = p->is_height_percent && v == 100;
	return 0;
}

int picker_run(const struct picker_options *o)
{
	struct picker *p = calloc(1, sizeof(*p));
	if (!p) {
		fprintf(stderr, "trawl: %s\n", strerror(ENOMEM));
		return 2;
	}
	int status = 2, signal_fd = -1;
	p->o = o;
	p->term.fd = -1;
	p->conn.fd = -1;
	p->is_fullscreen = 1;
	p->min_height = o->min_height > 0 ? o->min_height : PICKER_MIN_HEIGHT;
	if (o->height && parse_height(p, o->height) < 0) {
		fprintf(stderr, "trawl: --height: expected N or N%%, not '%s'\n", o->height);
		goto out;
	}
	if (o->query && !text_is_utf8(o->query, strlen(o->query))) {
		fputs("trawl: the query is not valid UTF-8\n", stderr);
		goto out;
	}
	picker_line_set(&p->line, o->query ? o->query : "");
	const char *no_color = getenv("NO_COLOR");
	p->is_color = !o->is_no_color && !(no_color && *no_color);
	picker_buf_init(&p->frame);

	int rc = term_open(&p->term);
	if (rc < 0) {
		fprintf(stderr, "trawl: open '/dev/tty': %s\n", strerror(-rc));
		goto out;
	}
	if (conn_socket_path(o->socket, p->sock_path, sizeof(p->sock_path)) < 0) {
		fprintf(stderr, "trawl: socket path too long: '%s'\n",
			o->socket ? o->socket : "$TRAWL_SOCKET");
		goto out;
	}
	if ((rc = conn_open(&p->conn, p->sock_path, o->start)) < 0) {
		char log[4096];
		if ((rc == -ECHILD || rc == -ETIMEDOUT) && conn_log_path(log, sizeof(log)) == 0)
			fprintf(stderr, "trawl: cannot connect to '%s': %s (see '%s')\n",
				p->sock_path,
				rc == -ECHILD ? "trawld did not start"
					      : "the trawld started did not answer",
				log);
		else
			fprintf(stderr, "trawl: cannot connect to '%s': %s\n", p->sock_path,
				strerror(-rc));
		goto out;
	}
	signal_fd = term_signals_install();
	if (signal_fd < 0) {
		fprintf(stderr, "trawl: pipe: %s\n", strerror(-signal_fd));
		goto out;
	}
	p->is_auto_pending = o->is_select_1 || o->is_exit_0;
	send_status(p);
	status = loop(p, signal_fd);
out:
	if (p->is_ui_open)
		ui_close(p);
	if (signal_fd >= 0)
		term_signals_uninstall();
	if (p->conn.fd >= 0)
		conn_close(&p->conn);
	if (p->term.fd >= 0)
		term_close(&p->term);
	results_release(&p->shown);
	results_release(&p->incoming);
	marks_release(p);
	picker_buf_release(&p->frame);
	free(p);
	return status;
}
