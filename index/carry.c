/* carry.c: the fuzzy alignment of score.c computed column by column along a path, so
 * the columns of a directory's path are computed once and every child continues from
 * them: a stack of the states at the end of each ancestor directory (and its '/').
 * Folding cuts at '/', so a path folds as its components do, and a name's bonuses are
 * those it has after a '/'. */
#include "carry.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fold.h"
#include "query.h"
#include "score.h"
#include "tunables.h"

/* One carried term. Its state in a level is n_units cells of d (best score of the term's
 * first i + 1 units with unit i matched at the last column), n_units of g (the same,
 * matched before it), then the best total over the columns so far with the tail penalty
 * of a match outside the name, the greedy progress (how many units a subsequence scan
 * has matched) and whether a directory component so far equals the term. */
struct cterm {
	const struct term *t;
	size_t off; /* of its state in a level */
};

enum { CT_BEST, CT_PROGRESS, CT_COMPONENT, CT_EXTRA };

struct carry {
	const struct trawl_query *q;
	const struct store *s;
	struct cterm *terms; /* groups flattened */
	size_t n_terms;
	size_t width; /* int32 cells of state per level */
	/* The stack: level k is the k-th directory from the root of the current parent's
	 * chain, with its state after its path and a '/'. */
	uint32_t *ids;
	size_t *units_len; /* FOLD_VARIANTS per level: units of the path with the '/' */
	int32_t *state;
	size_t depth, cap;
	uint32_t *chain; /* scratch: ancestors of a new parent */
	size_t chain_cap;
	int32_t *scratch; /* one term's d and g while scoring a name */
	struct fold_buf fold[FOLD_VARIANTS];
	int8_t *bonus[FOLD_VARIANTS];
	size_t bonus_cap[FOLD_VARIANTS];
};

static int32_t max32(int32_t a, int32_t b)
{
	return a > b ? a : b;
}

/* Advance a term's d and g by one column holding unit u with bonus b; `best` takes the
 * column's total when the term ends there, less `tail`. Rows are visited downwards so
 * row i - 1 still holds the previous column when row i reads it. */
static void column(const struct term *t, int32_t *d, int32_t *g, int32_t *best, uint32_t u,
		   int32_t b, int is_name, int32_t tail)
{
	const size_t n = t->n_units;
	for (size_t i = n; i-- > 0;) {
		int32_t dv = SCORE_NONE;
		if (t->units[i] == u) {
			if (i == 0) {
				dv = SCORE_MATCH + FIRST_CHAR_MULTIPLIER * b +
				     (is_name ? BONUS_IN_NAME : 0);
			} else {
				int32_t run = d[i - 1] > SCORE_NONE
						  ? d[i - 1] + max32(BONUS_CONSECUTIVE, b)
						  : SCORE_NONE;
				int32_t jump = g[i - 1] > SCORE_NONE ? g[i - 1] + b : SCORE_NONE;
				int32_t v = max32(run, jump);
				if (v > SCORE_NONE)
					dv = SCORE_MATCH + v;
			}
		}
		int32_t gv = max32(d[i] + GAP_START, g[i] + GAP_EXTEND);
		d[i] = dv;
		g[i] = gv < SCORE_NONE ? SCORE_NONE : gv;
	}
	if (d[n - 1] > SCORE_NONE && d[n - 1] - tail > *best)
		*best = d[n - 1] - tail;
}

void carry_free(struct carry *c)
{
	if (!c)
		return;
	for (int v = 0; v < FOLD_VARIANTS; v++) {
		fold_buf_release(&c->fold[v]);
		free(c->bonus[v]);
	}
	free(c->terms);
	free(c->ids);
	free(c->units_len);
	free(c->state);
	free(c->chain);
	free(c->scratch);
	free(c);
}

int carry_new(const struct trawl_query *q, const struct store *s, struct carry **out)
{
	*out = NULL;
	size_t n = 0, most = 0;
	for (size_t g = 0; g < q->n_groups; g++) {
		for (size_t k = 0; k < q->groups[g].n_terms; k++) {
			const struct term *t = &q->groups[g].terms[k];
			if (t->is_negated || t->kind != TERM_FUZZY || t->n_units == 0 ||
			    t->n_units > TERM_MAX_UNITS)
				return 0;
			most = t->n_units > most ? t->n_units : most;
			n++;
		}
	}
	if (n == 0)
		return 0;
	struct carry *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (int v = 0; v < FOLD_VARIANTS; v++)
		fold_buf_init(&c->fold[v]);
	c->q = q;
	c->s = s;
	c->n_terms = n;
	c->terms = calloc(n, sizeof(*c->terms));
	c->scratch = malloc(2 * most * sizeof(*c->scratch));
	if (!c->terms || !c->scratch) {
		carry_free(c);
		return -ENOMEM;
	}
	n = 0;
	for (size_t g = 0; g < q->n_groups; g++) {
		for (size_t k = 0; k < q->groups[g].n_terms; k++, n++) {
			c->terms[n].t = &q->groups[g].terms[k];
			c->terms[n].off = c->width;
			c->width += 2 * c->terms[n].t->n_units + CT_EXTRA;
		}
	}
	*out = c;
	return 0;
}

static int reserve_levels(struct carry *c, size_t depth)
{
	if (depth <= c->cap)
		return 0;
	size_t cap = c->cap ? c->cap * 2 : 32;
	while (cap < depth)
		cap *= 2;
	uint32_t *ids = realloc(c->ids, cap * sizeof(*ids));
	if (ids)
		c->ids = ids;
	size_t *len = realloc(c->units_len, cap * FOLD_VARIANTS * sizeof(*len));
	if (len)
		c->units_len = len;
	int32_t *state = realloc(c->state, cap * c->width * sizeof(*state));
	if (state)
		c->state = state;
	if (!ids || !len || !state)
		return -ENOMEM;
	c->cap = cap;
	return 0;
}

/* fold() of an ASCII name, which is one unit per byte, lowercased unless case is kept;
 * without the byte offsets, which scoring does not read. */
static int fold_ascii(struct fold_buf *f, const char *name, size_t len, unsigned flags)
{
	if (f->cap < len + 1) {
		int rc = fold(f, name, len, flags);
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char b = (unsigned char)name[i];
		uint8_t cls = CLASS_DELIM;
		if (b >= 'a' && b <= 'z') {
			cls = CLASS_LOWER;
		} else if (b >= 'A' && b <= 'Z') {
			cls = CLASS_UPPER;
			if (!(flags & FOLD_KEEP_CASE))
				b += 'a' - 'A';
		} else if (b >= '0' && b <= '9') {
			cls = CLASS_DIGIT;
		} else if (b == '/') {
			cls = CLASS_SLASH;
		}
		f->units[i] = b;
		f->classes[i] = cls;
	}
	f->len = len;
	return 0;
}

static int memchr_u32(const uint32_t *u, uint32_t c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (u[i] == c)
			return 1;
	return 0;
}

/* Fold `name` for every variant the query uses, with its bonuses after a '/'. Returns 0,
 * CARRY_FALLBACK or -ENOMEM. */
static int fold_name(struct carry *c, const char *name, size_t len)
{
	int is_ascii = 1;
	for (size_t i = 0; i < len; i++)
		is_ascii &= (unsigned char)name[i] < 0x80;
	for (unsigned v = 0; v < FOLD_VARIANTS; v++) {
		if (!(c->q->fold_mask & (1u << v)))
			continue;
		struct fold_buf *f = &c->fold[v];
		int rc = is_ascii ? fold_ascii(f, name, len, v) : fold(f, name, len, v);
		if (rc < 0)
			return rc;
		/* A name that folds to nothing or to a '/' (a fullwidth solidus) would move
		 * where the full path's basename or components start. */
		if (f->len == 0 || memchr_u32(f->units, '/', f->len))
			return CARRY_FALLBACK;
		if (c->bonus_cap[v] < f->len) {
			int8_t *b = realloc(c->bonus[v], f->cap);
			if (!b)
				return -ENOMEM;
			c->bonus[v] = b;
			c->bonus_cap[v] = f->cap;
		}
		score_bonuses(c->bonus[v], f->classes, f->len);
	}
	return 0;
}

static int units_equal(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
	return na == nb && memcmp(a, b, na * sizeof(*a)) == 0;
}

/* Push the level of directory `id`, a child of the top level (or the root, on an empty
 * stack): its name's columns, then a '/'. */
static int push_level(struct carry *c, uint32_t id)
{
	int rc = reserve_levels(c, c->depth + 1);
	if (rc < 0)
		return rc;
	size_t nl;
	const char *name = store_name(c->s, id, &nl);
	int32_t *st = c->state + c->depth * c->width;
	size_t *len = c->units_len + c->depth * FOLD_VARIANTS;
	int is_root = c->depth == 0;
	if (is_root) {
		/* The root is "/", whose path is its own '/' column. */
		if (nl != 1 || name[0] != '/')
			return CARRY_FALLBACK;
		for (size_t k = 0; k < c->n_terms; k++) {
			int32_t *x = st + c->terms[k].off;
			size_t n = c->terms[k].t->n_units;
			for (size_t i = 0; i < 2 * n; i++)
				x[i] = SCORE_NONE;
			x[2 * n + CT_BEST] = SCORE_NONE;
			x[2 * n + CT_PROGRESS] = 0;
			x[2 * n + CT_COMPONENT] = 0;
		}
		for (int v = 0; v < FOLD_VARIANTS; v++)
			len[v] = 0;
	} else {
		memcpy(st, st - c->width, c->width * sizeof(*st));
		memcpy(len, len - FOLD_VARIANTS, FOLD_VARIANTS * sizeof(*len));
		if ((rc = fold_name(c, name, nl)) != 0)
			return rc;
	}
	for (size_t k = 0; k < c->n_terms; k++) {
		const struct term *t = c->terms[k].t;
		size_t n = t->n_units;
		int32_t *x = st + c->terms[k].off;
		int32_t *d = x, *g = x + n, *extra = x + 2 * n;
		if (!is_root) {
			const struct fold_buf *f = &c->fold[t->fold_flags];
			const int8_t *b = c->bonus[t->fold_flags];
			int32_t p = extra[CT_PROGRESS];
			for (size_t j = 0; j < f->len; j++) {
				column(t, d, g, &extra[CT_BEST], f->units[j], b[j], 0,
				       PENALTY_NAME_TAIL_MAX);
				if (p < (int32_t)n && t->units[p] == f->units[j])
					p++;
			}
			extra[CT_PROGRESS] = p;
			if (units_equal(t->units, n, f->units, f->len))
				extra[CT_COMPONENT] = 1;
		}
		/* A '/' follows anything with the punctuation bonus. */
		column(t, d, g, &extra[CT_BEST], '/', BONUS_PUNCT, 0, PENALTY_NAME_TAIL_MAX);
		if (extra[CT_PROGRESS] < (int32_t)n && t->units[extra[CT_PROGRESS]] == '/')
			extra[CT_PROGRESS]++;
	}
	if (!is_root)
		for (int v = 0; v < FOLD_VARIANTS; v++)
			len[v] += c->fold[v].len;
	for (int v = 0; v < FOLD_VARIANTS; v++)
		len[v]++;
	c->ids[c->depth++] = id;
	return 0;
}

/* Make the stack hold the chain of directory `p`, root first. Levels are subtrees, id
 * ranges: those that do not hold `p` go, and the chain from the deepest that does down to
 * `p` is pushed. */
static int set_parent(struct carry *c, uint32_t p)
{
	if (c->depth && c->ids[c->depth - 1] == p)
		return 0;
	const struct store *s = c->s;
	while (c->depth && !(c->ids[c->depth - 1] <= p && p < s->subtree_end[c->ids[c->depth - 1]]))
		c->depth--;
	uint32_t top = c->depth ? c->ids[c->depth - 1] : STORE_NO_PARENT;
	size_t n = 0;
	for (uint32_t e = p; e != top; e = s->parent[e]) {
		if (n == c->chain_cap) {
			size_t cap = c->chain_cap ? c->chain_cap * 2 : 64;
			uint32_t *chain = realloc(c->chain, cap * sizeof(*chain));
			if (!chain)
				return -ENOMEM;
			c->chain = chain;
			c->chain_cap = cap;
		}
		c->chain[n++] = e;
	}
	for (size_t k = 0; k < n; k++) {
		int rc = push_level(c, c->chain[n - 1 - k]);
		if (rc != 0) {
			c->depth = 0;
			return rc;
		}
	}
	return 0;
}

/* Whether t->units[from..] occur in order in f. */
static int is_subsequence(const struct term *t, size_t from, const struct fold_buf *f)
{
	size_t i = from;
	for (size_t j = 0; j < f->len && i < t->n_units; j++)
		i += f->units[j] == t->units[i];
	return i == t->n_units;
}

/* The score of carried term k on the entry whose name is folded in c->fold, as
 * score_term() gives it on the full path. */
static int32_t term_score(struct carry *c, size_t k, const struct subject *name)
{
	const struct term *t = c->terms[k].t;
	const size_t n = t->n_units;
	const int32_t *x = c->state + (c->depth - 1) * c->width + c->terms[k].off;
	const int32_t *extra = x + 2 * n;
	const struct fold_buf *f = &c->fold[t->fold_flags];
	if (!is_subsequence(t, (size_t)extra[CT_PROGRESS], f))
		return SCORE_NONE;
	int32_t *d = c->scratch, *g = c->scratch + n;
	memcpy(d, x, 2 * n * sizeof(*d));
	int32_t best = extra[CT_BEST];
	for (size_t j = 0; j < f->len; j++) {
		size_t tail = f->len - 1 - j;
		int32_t penalty = tail * PENALTY_NAME_TAIL > PENALTY_NAME_TAIL_MAX
				      ? PENALTY_NAME_TAIL_MAX
				      : (int32_t)tail * PENALTY_NAME_TAIL;
		column(t, d, g, &best, f->units[j], name->bonus[j], 1, penalty);
	}
	if (best == SCORE_NONE)
		return SCORE_NONE;
	int32_t claim = score_name_claim(t->units, n, name);
	return best + (claim ? claim : extra[CT_COMPONENT] ? BONUS_COMPONENT_EXACT : 0);
}

/* A cheap necessary condition, checked before folding: in an ASCII name (which folds to
 * its bytes, lowercased unless case is kept), every group needs some term whose units
 * the directories left unmatched occur in order. Other names are left to the fold. */
static int may_match(const struct carry *c, const char *name, size_t len)
{
	for (size_t j = 0; j < len; j++)
		if ((unsigned char)name[j] >= 0x80)
			return 1;
	const int32_t *top = c->state + (c->depth - 1) * c->width;
	size_t k = 0;
	for (size_t gi = 0; gi < c->q->n_groups; gi++) {
		const struct group *grp = &c->q->groups[gi];
		int may = 0;
		for (size_t t = 0; t < grp->n_terms; t++, k++) {
			const struct term *term = c->terms[k].t;
			const size_t n = term->n_units;
			size_t i = (size_t)top[c->terms[k].off + 2 * n + CT_PROGRESS];
			int is_loose = !(term->fold_flags & FOLD_KEEP_CASE);
			for (size_t j = 0; j < len && i < n; j++) {
				uint32_t b = (unsigned char)name[j];
				if (is_loose && b >= 'A' && b <= 'Z')
					b += 'a' - 'A';
				i += term->units[i] == b;
			}
			may |= i == n;
		}
		if (!may)
			return 0;
	}
	return 1;
}

int carry_match(struct carry *c, uint32_t id, int32_t *score)
{
	uint32_t p = c->s->parent[id];
	if (p == STORE_NO_PARENT)
		return CARRY_FALLBACK;
	int rc = set_parent(c, p);
	if (rc != 0)
		return rc;
	size_t nl;
	const char *name = store_name(c->s, id, &nl);
	if (!may_match(c, name, nl))
		return 0;
	if ((rc = fold_name(c, name, nl)) != 0)
		return rc;
	const size_t *len = c->units_len + (c->depth - 1) * FOLD_VARIANTS;
	for (size_t k = 0; k < c->n_terms; k++) {
		const struct term *t = c->terms[k].t;
		if (t->n_units * (len[t->fold_flags] + c->fold[t->fold_flags].len) > DP_MAX_CELLS)
			return CARRY_FALLBACK;
	}
	struct subject names[FOLD_VARIANTS];
	for (unsigned v = 0; v < FOLD_VARIANTS; v++) {
		if (!(c->q->fold_mask & (1u << v)))
			continue;
		names[v] = (struct subject){c->fold[v].units, c->bonus[v], c->fold[v].len, 0, 0};
		score_locate_name(&names[v]);
	}
	/* As match() in match.c: every group positive, the last one names the file. */
	const struct trawl_query *q = c->q;
	int32_t total = 0, claim = 0;
	size_t k = 0;
	for (size_t gi = 0; gi < q->n_groups; gi++) {
		const struct group *grp = &q->groups[gi];
		int32_t best = SCORE_NONE;
		const struct term *best_term = NULL;
		for (size_t j = 0; j < grp->n_terms; j++, k++) {
			int32_t v = term_score(c, k, &names[c->terms[k].t->fold_flags]);
			if (v > best) {
				best = v;
				best_term = c->terms[k].t;
			}
		}
		if (best == SCORE_NONE)
			return 0;
		int32_t cl = score_name_claim(best_term->units, best_term->n_units,
					      &names[best_term->fold_flags]);
		best -= cl;
		if (gi + 1 != q->n_groups)
			cl /= NAME_CLAIM_EARLY_DIVISOR;
		if (cl > claim)
			claim = cl;
		total += best;
	}
	*score = total + claim;
	return 1;
}
