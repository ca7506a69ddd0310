/* query.c: the query parser. Whitespace separates terms (AND); a lone '|' joins terms
 * into an OR group; '!', '\'', '^' and a trailing '$' are operators; a backslash makes
 * the next byte literal. Each term is folded for the variant smart case picks. */
#include "query.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fold.h"
#include "tunables.h"

/* A token: its bytes with escapes resolved, which of them were escaped, and where it
 * starts in the query text (for error offsets). */
struct token {
	char *bytes;
	uint8_t *is_escaped;
	size_t len;
	size_t offset;
};

static int is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static void term_release(struct term *t)
{
	free(t->units);
	free(t->text);
	free(t->loose);
}

void trawl_query_free(struct trawl_query *q)
{
	if (!q)
		return;
	for (size_t g = 0; g < q->n_groups; g++) {
		for (size_t t = 0; t < q->groups[g].n_terms; t++)
			term_release(&q->groups[g].terms[t]);
		free(q->groups[g].terms);
	}
	free(q->groups);
	free(q);
}

static void *copy_of(const void *p, size_t n)
{
	void *c = malloc(n ? n : 1);
	if (c && n)
		memcpy(c, p, n);
	return c;
}

int query_copy(const struct trawl_query *q, struct trawl_query **out)
{
	struct trawl_query *c = calloc(1, sizeof(*c));
	*out = NULL;
	if (!c || !(c->groups = calloc(q->n_groups ? q->n_groups : 1, sizeof(*c->groups)))) {
		free(c);
		return -ENOMEM;
	}
	*c = (struct trawl_query){c->groups, 0, q->fold_mask, q->max_units, q->total_units};
	for (size_t g = 0; g < q->n_groups; g++, c->n_groups++) {
		const struct group *from = &q->groups[g];
		struct group *to = &c->groups[g];
		if (!(to->terms = calloc(from->n_terms ? from->n_terms : 1, sizeof(*to->terms)))) {
			trawl_query_free(c);
			return -ENOMEM;
		}
		for (size_t k = 0; k < from->n_terms; k++, to->n_terms++) {
			const struct term *a = &from->terms[k];
			struct term *b = &to->terms[k];
			*b = *a;
			b->units = copy_of(a->units, a->n_units * sizeof(*a->units));
			b->text = copy_of(a->text, a->text_len + 1);
			b->loose = copy_of(a->loose, a->loose_len + 1);
			if (!b->units || !b->text || !b->loose) {
				to->n_terms++;
				trawl_query_free(c);
				return -ENOMEM;
			}
		}
	}
	*out = c;
	return 0;
}

static int same_term(const struct term *a, const struct term *b)
{
	return a->kind == b->kind && a->fold_flags == b->fold_flags &&
	       a->is_negated == b->is_negated && a->n_units == b->n_units &&
	       !memcmp(a->units, b->units, a->n_units * sizeof(*a->units));
}

int query_narrows(const struct trawl_query *prev, const struct trawl_query *q)
{
	if (prev->n_groups == 0 || q->n_groups < prev->n_groups)
		return 0;
	for (size_t g = 0; g < prev->n_groups; g++) {
		const struct group *a = &prev->groups[g], *b = &q->groups[g];
		if (a->n_terms != b->n_terms)
			return 0;
		int is_same = 1;
		for (size_t k = 0; k < a->n_terms; k++)
			is_same &= same_term(&a->terms[k], &b->terms[k]);
		if (is_same)
			continue;
		/* Only the last group may have changed, and only as one positive term that
		 * grew at its end: what matches the longer term matches the shorter. */
		if (g + 1 != prev->n_groups || a->n_terms != 1)
			return 0;
		const struct term *s = &a->terms[0], *l = &b->terms[0];
		if (s->is_negated || l->is_negated || s->kind != l->kind ||
		    s->fold_flags != l->fold_flags || s->n_units > l->n_units ||
		    memcmp(s->units, l->units, s->n_units * sizeof(*s->units)) != 0)
			return 0;
		if (s->kind != TERM_FUZZY && s->kind != TERM_EXACT && s->kind != TERM_PREFIX)
			return 0;
	}
	return 1;
}

static int fail(struct trawl_query_error *err, size_t offset, const char *message)
{
	if (err) {
		err->offset_bytes = offset;
		err->message = message;
	}
	return -EINVAL;
}

/* Parse one token into a term. Returns 0, -EINVAL (with err) or -ENOMEM. */
static int term_parse(struct term *t, const struct token *tok, struct fold_buf *fb,
		      struct trawl_query_error *err)
{
	size_t p = 0, q = tok->len;
	int is_exact = 0, is_prefix = 0, is_suffix = 0;
	memset(t, 0, sizeof(*t));
	if (p < q && !tok->is_escaped[p] && tok->bytes[p] == '!') {
		t->is_negated = 1;
		p++;
	}
	if (p < q && !tok->is_escaped[p] && tok->bytes[p] == '\'') {
		is_exact = 1;
		p++;
	} else if (p < q && !tok->is_escaped[p] && tok->bytes[p] == '^') {
		is_prefix = 1;
		p++;
	}
	if (q > p && !tok->is_escaped[q - 1] && tok->bytes[q - 1] == '$') {
		is_suffix = 1;
		q--;
	}
	if (p == q)
		return fail(err, tok->offset,
			    t->is_negated && p == 1 ? "empty negation" : "operator without a term");

	if (is_prefix && is_suffix)
		t->kind = TERM_EQUAL;
	else if (is_prefix)
		t->kind = TERM_PREFIX;
	else if (is_suffix)
		t->kind = TERM_SUFFIX;
	else if (is_exact || t->is_negated)
		t->kind = TERM_EXACT; /* a negation is always exact, as in fzf */
	else
		t->kind = TERM_FUZZY;

	const char *text = tok->bytes + p;
	size_t len = q - p;
	if (fold_has_upper(text, len))
		t->fold_flags |= FOLD_KEEP_CASE;
	if (fold_has_mark(text, len))
		t->fold_flags |= FOLD_KEEP_MARKS;
	if (fold(fb, text, len, t->fold_flags) < 0)
		return -ENOMEM;
	if (fb->len == 0)
		return fail(err, tok->offset, "term has no character to match");
	if (fb->len > TERM_MAX_UNITS)
		return fail(err, tok->offset, "term too long");
	t->units = malloc(fb->len * sizeof(*t->units));
	t->text = malloc(len + 1);
	if (!t->units || !t->text) {
		term_release(t);
		return -ENOMEM;
	}
	memcpy(t->units, fb->units, fb->len * sizeof(*t->units));
	t->n_units = fb->len;
	memcpy(t->text, text, len);
	t->text[len] = '\0';
	t->text_len = len;
	long n = fold_loose_bytes(fb, text, len, NULL, 0);
	if (n < 0 || !(t->loose = malloc((size_t)n + 1))) {
		term_release(t);
		return -ENOMEM;
	}
	fold_loose_bytes(fb, text, len, t->loose, (size_t)n);
	t->loose_len = (size_t)n;
	return 0;
}

/* Read the next token from text[*i..len); returns 1 with a token, 0 at the end, or
 * -EINVAL for a backslash with nothing after it. tok's buffers hold len bytes. */
static int next_token(const char *text, size_t len, size_t *i, struct token *tok,
		      struct trawl_query_error *err)
{
	while (*i < len && is_blank((unsigned char)text[*i]))
		(*i)++;
	if (*i == len)
		return 0;
	tok->offset = *i;
	tok->len = 0;
	while (*i < len && !is_blank((unsigned char)text[*i])) {
		int is_escaped = text[*i] == '\\';
		if (is_escaped && ++(*i) == len)
			return fail(err, len - 1, "unterminated escape");
		tok->bytes[tok->len] = text[*i];
		tok->is_escaped[tok->len] = (uint8_t)is_escaped;
		tok->len++;
		(*i)++;
	}
	return 1;
}

static int group_append(struct group *g, const struct term *t)
{
	struct term *terms = realloc(g->terms, (g->n_terms + 1) * sizeof(*terms));
	if (!terms)
		return -ENOMEM;
	g->terms = terms;
	g->terms[g->n_terms++] = *t;
	return 0;
}

static int query_new_group(struct trawl_query *q)
{
	struct group *groups = realloc(q->groups, (q->n_groups + 1) * sizeof(*groups));
	if (!groups)
		return -ENOMEM;
	q->groups = groups;
	q->groups[q->n_groups].terms = NULL;
	q->groups[q->n_groups].n_terms = 0;
	q->n_groups++;
	return 0;
}

int trawl_query_parse(const char *text, size_t len, struct trawl_query **out,
		      struct trawl_query_error *err)
{
	*out = NULL;
	if (len > TRAWL_QUERY_MAX_BYTES)
		return -E2BIG;
	struct trawl_query *q = calloc(1, sizeof(*q));
	struct token tok = {.bytes = malloc(len + 1), .is_escaped = malloc(len + 1)};
	struct fold_buf fb;
	fold_buf_init(&fb);
	int rc = -ENOMEM;
	if (!q || !tok.bytes || !tok.is_escaped)
		goto err;

	size_t i = 0;
	int is_or_pending = 0;
	size_t or_offset = 0;
	while ((rc = next_token(text, len, &i, &tok, err)) > 0) {
		if (tok.len == 1 && tok.bytes[0] == '|' && !tok.is_escaped[0]) {
			if (q->n_groups == 0 || is_or_pending) {
				rc = fail(err, tok.offset, "'|' without a term before it");
				goto err;
			}
			is_or_pending = 1;
			or_offset = tok.offset;
			continue;
		}
		struct term t;
		if ((rc = term_parse(&t, &tok, &fb, err)) < 0)
			goto err;
		if (!is_or_pending && (rc = query_new_group(q)) < 0) {
			term_release(&t);
			goto err;
		}
		if ((rc = group_append(&q->groups[q->n_groups - 1], &t)) < 0) {
			term_release(&t);
			goto err;
		}
		is_or_pending = 0;
		q->fold_mask |= 1u << t.fold_flags;
		if (t.n_units > q->max_units)
			q->max_units = t.n_units;
		if (!t.is_negated)
			q->total_units += t.n_units;
	}
	if (rc < 0)
		goto err;
	if (is_or_pending) {
		rc = fail(err, or_offset, "'|' without a term after it");
		goto err;
	}
	free(tok.bytes);
	free(tok.is_escaped);
	fold_buf_release(&fb);
	*out = q;
	return 0;
err:
	free(tok.bytes);
	free(tok.is_escaped);
	fold_buf_release(&fb);
	trawl_query_free(q);
	return rc;
}
