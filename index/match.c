/* match.c: a query against a path: fold the path once per variant the query needs,
 * score each term, combine (AND of groups, OR within), report positions as byte offsets,
 * and order results. Owns the per-thread scratch memory (struct trawl_matcher). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fold.h"
#include "query.h"
#include "score.h"
#include "tunables.h"
#include "trawl_index.h"

struct variant {
	struct fold_buf fold;
	int8_t *bonus;
	size_t bonus_cap;
	struct subject subject;
};

struct trawl_matcher {
	struct variant variants[FOLD_VARIANTS];
	struct score_scratch scratch;
	uint32_t *positions; /* unit indices of one term, then byte offsets of all */
	size_t positions_cap;
};

struct trawl_matcher *trawl_matcher_new(void)
{
	struct trawl_matcher *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	for (int v = 0; v < FOLD_VARIANTS; v++)
		fold_buf_init(&m->variants[v].fold);
	return m;
}

void trawl_matcher_free(struct trawl_matcher *m)
{
	if (!m)
		return;
	for (int v = 0; v < FOLD_VARIANTS; v++) {
		fold_buf_release(&m->variants[v].fold);
		free(m->variants[v].bonus);
	}
	free(m->scratch.d);
	free(m->scratch.g);
	free(m->positions);
	free(m);
}

/* Fold the path for variant v and derive what scoring needs. */
static int prepare_variant(struct variant *var, unsigned v, const char *path, size_t len)
{
	int rc = fold(&var->fold, path, len, v);
	if (rc < 0)
		return rc;
	if (var->bonus_cap < var->fold.len) {
		int8_t *bonus = realloc(var->bonus, var->fold.cap);
		if (!bonus)
			return -ENOMEM;
		var->bonus = bonus;
		var->bonus_cap = var->fold.cap;
	}
	score_bonuses(var->bonus, var->fold.classes, var->fold.len);
	var->subject.units = var->fold.units;
	var->subject.bonus = var->bonus;
	var->subject.len = var->fold.len;
	score_locate_name(&var->subject);
	return 0;
}

static int prepare(struct trawl_matcher *m, const struct trawl_query *q, const char *path,
		   size_t len)
{
	for (unsigned v = 0; v < FOLD_VARIANTS; v++) {
		if (!(q->fold_mask & (1u << v)))
			continue;
		int rc = prepare_variant(&m->variants[v], v, path, len);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Grow the programme's scratch for the query's longest term against this path. A
 * failure here is not an error: score_term() falls back to the greedy alignment. */
static void reserve_scratch(struct trawl_matcher *m, const struct trawl_query *q,
			    int with_positions)
{
	size_t cells = 0;
	for (unsigned v = 0; v < FOLD_VARIANTS; v++) {
		if (!(q->fold_mask & (1u << v)))
			continue;
		size_t need =
		    score_cells_needed(q->max_units, &m->variants[v].subject, with_positions);
		if (need > cells)
			cells = need;
	}
	/* Past the programme's bound score_term() uses the greedy alignment anyway. */
	if (cells <= m->scratch.cells || cells > 2 * (size_t)DP_MAX_CELLS)
		return;
	int32_t *d = realloc(m->scratch.d, cells * sizeof(*d));
	if (d)
		m->scratch.d = d;
	int32_t *g = realloc(m->scratch.g, cells * sizeof(*g));
	if (g)
		m->scratch.g = g;
	if (d && g)
		m->scratch.cells = cells;
}

static int32_t term_score(struct trawl_matcher *m, const struct term *t, uint32_t *positions)
{
	const struct subject *s = &m->variants[t->fold_flags].subject;
	return score_term(&m->scratch, t->kind, t->units, t->n_units, s, positions);
}

/* Score the query; when `positions` is not NULL, append the matched unit indices of
 * every positive term (as byte offsets) there and count them in *n. */
static int match(struct trawl_matcher *m, const struct trawl_query *q, int32_t *score,
		 uint32_t *positions, size_t *n)
{
	size_t last = q->n_groups; /* the last group with a positive term */
	for (size_t g = 0; g < q->n_groups; g++)
		for (size_t k = 0; k < q->groups[g].n_terms; k++)
			if (!q->groups[g].terms[k].is_negated)
				last = g;
	int32_t total = 0, claim = 0;
	for (size_t g = 0; g < q->n_groups; g++) {
		const struct group *grp = &q->groups[g];
		int32_t best = SCORE_NONE;
		const struct term *best_term = NULL;
		for (size_t k = 0; k < grp->n_terms; k++) {
			const struct term *t = &grp->terms[k];
			int32_t v = term_score(m, t, NULL);
			if (t->is_negated)
				v = v == SCORE_NONE ? 0 : SCORE_NONE;
			if (v > best) {
				best = v;
				best_term = t->is_negated ? NULL : t;
			}
		}
		if (best == SCORE_NONE)
			return 0;
		if (best_term) {
			/* The name bonus leaves the term's score; the query keeps one. */
			int32_t c = score_name_claim(best_term->units, best_term->n_units,
						     &m->variants[best_term->fold_flags].subject);
			best -= c;
			if (g != last)
				c /= NAME_CLAIM_EARLY_DIVISOR;
			if (c > claim)
				claim = c;
		}
		total += best;
		if (positions && best_term) {
			uint32_t *units = m->positions + *n;
			term_score(m, best_term, units);
			const uint32_t *offsets = m->variants[best_term->fold_flags].fold.offsets;
			for (size_t k = 0; k < best_term->n_units; k++)
				units[k] = offsets[units[k]];
			*n += best_term->n_units;
		}
	}
	*score = total + claim;
	return 1;
}

/* A cheap necessary condition, checked before folding: in an ASCII path (which folds to
 * itself, lowercased), every group needs some positive term whose loose fold occurs in
 * order. Paths with other bytes are left to the full match. */
static int may_match(const struct trawl_query *q, const char *path, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)path[i] >= 0x80)
			return 1;
	for (size_t g = 0; g < q->n_groups; g++) {
		const struct group *grp = &q->groups[g];
		int may = 0;
		for (size_t k = 0; k < grp->n_terms && !may; k++) {
			const struct term *t = &grp->terms[k];
			may = t->is_negated ||
			      fold_is_ascii_subsequence(t->loose, t->loose_len, path, len);
		}
		if (!may)
			return 0;
	}
	return 1;
}

int trawl_match(struct trawl_matcher *m, const struct trawl_query *q, const char *path, size_t len,
		int32_t *score)
{
	if (!may_match(q, path, len))
		return 0;
	int rc = prepare(m, q, path, len);
	if (rc < 0)
		return rc;
	reserve_scratch(m, q, 0);
	return match(m, q, score, NULL, NULL);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

int trawl_match_positions(struct trawl_matcher *m, const struct trawl_query *q, const char *path,
			  size_t len, int32_t *score, uint32_t *positions, size_t cap,
			  size_t *n_positions)
{
	*n_positions = 0;
	int rc = prepare(m, q, path, len);
	if (rc < 0)
		return rc;
	if (m->positions_cap < q->total_units) {
		uint32_t *p = realloc(m->positions, q->total_units * sizeof(*p));
		if (!p)
			return -ENOMEM;
		m->positions = p;
		m->positions_cap = q->total_units;
	}
	reserve_scratch(m, q, 1);
	size_t n = 0;
	rc = match(m, q, score, m->positions, &n);
	if (rc <= 0)
		return rc;
	/* Several units can come from one character (ß folds to "ss") and terms can
	 * overlap: sort, then keep each byte offset once. */
	if (n > 1)
		qsort(m->positions, n, sizeof(*m->positions), cmp_u32);
	size_t out = 0;
	for (size_t k = 0; k < n && out < cap; k++)
		if (k == 0 || m->positions[k] != m->positions[k - 1])
			positions[out++] = m->positions[k];
	*n_positions = out;
	return 1;
}

static size_t count_components(const char *path, size_t len)
{
	size_t n = 0;
	for (const char *p = path; (p = memchr(p, '/', len - (size_t)(p - path))); p++)
		n++;
	return n;
}

int trawl_rank_cmp(int32_t score_a, const char *path_a, size_t len_a, int32_t score_b,
		   const char *path_b, size_t len_b)
{
	if (score_a != score_b)
		return score_a > score_b ? -1 : 1;
	size_t ca = count_components(path_a, len_a), cb = count_components(path_b, len_b);
	if (ca != cb)
		return ca < cb ? -1 : 1;
	if (len_a != len_b)
		return len_a < len_b ? -1 : 1;
	return memcmp(path_a, path_b, len_a);
}
