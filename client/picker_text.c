/* picker_text.c: measuring, cutting and painting paths for the terminal. Columns come
 * from utf8proc so CJK names line up; nothing a path holds reaches the terminal raw. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "picker_text.h"

static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
static const char ellipsis[] = "\xe2\x80\xa6";	  /* U+2026 */

void picker_buf_init(struct picker_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void picker_buf_release(struct picker_buf *b)
{
	free(b->data);
	picker_buf_init(b);
}

static int grow(struct picker_buf *b, size_t n)
{
	if (b->is_oom)
		return -1;
	if (b->len + n <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + n)
		cap *= 2;
	char *data = realloc(b->data, cap);
	if (!data) {
		b->is_oom = 1;
		return -1;
	}
	b->data = data;
	b->cap = cap;
	return 0;
}

void picker_buf_add(struct picker_buf *b, const char *s, size_t n)
{
	if (n == 0 || grow(b, n) < 0)
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
}

void picker_buf_puts(struct picker_buf *b, const char *s)
{
	picker_buf_add(b, s, strlen(s));
}

void picker_buf_csi(struct picker_buf *b, size_t n, char final)
{
	char digits[24];
	size_t i = sizeof(digits);
	do {
		digits[--i] = (char)('0' + n % 10);
		n /= 10;
	} while (n);
	picker_buf_add(b, "\033[", 2);
	picker_buf_add(b, digits + i, sizeof(digits) - i);
	picker_buf_add(b, &final, 1);
}

static int is_hidden_category(utf8proc_int32_t cp)
{
	switch (utf8proc_category(cp)) {
	case UTF8PROC_CATEGORY_CC:
	case UTF8PROC_CATEGORY_CF:
	case UTF8PROC_CATEGORY_ZL:
	case UTF8PROC_CATEGORY_ZP:
		return 1;
	default:
		return 0;
	}
}

void text_char_at(const char *s, size_t len, size_t i, struct text_char *c)
{
	const unsigned char *u = (const unsigned char *)s + i;
	if (*u < 0x80) {
		c->n_bytes = 1;
		c->width = 1;
		c->shown = *u < 0x20 || *u == 0x7f ? "?" : s + i;
		c->shown_len = 1;
		return;
	}
	utf8proc_int32_t cp;
	utf8proc_ssize_t n = utf8proc_iterate(u, (utf8proc_ssize_t)(len - i), &cp);
	if (n <= 0) {
		c->n_bytes = 1;
		c->width = 1;
		c->shown = replacement;
		c->shown_len = sizeof(replacement) - 1;
		return;
	}
	c->n_bytes = (size_t)n;
	if (is_hidden_category(cp)) {
		c->width = 1;
		c->shown = "?";
		c->shown_len = 1;
		return;
	}
	int w = utf8proc_charwidth(cp);
	c->width = w < 0 ? 0 : w > 2 ? 2 : w;
	c->shown = s + i;
	c->shown_len = (size_t)n;
}

int text_is_utf8(const char *s, size_t len)
{
	const utf8proc_uint8_t *u = (const utf8proc_uint8_t *)s;
	for (size_t i = 0; i < len;) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t n = utf8proc_iterate(u + i, (utf8proc_ssize_t)(len - i), &cp);
		if (n <= 0)
			return 0;
		i += (size_t)n;
	}
	return 1;
}

size_t text_width(const char *s, size_t len)
{
	size_t w = 0;
	struct text_char c;
	for (size_t i = 0; i < len; i += c.n_bytes) {
		text_char_at(s, len, i, &c);
		w += (size_t)c.width;
	}
	return w;
}

void text_fit(const char *s, size_t len, size_t width, struct text_fit *f)
{
	f->from = 0;
	f->to = len;
	f->is_cut_left = f->is_cut_right = 0;
	size_t total = text_width(s, len);
	if (total <= width)
		return;
	if (width == 0) {
		f->from = f->to = len;
		return;
	}
	size_t base = len;
	while (base > 0 && s[base - 1] != '/')
		base--;
	struct text_char c;
	if (text_width(s + base, len - base) <= width - 1) {
		/* Drop characters from the left until the rest fits beside the "…". */
		size_t i = 0, rest = total;
		while (rest > width - 1) {
			text_char_at(s, len, i, &c);
			rest -= (size_t)c.width;
			i += c.n_bytes;
		}
		/* A combining mark cut from its base would sit on the "…". */
		for (; i < len; i += c.n_bytes) {
			text_char_at(s, len, i, &c);
			if (c.width > 0)
				break;
		}
		f->from = i;
		f->is_cut_left = 1;
		return;
	}
	/* The basename alone is too wide: show its start. */
	f->from = base;
	f->is_cut_left = base > 0;
	f->is_cut_right = 1;
	if (width < 2 + (size_t)f->is_cut_left) {
		f->is_cut_left = 0; /* room for one "…" only */
		f->to = f->from;
		return;
	}
	size_t room = width - 1 - (size_t)f->is_cut_left, used = 0, i = base;
	for (; i < len; i += c.n_bytes) {
		text_char_at(s, len, i, &c);
		if (used + (size_t)c.width > room)
			break;
		used += (size_t)c.width;
	}
	f->to = i;
}

size_t text_paint(struct picker_buf *b, const char *s, size_t len, const struct text_fit *f,
		  const uint32_t *pos, size_t n_pos, const char *hl_on, const char *hl_off)
{
	size_t cols = 0, k = 0;
	int is_lit = 0;
	if (f->is_cut_left) {
		picker_buf_puts(b, ellipsis);
		cols++;
	}
	struct text_char c;
	for (size_t i = f->from; i < f->to; i += c.n_bytes) {
		text_char_at(s, len, i, &c);
		while (k < n_pos && pos[k] < i)
			k++;
		int is_match = k < n_pos && pos[k] < i + c.n_bytes;
		if (is_match != is_lit) {
			picker_buf_puts(b, is_match ? hl_on : hl_off);
			is_lit = is_match;
		}
		picker_buf_add(b, c.shown, c.shown_len);
		cols += (size_t)c.width;
	}
	if (is_lit)
		picker_buf_puts(b, hl_off);
	if (f->is_cut_right) {
		picker_buf_puts(b, ellipsis);
		cols++;
	}
	return cols;
}
