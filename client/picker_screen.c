/* picker_screen.c: the picker's place on the terminal: the alternate screen, or lines
 * made below the cursor (--height), set up, resized and taken down again so the terminal
 * is left as it was found. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "picker_impl.h"
#include "term_key.h"

static int put(struct picker *p, const char *s)
{
	return term_write(&p->term, s, strlen(s));
}

/* Wait for the terminal's answer to a cursor position request; keys typed meanwhile stay
 * in the input buffer. Returns 0 and the position, or -ETIMEDOUT. */
static int read_cursor_position(struct picker *p, int *row, int *col)
{
	if (term_write(&p->term, "\033[6n", 4) < 0)
		return -EIO;
	uint64_t deadline = picker_now_ms() + PICKER_CPR_TIMEOUT_MS;
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
		uint64_t now = picker_now_ms();
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
		picker_buf_csi(&p->frame, (size_t)p->height - 1, 'A');
	p->parked = 0;
	return p->frame.is_oom ? -ENOMEM : term_write(&p->term, p->frame.data, p->frame.len);
}

int picker_screen_open(struct picker *p)
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

void picker_screen_close(struct picker *p)
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
int picker_screen_open_or_fail(struct picker *p)
{
	int rc = picker_screen_open(p);
	if (rc == 0)
		return RUNNING;
	picker_screen_close(p);
	fprintf(stderr, "trawl: set up the terminal: %s\n", strerror(-rc));
	return 2;
}

int picker_screen_resize(struct picker *p)
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
