/* fold.c: Unicode normalization with utf8proc for matching: case folding, compatibility
 * decomposition and mark stripping, per character cluster so every unit keeps the byte
 * offset of the character it came from. Invalid UTF-8 bytes pass through as raw units. */
#include "fold.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* A cluster is a starter and the combining marks after it. Decomposition is done per
 * cluster so canonical reordering and composition see all of it; clusters longer than
 * this many bytes (pathological mark runs) are cut, which only changes how marks of such
 * a run compose, never whether the fold terminates. */
#define CLUSTER_MAX_BYTES 64
/* utf8proc's longest decomposition of one code point is 18 code points (U+FDFA). */
#define CLUSTER_MAX_UNITS ((utf8proc_ssize_t)CLUSTER_MAX_BYTES * 18)

void fold_buf_init(struct fold_buf *b)
{
	b->units = NULL;
	b->offsets = NULL;
	b->classes = NULL;
	b->len = 0;
	b->cap = 0;
}

void fold_buf_release(struct fold_buf *b)
{
	free(b->units);
	free(b->offsets);
	free(b->classes);
	fold_buf_init(b);
}

static int fold_buf_reserve(struct fold_buf *b, size_t need)
{
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	uint32_t *units = realloc(b->units, cap * sizeof(*units));
	if (units)
		b->units = units;
	uint32_t *offsets = realloc(b->offsets, cap * sizeof(*offsets));
	if (offsets)
		b->offsets = offsets;
	uint8_t *classes = realloc(b->classes, cap * sizeof(*classes));
	if (classes)
		b->classes = classes;
	if (!units || !offsets || !classes)
		return -ENOMEM;
	b->cap = cap;
	return 0;
}

static uint8_t ascii_class(unsigned c)
{
	if (c >= 'a' && c <= 'z')
		return CLASS_LOWER;
	if (c >= 'A' && c <= 'Z')
		return CLASS_UPPER;
	if (c >= '0' && c <= '9')
		return CLASS_DIGIT;
	if (c == '/')
		return CLASS_SLASH;
	return CLASS_DELIM;
}

static int is_mark(utf8proc_int32_t cp)
{
	utf8proc_category_t cat = utf8proc_category(cp);
	return cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_MC ||
	       cat == UTF8PROC_CATEGORY_ME;
}

static uint8_t unicode_class(utf8proc_int32_t cp)
{
	if (cp < 0x80)
		return ascii_class((unsigned)cp);
	switch (utf8proc_category(cp)) {
	case UTF8PROC_CATEGORY_LU:
	case UTF8PROC_CATEGORY_LT:
		return CLASS_UPPER;
	case UTF8PROC_CATEGORY_LL:
		return CLASS_LOWER;
	case UTF8PROC_CATEGORY_ND:
		return CLASS_DIGIT;
	case UTF8PROC_CATEGORY_ZS:
	case UTF8PROC_CATEGORY_PC:
	case UTF8PROC_CATEGORY_PD:
	case UTF8PROC_CATEGORY_PS:
	case UTF8PROC_CATEGORY_PE:
	case UTF8PROC_CATEGORY_PI:
	case UTF8PROC_CATEGORY_PF:
	case UTF8PROC_CATEGORY_PO:
		return CLASS_DELIM;
	default:
		return CLASS_LETTER;
	}
}

static void push(struct fold_buf *b, uint32_t unit, size_t offset, uint8_t cls)
{
	b->units[b->len] = unit;
	b->offsets[b->len] = (uint32_t)offset;
	b->classes[b->len] = cls;
	b->len++;
}

/* Length in bytes of the cluster starting at s[i]: one code point (`first_len` bytes)
 * and the combining marks that follow it. */
static size_t cluster_len(const uint8_t *s, size_t len, size_t i, size_t first_len)
{
	size_t j = i + first_len;
	while (j < len && s[j] >= 0x80 && j - i < CLUSTER_MAX_BYTES) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t n = utf8proc_iterate(s + j, (utf8proc_ssize_t)(len - j), &cp);
		if (n < 0 || !is_mark(cp) || j + (size_t)n - i > CLUSTER_MAX_BYTES)
			break;
		j += (size_t)n;
	}
	return j - i;
}

int fold(struct fold_buf *b, const char *str, size_t len, unsigned flags)
{
	const uint8_t *s = (const uint8_t *)str;
	const int keep_case = flags & FOLD_KEEP_CASE;
	const int keep_marks = flags & FOLD_KEEP_MARKS;
	utf8proc_option_t options = UTF8PROC_DECOMPOSE;
	if (!keep_case)
		options |= UTF8PROC_CASEFOLD;
	if (!keep_marks)
		options |= UTF8PROC_COMPAT | UTF8PROC_STRIPMARK | UTF8PROC_IGNORE;

	b->len = 0;
	/* Most names are ASCII: one unit per byte. Reserve for that and grow if a cluster
	 * expands further, always keeping room for the rest of the input at one unit a byte
	 * (the ASCII path below does not check). */
	if (fold_buf_reserve(b, len + 1) < 0)
		goto nomem;
	size_t i = 0;
	while (i < len) {
		unsigned c = s[i];
		/* An ASCII character stands alone unless a combining mark follows it (NFD
		 * spelling) and marks are kept: then it starts a cluster to compose. A '/'
		 * always stands alone, so a path folds as its components do. */
		if (c < 0x80 && (!keep_marks || i + 1 == len || s[i + 1] < 0x80 || c == '/')) {
			unsigned unit = c;
			if (!keep_case && c >= 'A' && c <= 'Z')
				unit = c + ('a' - 'A');
			push(b, unit, i, ascii_class(c));
			i++;
			continue;
		}
		utf8proc_int32_t cp;
		utf8proc_ssize_t n = utf8proc_iterate(s + i, (utf8proc_ssize_t)(len - i), &cp);
		if (n < 0) {
			if (fold_buf_reserve(b, b->len + 1) < 0)
				goto nomem;
			push(b, FOLD_RAW_BYTE_BASE + c, i, CLASS_LETTER);
			i++;
			continue;
		}
		size_t clen = cluster_len(s, len, i, (size_t)n);
		utf8proc_int32_t tmp[CLUSTER_MAX_UNITS];
		utf8proc_ssize_t k = utf8proc_decompose(s + i, (utf8proc_ssize_t)clen, tmp,
							CLUSTER_MAX_UNITS, options);
		if (k >= 0 && k <= CLUSTER_MAX_UNITS && keep_marks)
			k = utf8proc_normalize_utf32(tmp, k, UTF8PROC_COMPOSE);
		if (k < 0 || k > CLUSTER_MAX_UNITS) {
			/* Cannot happen for valid UTF-8 within the bounds above; keep the bytes
			 * rather than lose the name. */
			if (fold_buf_reserve(b, b->len + clen) < 0)
				goto nomem;
			for (size_t j = 0; j < clen; j++)
				push(b, FOLD_RAW_BYTE_BASE + s[i + j], i + j, CLASS_LETTER);
			i += clen;
			continue;
		}
		if (fold_buf_reserve(b, b->len + (size_t)k + (len - i - clen) + 1) < 0)
			goto nomem;
		uint8_t cls = unicode_class(cp);
		for (utf8proc_ssize_t j = 0; j < k; j++)
			push(b, (uint32_t)tmp[j], i, cls);
		i += clen;
	}
	return 0;
nomem:
	b->len = 0;
	return -ENOMEM;
}

long fold_loose_bytes(struct fold_buf *b, const char *s, size_t len, char *out, size_t cap)
{
	/* ASCII folds byte for byte to its lowercase: most names are ASCII, and looking one up
	 * (an incremental walk looks up every directory) should not pay for full folding. */
	size_t ascii = 0;
	while (ascii < len && (unsigned char)s[ascii] < 0x80)
		ascii++;
	if (ascii == len) {
		for (size_t j = 0; j < len && j < cap; j++)
			out[j] = s[j] >= 'A' && s[j] <= 'Z' ? (char)(s[j] + ('a' - 'A')) : s[j];
		return (long)len;
	}
	if (fold(b, s, len, 0) < 0)
		return -ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < b->len; i++) {
		uint32_t u = b->units[i];
		if (u < 0x80) {
			if (n < cap)
				out[n] = (char)u;
			n++;
			continue;
		}
		unsigned char enc[4];
		size_t k;
		if (u >= FOLD_RAW_BYTE_BASE) {
			enc[0] = (unsigned char)(u - FOLD_RAW_BYTE_BASE);
			k = 1;
		} else {
			k = (size_t)utf8proc_encode_char((utf8proc_int32_t)u, enc);
		}
		if (n + k <= cap)
			memcpy(out + n, enc, k);
		n += k;
	}
	return (long)n;
}

int fold_is_ascii_subsequence(const char *loose, size_t n, const char *s, size_t len)
{
	size_t j = 0;
	for (size_t i = 0; i < n; i++, j++) {
		unsigned char c = (unsigned char)loose[i];
		while (j < len) {
			unsigned char b = (unsigned char)s[j];
			if (b >= 'A' && b <= 'Z')
				b += 'a' - 'A';
			if (b == c)
				break;
			j++;
		}
		if (j >= len)
			return 0;
	}
	return 1;
}

int fold_has_upper(const char *str, size_t len)
{
	const uint8_t *s = (const uint8_t *)str;
	size_t i = 0;
	while (i < len) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t n = utf8proc_iterate(s + i, (utf8proc_ssize_t)(len - i), &cp);
		if (n < 0) {
			i++;
			continue;
		}
		if (unicode_class(cp) == CLASS_UPPER)
			return 1;
		i += (size_t)n;
	}
	return 0;
}

int fold_has_mark(const char *str, size_t len)
{
	const uint8_t *s = (const uint8_t *)str;
	size_t i = 0;
	while (i < len) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t n = utf8proc_iterate(s + i, (utf8proc_ssize_t)(len - i), &cp);
		if (n < 0) {
			i++;
			continue;
		}
		i += (size_t)n;
		if (cp < 0x80)
			continue;
		utf8proc_int32_t tmp[CLUSTER_MAX_UNITS];
		int boundclass = 0;
		utf8proc_ssize_t k = utf8proc_decompose_char(cp, tmp, CLUSTER_MAX_UNITS,
							     UTF8PROC_DECOMPOSE, &boundclass);
		for (utf8proc_ssize_t j = 0; j < k && j < CLUSTER_MAX_UNITS; j++)
			if (is_mark(tmp[j]))
				return 1;
	}
	return 0;
}
