/* picker_line.c: editing the query line. The text stays valid UTF-8 and the cursor stays
 * on a character boundary: every command moves by whole characters. */
#include <errno.h>
#include <string.h>

#include "picker_line.h"

static int is_continuation(char c)
{
	return ((unsigned char)c & 0xc0) == 0x80;
}

/* Letters, digits and every non-ASCII byte make words; the rest separates them. */
static int is_word(char c)
{
	unsigned char u = (unsigned char)c;
	return u >= 0x80 || (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') ||
	       (u >= 'A' && u <= 'Z');
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static size_t prev_char(const struct picker_line *l, size_t i)
{
	if (i == 0)
		return 0;
	i--;
	while (i > 0 && is_continuation(l->text[i]))
		i--;
	return i;
}

static size_t next_char(const struct picker_line *l, size_t i)
{
	if (i >= l->len)
		return l->len;
	i++;
	while (i < l->len && is_continuation(l->text[i]))
		i++;
	return i;
}

/* Delete bytes [from, to) and leave the cursor at `from`. Returns whether anything went. */
static int delete_range(struct picker_line *l, size_t from, size_t to)
{
	if (from >= to)
		return 0;
	memmove(l->text + from, l->text + to, l->len - to + 1);
	l->len -= to - from;
	l->cursor = from;
	return 1;
}

static size_t word_start_before(const struct picker_line *l, size_t i)
{
	while (i > 0 && !is_word(l->text[i - 1]))
		i--;
	while (i > 0 && is_word(l->text[i - 1]))
		i--;
	return i;
}

static size_t word_end_after(const struct picker_line *l, size_t i)
{
	while (i < l->len && !is_word(l->text[i]))
		i++;
	while (i < l->len && is_word(l->text[i]))
		i++;
	return i;
}

void picker_line_set(struct picker_line *l, const char *s)
{
	size_t n = strlen(s);
	if (n > TRAWL_QUERY_MAX_BYTES) {
		n = TRAWL_QUERY_MAX_BYTES;
		while (n > 0 && is_continuation(s[n]))
			n--;
	}
	memcpy(l->text, s, n);
	l->text[n] = '\0';
	l->len = l->cursor = n;
}

int picker_line_insert(struct picker_line *l, const char *s, size_t n)
{
	if (n > TRAWL_QUERY_MAX_BYTES - l->len)
		return -E2BIG;
	memmove(l->text + l->cursor + n, l->text + l->cursor, l->len - l->cursor + 1);
	memcpy(l->text + l->cursor, s, n);
	l->len += n;
	l->cursor += n;
	return 0;
}

int picker_line_delete_backward(struct picker_line *l)
{
	return delete_range(l, prev_char(l, l->cursor), l->cursor);
}

int picker_line_delete_forward(struct picker_line *l)
{
	return delete_range(l, l->cursor, next_char(l, l->cursor));
}

int picker_line_kill_to_start(struct picker_line *l)
{
	return delete_range(l, 0, l->cursor);
}

int picker_line_kill_to_end(struct picker_line *l)
{
	return delete_range(l, l->cursor, l->len);
}

int picker_line_rubout_word(struct picker_line *l)
{
	size_t i = l->cursor;
	while (i > 0 && is_blank(l->text[i - 1]))
		i--;
	while (i > 0 && !is_blank(l->text[i - 1]))
		i--;
	return delete_range(l, i, l->cursor);
}

int picker_line_kill_word_backward(struct picker_line *l)
{
	return delete_range(l, word_start_before(l, l->cursor), l->cursor);
}

int picker_line_kill_word_forward(struct picker_line *l)
{
	size_t from = l->cursor;
	return delete_range(l, from, word_end_after(l, from));
}

void picker_line_left(struct picker_line *l)
{
	l->cursor = prev_char(l, l->cursor);
}

void picker_line_right(struct picker_line *l)
{
	l->cursor = next_char(l, l->cursor);
}

void picker_line_start(struct picker_line *l)
{
	l->cursor = 0;
}

void picker_line_end(struct picker_line *l)
{
	l->cursor = l->len;
}

void picker_line_word_left(struct picker_line *l)
{
	l->cursor = word_start_before(l, l->cursor);
}

void picker_line_word_right(struct picker_line *l)
{
	l->cursor = word_end_after(l, l->cursor);
}
