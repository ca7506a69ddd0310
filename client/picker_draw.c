/* picker_draw.c: one frame of the picker, built in memory and written at once. Only the
 * lines on screen are painted, so a frame costs the same for 10 matches or 8 million. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "picker_impl.h"

/* Columns before each result: the pointer ('>' on the current one) and the mark ('*'). */
#define GUTTER_COLS 2

struct style {
	const char *prompt, *pointer, *mark, *current, *hl, *hl_current, *info, *error;
};

static const struct style colored = {
    .prompt = "\033[1;34m",
    .pointer = "\033[1;31m",
    .mark = "\033[1;35m",
    .current = "\033[1m",
    .hl = "\033[32m",
    .hl_current = "\033[1;32m",
    .info = "\033[33m",
    .error = "\033[31m",
};

/* NO_COLOR: attributes only; matches underlined. */
static const struct style plain = {
    .prompt = "\033[1m",
    .pointer = "\033[1m",
    .mark = "\033[1m",
    .current = "\033[1m",
    .hl = "\033[4m",
    .hl_current = "\033[1;4m",
    .info = "",
    .error = "\033[1m",
};

void picker_format_count(long long n, char *buf, size_t cap)
{
	/* Truncated, not rounded: "99.9k", never "100.0k". */
	if (n < 10000)
		snprintf(buf, cap, "%lld", n);
	else if (n < 100000)
		snprintf(buf, cap, "%lld.%lldk", n / 1000, n / 100 % 10);
	else if (n < 1000000)
		snprintf(buf, cap, "%lldk", n / 1000);
	else if (n < 10000000)
		snprintf(buf, cap, "%lld.%lldM", n / 1000000, n / 100000 % 10);
	else if (n < 1000000000)
		snprintf(buf, cap, "%lldM", n / 1000000);
	else
		snprintf(buf, cap, "%lld.%lldG", n / 1000000000, n / 100000000 % 10);
}

int picker_height(const struct picker *p, int rows)
{
	if (p->is_fullscreen)
		return rows;
	int h = p->height_spec;
	if (p->is_height_percent) {
		h = rows * p->height_spec / 100;
		if (h < p->min_height)
			h = p->min_height;
	}
	/* The prompt, the info line and at least one result. */
	if (h < 3)
		h = 3;
	return h < rows ? h : rows;
}

int picker_list_rows(const struct picker *p)
{
	return p->height > 2 ? p->height - 2 : 0;
}

static int prompt_line(const struct picker *p)
{
	return p->o->is_reverse ? 0 : p->height - 1;
}

static int info_line(const struct picker *p)
{
	return p->o->is_reverse ? 1 : p->height - 2;
}

/* The result shown on screen line `line`, or -1 for a line without one. */
static long result_at_line(const struct picker *p, int line)
{
	int row = p->o->is_reverse ? line - 2 : p->height - 3 - line;
	if (row < 0 || row >= picker_list_rows(p))
		return -1;
	size_t i = p->scroll + (size_t)row;
	return i < p->shown.n ? (long)i : -1;
}

static int is_marked(const struct picker *p, const struct picker_result *r)
{
	for (size_t i = 0; i < p->n_marks; i++)
		if (p->marks[i].len == r->len && !memcmp(p->marks[i].path, r->path, r->len))
			return 1;
	return 0;
}

static size_t text_cols(const struct picker *p)
{
	/* The last column stays empty: a line that fills it would leave the terminal in its
	 * pending-wrap state, where erasing the rest of the line eats the last character. */
	return p->term.cols > GUTTER_COLS + 2 ? (size_t)p->term.cols - GUTTER_COLS - 1 : 1;
}

/* The query after the prompt, scrolled so the cursor shows. Returns the cursor's column. */
static size_t draw_prompt(struct picker *p, const struct style *st)
{
	const struct picker_line *l = &p->line;
	size_t avail = text_cols(p), start = 0, w = text_width(l->text, l->cursor);
	struct text_char c;
	while (w > avail && start < l->cursor) {
		text_char_at(l->text, l->len, start, &c);
		w -= (size_t)c.width;
		start += c.n_bytes;
	}
	picker_buf_puts(&p->frame, st->prompt);
	picker_buf_puts(&p->frame, ">\033[0m ");
	size_t used = 0;
	for (size_t i = start; i < l->len; i += c.n_bytes) {
		text_char_at(l->text, l->len, i, &c);
		if (used + (size_t)c.width > avail)
			break;
		picker_buf_add(&p->frame, c.shown, c.shown_len);
		used += (size_t)c.width;
	}
	return GUTTER_COLS + w;
}

static void draw_info(struct picker *p, const struct style *st)
{
	char matched[16], total[16], seen[16], line[256];
	int n = 0;
	line[0] = '\0';
	if (p->error[0]) {
		n = snprintf(line, sizeof(line), "  %s", p->error);
	} else if (p->is_latest_done || p->shown.n || p->shown.matched) {
		picker_format_count(p->shown.matched, matched, sizeof(matched));
		picker_format_count(p->entries, total, sizeof(total));
		n = snprintf(line, sizeof(line), "  %s%s%s%s", p->shown.is_estimate ? "~" : "",
			     matched, p->has_status ? "/" : "", p->has_status ? total : "");
	}
	if (p->o->is_multi && p->n_marks && n >= 0 && (size_t)n < sizeof(line))
		n += snprintf(line + n, sizeof(line) - (size_t)n, " (%zu)", p->n_marks);
	if (p->has_status && !p->is_ready && n >= 0 && (size_t)n < sizeof(line)) {
		picker_format_count(p->walk_seen > p->entries ? p->walk_seen : p->entries, seen,
				    sizeof(seen));
		n +=
		    snprintf(line + n, sizeof(line) - (size_t)n, "  indexing %s\xe2\x80\xa6", seen);
	}
	size_t len = n < 0 ? 0 : (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	size_t avail = text_cols(p) + GUTTER_COLS, used = 0, to = 0;
	struct text_char c;
	for (; to < len; to += c.n_bytes) {
		text_char_at(line, len, to, &c);
		if (used + (size_t)c.width > avail)
			break;
		used += (size_t)c.width;
	}
	picker_buf_puts(&p->frame, p->error[0] ? st->error : st->info);
	picker_buf_add(&p->frame, line, to);
}

static void draw_result(struct picker *p, const struct style *st, size_t i)
{
	const struct picker_result *r = &p->shown.items[i];
	int is_current = i == p->cursor;
	int is_mark = p->o->is_multi && is_marked(p, r);
	picker_buf_puts(&p->frame, is_current ? st->pointer : "");
	picker_buf_puts(&p->frame, is_current ? ">\033[0m" : " ");
	picker_buf_puts(&p->frame, is_mark ? st->mark : "");
	picker_buf_puts(&p->frame, is_mark ? "*\033[0m" : " ");
	char hl_off[32];
	snprintf(hl_off, sizeof(hl_off), "\033[0m%s", is_current ? st->current : "");
	if (is_current)
		picker_buf_puts(&p->frame, st->current);
	struct text_fit f;
	text_fit(r->path, r->len, text_cols(p), &f);
	text_paint(&p->frame, r->path, r->len, &f, r->pos, r->n_pos,
		   is_current ? st->hl_current : st->hl, hl_off);
}

int picker_draw(struct picker *p)
{
	const struct style *st = p->is_color ? &colored : &plain;
	size_t rows = (size_t)picker_list_rows(p);
	if (p->shown.n && p->cursor >= p->shown.n)
		p->cursor = p->shown.n - 1;
	if (p->cursor < p->scroll)
		p->scroll = p->cursor;
	if (rows && p->cursor >= p->scroll + rows)
		p->scroll = p->cursor - rows + 1;

	p->frame.len = 0;
	picker_buf_puts(&p->frame, "\033[?25l");
	if (p->is_fullscreen)
		picker_buf_puts(&p->frame, "\033[H");
	else if (p->parked > 0) {
		picker_buf_puts(&p->frame, "\r");
		picker_buf_csi(&p->frame, (size_t)p->parked, 'A');
	} else
		picker_buf_puts(&p->frame, "\r");
	size_t cursor_col = 0;
	for (int line = 0; line < p->height; line++) {
		if (line > 0)
			picker_buf_puts(&p->frame, "\r\n");
		long i;
		if (line == prompt_line(p))
			cursor_col = draw_prompt(p, st);
		else if (line == info_line(p))
			draw_info(p, st);
		else if ((i = result_at_line(p, line)) >= 0)
			draw_result(p, st, (size_t)i);
		picker_buf_puts(&p->frame, "\033[0m\033[K");
	}
	int up = p->height - 1 - prompt_line(p);
	if (up > 0)
		picker_buf_csi(&p->frame, (size_t)up, 'A');
	picker_buf_puts(&p->frame, "\r");
	if (cursor_col > 0)
		picker_buf_csi(&p->frame, cursor_col, 'C');
	picker_buf_puts(&p->frame, "\033[?25h");
	p->parked = prompt_line(p);
	if (p->frame.is_oom)
		return -ENOMEM;
	p->is_dirty = 0;
	return term_write(&p->term, p->frame.data, p->frame.len);
}
