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
#include "postings.h"
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
	/* For carry_bound(): the alignment bound, and rest[i] for 1 <= i <= n, the most
	 * units i.. can add to an alignment (rest[n] = 0; unit 0 has no such bound). */
	int32_t align;
	int32_t *rest;
	int is_ascii;	     /* every unit is ASCII */
	uint64_t mask;	     /* its units' bits in carry.bits (lowercased) */
	uint64_t first_bit;  /* its first unit's bit; 0 when it has none */
	uint64_t *tail_mask; /* tail_mask[i]: the bits of units i.. (n_units of them) */
	/* For unit i >= 1 of an alignment inside a name: the bit of the pair of units i - 1
	 * and i in carry.pair_bits (0: not tracked), unit i's bit, and how much less than
	 * the alignment bound it earns when the pair is nowhere in the name and the unit
	 * lands after a gap at a word start (loss[2 * i]) or elsewhere (loss[2 * i + 1]). */
	uint64_t *pair_bit, *unit_bit;
	int32_t *loss;
	/* The most its first unit can earn inside a name without starting a word: an
	 * alignment bound that assumed the best bonus there is this much too high. */
	int32_t first_slack;
	/* The name mask (postings.h) a name needs to hold the term's units i.. (need_from[i],
	 * n_units + 1 of them; need_from[0] the whole term). A unit that is not ASCII has no
	 * bit: what it folds to loosely is not checked. */
	uint32_t *need_from;
	/* Its units below 128 as a set (with is_ascii, all it has): a column whose unit is
	 * not among them only ages the alignments (skip_columns()). */
	uint64_t ascii_units[2];
};

/* A name's bytes as a set of the bytes the terms use: each distinct lowercased ASCII
 * unit of the carried terms gets a bit (the first 63 of them; units past those are not
 * checked, which keeps the test a necessary condition), and every non-ASCII byte sets
 * BITS_NON_ASCII. */
#define BITS_NON_ASCII (1ull << 63)

/* CT_CONT: the most an alignment started in the directories and continued into a name
 * can score (see level_bound()). After the CT_EXTRA cells come n_units more, cont[]:
 * cont[i] is that most for an alignment whose units i.. are matched in the name, for
 * 1 <= i < n (cont[0] unused); CT_CONT is the largest of them. */
enum { CT_BEST, CT_PROGRESS, CT_COMPONENT, CT_CONT, CT_EXTRA };

struct carry {
	const struct trawl_query *q;
	const struct store *s;
	struct cterm *terms;			      /* groups flattened */
	uint64_t bits[256];			      /* byte -> its bit, see BITS_NON_ASCII */
	uint8_t classes[128];			      /* an ASCII byte's class (fold.h) */
	int8_t bonus_after[CLASS_COUNT][CLASS_COUNT]; /* score_bonus_after() */
	/* Adjacent pairs of the terms' units (lowercased) as bits: pair_bits[pair_index[a]]
	 * [pair_index[b]] for bytes a, b; index 0 is every byte no pair uses. */
	uint8_t pair_index[256];
	uint64_t pair_bits[32][32];
	/* Whether a byte of class cur after one of class prev starts a word: its bonus is
	 * at least BONUS_CAMEL. */
	uint8_t is_start[CLASS_COUNT][CLASS_COUNT];
	size_t n_terms;
	size_t width; /* int32 cells of state per level */
	/* The stack: level k is the k-th directory from the root of the current parent's
	 * chain, with its state after its path and a '/'. */
	uint32_t *ids;
	uint32_t *ends; /* per level: its directory's subtree end, kept at hand */
	/* Per directory (postings.h), what the names below it hold; NULL: not known. */
	const uint32_t *subtree_masks;
	size_t *units_len; /* FOLD_VARIANTS per level: units of the path with the '/' */
	int32_t *state;
	size_t depth, cap;
	/* Levels [0, dp_depth) hold their alignment columns; those above hold only the
	 * greedy progress and the component flag, which say whether a child can match at
	 * all, until something needs the columns (materialize()). */
	size_t dp_depth;
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

/* The class fold() gives an ASCII byte. */
static uint8_t ascii_class(unsigned char b)
{
	if (b >= 'a' && b <= 'z')
		return CLASS_LOWER;
	if (b >= 'A' && b <= 'Z')
		return CLASS_UPPER;
	if (b >= '0' && b <= '9')
		return CLASS_DIGIT;
	return b == '/' ? CLASS_SLASH : CLASS_DELIM;
}

/* The most a byte of class cls earns inside a name (never right after its '/') after a
 * gap, where it starts a word (is_start) or where it does not. */
static int32_t gap_bound(const struct carry *c, uint8_t cls, int is_start)
{
	int32_t best = SCORE_NONE;
	for (unsigned prev = 0; prev < CLASS_COUNT; prev++)
		if (prev != CLASS_SLASH && c->is_start[prev][cls] == is_start)
			best = max32(best, score_bonus_after((uint8_t)prev, cls));
	return best == SCORE_NONE ? SCORE_NONE : best + GAP_START;
}

/* Give the adjacent unit pairs of the ASCII terms their bits, the first 64 of them over
 * at most 31 distinct bytes (pairs past those are not tracked: no loss is counted for
 * them), and each unit its losses. */
static void pairs_new(struct carry *c)
{
	unsigned n_bytes = 0, n_pairs = 0;
	for (size_t k = 0; k < c->n_terms; k++) {
		struct cterm *ct = &c->terms[k];
		const uint32_t *u = ct->t->units;
		for (size_t i = 1; ct->is_ascii && i < ct->t->n_units; i++) {
			uint32_t a = u[i - 1] + (u[i - 1] - 'A' < 26u) * ('a' - 'A');
			uint32_t b = u[i] + (u[i] - 'A' < 26u) * ('a' - 'A');
			ct->unit_bit[i] = c->bits[b];
			/* A loose letter matches either case, whose classes differ. */
			uint8_t cls = ascii_class((unsigned char)u[i]);
			uint8_t other = cls == CLASS_LOWER ? CLASS_UPPER : cls;
			int32_t bound = score_char_bound(u, i);
			int32_t at_start = max32(gap_bound(c, cls, 1), gap_bound(c, other, 1));
			int32_t off_start = max32(gap_bound(c, cls, 0), gap_bound(c, other, 0));
			ct->loss[2 * i] =
			    at_start > SCORE_NONE && at_start < bound ? bound - at_start : 0;
			ct->loss[2 * i + 1] =
			    off_start > SCORE_NONE && off_start < bound ? bound - off_start : 0;
			if (!c->pair_index[a] && n_bytes < 31)
				c->pair_index[a] = (uint8_t)++n_bytes;
			if (!c->pair_index[b] && n_bytes < 31)
				c->pair_index[b] = (uint8_t)++n_bytes;
			uint8_t ia = c->pair_index[a], ib = c->pair_index[b];
			if (!ia || !ib)
				continue;
			if (!c->pair_bits[ia][ib] && n_pairs < 64)
				c->pair_bits[ia][ib] = 1ull << n_pairs++;
			ct->pair_bit[i] = c->pair_bits[ia][ib];
		}
	}
	/* Uppercase bytes pair as their lowercase. */
	for (unsigned b = 'A'; b <= 'Z'; b++)
		c->pair_index[b] = c->pair_index[b + ('a' - 'A')];
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

/* Whether term ct has unit u. */
static int has_unit(const struct cterm *ct, uint32_t u)
{
	return u < 128 ? (int)((ct->ascii_units[u >> 6] >> (u & 63)) & 1) : !ct->is_ascii;
}

/* Advance d and g over k columns whose units the term does not have, as k calls of
 * column() would: nothing is matched there, and each alignment is k columns older. */
static void skip_columns(size_t n, int32_t *d, int32_t *g, size_t k)
{
	if (k == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		int32_t from_d = d[i] > SCORE_NONE
				     ? d[i] + GAP_START + (int32_t)(k - 1) * GAP_EXTEND
				     : SCORE_NONE;
		int32_t from_g = g[i] > SCORE_NONE ? g[i] + (int32_t)k * GAP_EXTEND : SCORE_NONE;
		int32_t v = max32(from_d, from_g);
		g[i] = v < SCORE_NONE ? SCORE_NONE : v;
		d[i] = SCORE_NONE;
	}
}

void carry_free(struct carry *c)
{
	if (!c)
		return;
	for (int v = 0; v < FOLD_VARIANTS; v++) {
		fold_buf_release(&c->fold[v]);
		free(c->bonus[v]);
	}
	if (c->terms) {
		free(c->terms[0].rest);
		free(c->terms[0].tail_mask);
		free(c->terms[0].pair_bit);
		free(c->terms[0].loss);
		free(c->terms[0].need_from);
	}
	free(c->terms);
	free(c->ids);
	free(c->ends);
	free(c->units_len);
	free(c->state);
	free(c->chain);
	free(c->scratch);
	free(c);
}

int carry_new(const struct trawl_query *q, const struct store *s, const uint32_t *subtree_masks,
	      struct carry **out)
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
	c->subtree_masks = subtree_masks;
	c->n_terms = n;
	c->terms = calloc(n, sizeof(*c->terms));
	c->scratch = malloc(2 * most * sizeof(*c->scratch));
	if (!c->terms || !c->scratch) {
		carry_free(c);
		return -ENOMEM;
	}
	size_t n_rest = 0;
	for (size_t g = 0; g < q->n_groups; g++)
		for (size_t k = 0; k < q->groups[g].n_terms; k++)
			n_rest += q->groups[g].terms[k].n_units + 1;
	int32_t *rest = calloc(n_rest, sizeof(*rest));
	uint64_t *tails = calloc(n_rest, sizeof(*tails));
	uint64_t *pairs = calloc(2 * n_rest, sizeof(*pairs));
	int32_t *losses = calloc(2 * n_rest, sizeof(*losses));
	uint32_t *needs = calloc(n_rest, sizeof(*needs));
	if (!rest || !tails || !pairs || !losses || !needs) {
		free(rest);
		free(tails);
		free(pairs);
		free(losses);
		free(needs);
		carry_free(c);
		return -ENOMEM;
	}
	n = 0;
	for (size_t g = 0; g < q->n_groups; g++) {
		for (size_t k = 0; k < q->groups[g].n_terms; k++, n++) {
			struct cterm *ct = &c->terms[n];
			ct->t = &q->groups[g].terms[k];
			ct->off = c->width;
			c->width += 3 * ct->t->n_units + CT_EXTRA;
			const uint32_t *u = ct->t->units;
			size_t nu = ct->t->n_units;
			ct->rest = rest;
			rest += nu + 1;
			ct->tail_mask = tails;
			tails += nu + 1;
			ct->pair_bit = pairs;
			ct->unit_bit = pairs + nu + 1;
			pairs += 2 * (nu + 1);
			ct->loss = losses;
			losses += 2 * (nu + 1);
			ct->need_from = needs;
			needs += nu + 1;
			ct->rest[nu] = 0;
			for (size_t i = nu; i-- > 1;)
				ct->rest[i] =
				    ct->rest[i + 1] + SCORE_MATCH + score_char_bound(u, i);
			ct->align = score_alignment_bound(u, nu);
			ct->is_ascii = 1;
			for (size_t i = 0; i < nu; i++) {
				ct->is_ascii &= u[i] < 0x80;
				if (u[i] < 0x80)
					ct->ascii_units[u[i] >> 6] |= 1ull << (u[i] & 63);
			}
			for (size_t i = nu; i-- > 0;)
				ct->need_from[i] =
				    ct->need_from[i + 1] |
				    (u[i] < 0x80 ? name_mask_bit((unsigned char)u[i]) : 0);
		}
	}
	for (unsigned b = 0x80; b < 256; b++)
		c->bits[b] = BITS_NON_ASCII;
	unsigned next = 0;
	for (size_t k = 0; k < c->n_terms; k++) {
		struct cterm *ct = &c->terms[k];
		for (size_t i = 0; ct->is_ascii && i < ct->t->n_units; i++) {
			uint32_t b = ct->t->units[i];
			b += (b - 'A' < 26u) * ('a' - 'A');
			if (!c->bits[b] && next < 63) {
				c->bits[b] = 1ull << next++;
				if (b - 'a' < 26u)
					c->bits[b - ('a' - 'A')] = c->bits[b];
			}
			ct->mask |= c->bits[b];
		}
		for (size_t i = ct->t->n_units; ct->is_ascii && i-- > 0;) {
			uint32_t b = ct->t->units[i];
			ct->tail_mask[i] =
			    ct->tail_mask[i + 1] | c->bits[b + (b - 'A' < 26u) * ('a' - 'A')];
		}
	}
	for (unsigned b = 0; b < 128; b++)
		c->classes[b] = ascii_class((unsigned char)b);
	for (unsigned prev = 0; prev < CLASS_COUNT; prev++) {
		for (unsigned cur = 0; cur < CLASS_COUNT; cur++) {
			int32_t b = score_bonus_after((uint8_t)prev, (uint8_t)cur);
			c->bonus_after[prev][cur] = (int8_t)b;
			c->is_start[prev][cur] = b >= BONUS_CAMEL;
		}
	}
	for (size_t k = 0; k < c->n_terms; k++) {
		struct cterm *ct = &c->terms[k];
		uint32_t u = ct->t->units[0];
		if (!ct->is_ascii)
			continue;
		ct->first_bit = c->bits[u];
		/* Off a word start a byte earns the most it earns after any class where it
		 * starts no word. */
		uint8_t cls = ascii_class((unsigned char)u);
		int32_t off_start = 0;
		for (unsigned prev = 0; prev < CLASS_COUNT; prev++)
			if (!c->is_start[prev][cls])
				off_start = max32(off_start, score_bonus_after((uint8_t)prev, cls));
		ct->first_slack = FIRST_CHAR_MULTIPLIER * (score_best_bonus() - off_start);
	}
	pairs_new(c);
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
	uint32_t *ends = realloc(c->ends, cap * sizeof(*ends));
	if (ends)
		c->ends = ends;
	size_t *len = realloc(c->units_len, cap * FOLD_VARIANTS * sizeof(*len));
	if (len)
		c->units_len = len;
	int32_t *state = realloc(c->state, cap * c->width * sizeof(*state));
	if (state)
		c->state = state;
	if (!ids || !ends || !len || !state)
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
		uint8_t cls = ascii_class(b);
		if (cls == CLASS_UPPER && !(flags & FOLD_KEEP_CASE))
			b += 'a' - 'A';
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

/* The most an alignment whose units 0..i are matched in the directories (d[i] or g[i])
 * can score once its other units are matched in a name: unit i + 1 earns at most
 * SCORE_MATCH and the best bonus (a gap's cost is in g already; right after d[i], a
 * component start or the consecutive bonus is no more), the others rest[]. Fills cont[]
 * with these for units i + 1.. in the name; returns the largest. */
static int32_t level_bound(const struct cterm *ct, const int32_t *d, const int32_t *g,
			   int32_t *cont)
{
	size_t n = ct->t->n_units;
	int32_t v = SCORE_NONE;
	for (size_t i = 0; i + 1 < n; i++) {
		int32_t at = max32(d[i], g[i]);
		cont[i + 1] = at > SCORE_NONE
				  ? at + SCORE_MATCH + score_best_bonus() + ct->rest[i + 2]
				  : SCORE_NONE;
		v = max32(v, cont[i + 1]);
	}
	return v;
}

/* An ASCII byte as a unit of a term folded with `keep_case`, as fold_ascii() folds it. */
static uint32_t ascii_fold_unit(const struct carry *c, unsigned char b, int keep_case)
{
	return c->classes[b] == CLASS_UPPER && !keep_case ? b + ('a' - 'A') : b;
}

/* What a directory whose name is ASCII does to term ct's greedy progress and component
 * flag (state x), its '/' included: what push_level() computes besides the columns. */
static void ascii_progress(const struct carry *c, const struct cterm *ct, int32_t *x,
			   const char *name, size_t len)
{
	const struct term *t = ct->t;
	const size_t n = t->n_units;
	int32_t *extra = x + 2 * n;
	const int keep_case = t->fold_flags & FOLD_KEEP_CASE;
	int32_t p = extra[CT_PROGRESS];
	int is_equal = len == n;
	for (size_t j = 0; j < len; j++) {
		uint32_t u = ascii_fold_unit(c, (unsigned char)name[j], keep_case);
		if (is_equal && t->units[j] != u)
			is_equal = 0;
		if (p < (int32_t)n && t->units[p] == u)
			p++;
	}
	if (p < (int32_t)n && t->units[p] == '/')
		p++;
	extra[CT_PROGRESS] = p;
	if (is_equal)
		extra[CT_COMPONENT] = 1;
}

/* A directory's columns for term ct (state x, holding its parent's columns) when its
 * name is ASCII, its '/' included, as the loop over its fold in push_level() computes
 * them, folding each byte as it goes (fold_ascii()). */
static void ascii_columns(const struct carry *c, const struct cterm *ct, int32_t *x,
			  const char *name, size_t len)
{
	const struct term *t = ct->t;
	const size_t n = t->n_units;
	int32_t *d = x, *g = x + n, *extra = x + 2 * n;
	const int keep_case = t->fold_flags & FOLD_KEEP_CASE;
	size_t idle = 0;
	uint8_t prev = CLASS_SLASH;
	for (size_t j = 0; j < len; j++) {
		unsigned char b = (unsigned char)name[j];
		uint8_t cls = c->classes[b];
		uint32_t u = ascii_fold_unit(c, b, keep_case);
		if (!has_unit(ct, u)) {
			idle++;
			prev = cls;
			continue;
		}
		skip_columns(n, d, g, idle);
		idle = 0;
		column(t, d, g, &extra[CT_BEST], u, c->bonus_after[prev][cls], 0,
		       PENALTY_NAME_TAIL_MAX);
		prev = cls;
	}
	skip_columns(n, d, g, idle);
	column(t, d, g, &extra[CT_BEST], '/', BONUS_PUNCT, 0, PENALTY_NAME_TAIL_MAX);
	extra[CT_CONT] = level_bound(ct, d, g, extra + CT_EXTRA);
}

/* Give the levels pushed without their columns (all ASCII directories) their columns,
 * from the deepest level that has them down. */
static void materialize(struct carry *c)
{
	for (; c->dp_depth < c->depth; c->dp_depth++) {
		size_t nl;
		const char *name = store_name(c->s, c->ids[c->dp_depth], &nl);
		int32_t *st = c->state + c->dp_depth * c->width;
		for (size_t k = 0; k < c->n_terms; k++) {
			const struct cterm *ct = &c->terms[k];
			size_t n = ct->t->n_units;
			int32_t *x = st + ct->off;
			const int32_t *from = x - c->width;
			memcpy(x, from, 2 * n * sizeof(*x));
			x[2 * n + CT_BEST] = from[2 * n + CT_BEST];
			ascii_columns(c, ct, x, name, nl);
		}
	}
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
			x[2 * n + CT_CONT] = SCORE_NONE;
			for (size_t i = 0; i < n; i++)
				x[2 * n + CT_EXTRA + i] = SCORE_NONE;
		}
		for (int v = 0; v < FOLD_VARIANTS; v++)
			len[v] = 0;
	}
	int is_ascii = 1;
	if (!is_root) {
		memcpy(st, st - c->width, c->width * sizeof(*st));
		memcpy(len, len - FOLD_VARIANTS, FOLD_VARIANTS * sizeof(*len));
		for (size_t j = 0; j < nl; j++)
			is_ascii &= (unsigned char)name[j] < 0x80;
		if (!is_ascii && (rc = fold_name(c, name, nl)) != 0)
			return rc;
	}
	if (!is_root && is_ascii) {
		/* The columns wait until a child needs them (materialize()). */
		for (size_t k = 0; k < c->n_terms; k++)
			ascii_progress(c, &c->terms[k], st + c->terms[k].off, name, nl);
		for (int v = 0; v < FOLD_VARIANTS; v++)
			len[v] += nl + 1;
		c->ends[c->depth] = store_subtree_end(c->s, id);
		c->ids[c->depth++] = id;
		return 0;
	}
	/* Columns now: this level's come from its parent's. */
	if (!is_root && c->dp_depth < c->depth) {
		materialize(c);
		memcpy(st, st - c->width, c->width * sizeof(*st));
	}
	for (size_t k = 0; k < c->n_terms; k++) {
		const struct cterm *ct = &c->terms[k];
		const struct term *t = ct->t;
		size_t n = t->n_units;
		int32_t *x = st + ct->off;
		int32_t *d = x, *g = x + n, *extra = x + 2 * n;
		if (!is_root) {
			const struct fold_buf *f = &c->fold[t->fold_flags];
			const int8_t *b = c->bonus[t->fold_flags];
			int32_t p = extra[CT_PROGRESS];
			size_t idle = 0;
			for (size_t j = 0; j < f->len; j++) {
				if (!has_unit(ct, f->units[j])) {
					idle++;
					continue;
				}
				skip_columns(n, d, g, idle);
				idle = 0;
				column(t, d, g, &extra[CT_BEST], f->units[j], b[j], 0,
				       PENALTY_NAME_TAIL_MAX);
				if (p < (int32_t)n && t->units[p] == f->units[j])
					p++;
			}
			skip_columns(n, d, g, idle);
			extra[CT_PROGRESS] = p;
			if (units_equal(t->units, n, f->units, f->len))
				extra[CT_COMPONENT] = 1;
		}
		/* A '/' follows anything with the punctuation bonus. */
		column(t, d, g, &extra[CT_BEST], '/', BONUS_PUNCT, 0, PENALTY_NAME_TAIL_MAX);
		if (extra[CT_PROGRESS] < (int32_t)n && t->units[extra[CT_PROGRESS]] == '/')
			extra[CT_PROGRESS]++;
		extra[CT_CONT] = level_bound(&c->terms[k], d, g, extra + CT_EXTRA);
	}
	if (!is_root)
		for (int v = 0; v < FOLD_VARIANTS; v++)
			len[v] += c->fold[v].len;
	for (int v = 0; v < FOLD_VARIANTS; v++)
		len[v]++;
	c->ends[c->depth] = store_subtree_end(c->s, id);
	c->ids[c->depth++] = id;
	c->dp_depth = c->depth;
	return 0;
}

/* Whether names holding `mask` (postings.h) could complete a match after the top
 * level's path: every group has a term whose units the path leaves are all in it. Only
 * the greedy progress is needed. */
static int may_complete(const struct carry *c, uint32_t mask)
{
	const int32_t *top = c->state + (c->depth - 1) * c->width;
	size_t k = 0;
	for (size_t gi = 0; gi < c->q->n_groups; gi++) {
		int may = 0;
		for (size_t j = 0; j < c->q->groups[gi].n_terms; j++, k++) {
			const struct cterm *ct = &c->terms[k];
			int32_t progress = top[ct->off + 2 * ct->t->n_units + CT_PROGRESS];
			may |= !(ct->need_from[progress] & ~mask);
		}
		if (!may)
			return 0;
	}
	return 1;
}

/* Whether nothing below the top level can match, by what the names below it hold. */
static int is_dead_end(const struct carry *c)
{
	return !may_complete(c, c->subtree_masks[store_dir_rank(c->s, c->ids[c->depth - 1])]);
}

/* Make the stack hold the chain of directory `p`, root first. Levels are subtrees, id
 * ranges: those that do not hold `p` go, and the chain from the deepest that does down to
 * `p` is pushed. With `dead_end` (and the subtree masks), a level pushed that nothing
 * below can match stops the pushing: 1 is returned, and *dead_end is the end of that
 * level's subtree, where the next entry that may match is. */
static int set_parent(struct carry *c, uint32_t p, uint32_t *dead_end)
{
	if (c->depth && c->ids[c->depth - 1] == p)
		return 0;
	const struct store *s = c->s;
	while (c->depth && !(c->ids[c->depth - 1] <= p && p < c->ends[c->depth - 1]))
		c->depth--;
	if (c->dp_depth > c->depth)
		c->dp_depth = c->depth;
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
			c->depth = c->dp_depth = 0;
			return rc;
		}
		if (dead_end && c->subtree_masks && is_dead_end(c)) {
			*dead_end = c->ends[c->depth - 1];
			return 1;
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
	size_t idle = 0;
	for (size_t j = 0; j < f->len; j++) {
		if (!has_unit(&c->terms[k], f->units[j])) {
			idle++;
			continue;
		}
		skip_columns(n, d, g, idle);
		idle = 0;
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

/* Make the stack hold the chain of entry id's parent, and give its name: 0,
 * CARRY_FALLBACK (a root, or a chain the carrier cannot hold), -ENOMEM. */
static int enter(struct carry *c, uint32_t id, const char **name, size_t *len)
{
	uint32_t p = c->s->parent[id];
	if (p == STORE_NO_PARENT)
		return CARRY_FALLBACK;
	int rc = set_parent(c, p, NULL);
	if (rc == 0) {
		materialize(c);
		*name = store_name(c->s, id, len);
	}
	return rc;
}

int carry_match(struct carry *c, uint32_t id, int32_t *score)
{
	const char *name;
	size_t nl;
	int rc = enter(c, id, &name, &nl);
	if (rc != 0)
		return rc;
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

/* A unit of an ASCII name as a term folded with `flags` sees it. */
static uint32_t ascii_unit(unsigned char b, unsigned flags)
{
	return !(flags & FOLD_KEEP_CASE) && b >= 'A' && b <= 'Z' ? b + ('a' - 'A') : b;
}

/* The bytes of a name as a set of carry.bits (see BITS_NON_ASCII). */
static uint64_t name_bits(const struct carry *c, const char *name, size_t len)
{
	/* Two chains of ORs: one would wait on the OR before at every byte. */
	uint64_t a = 0, b = 0;
	size_t j = 0;
	for (; j + 2 <= len; j += 2) {
		a |= c->bits[(unsigned char)name[j]];
		b |= c->bits[(unsigned char)name[j + 1]];
	}
	if (j < len)
		a |= c->bits[(unsigned char)name[j]];
	return a | b;
}

/* What an ASCII name holds for the bound of an alignment inside it: the bits of the
 * bytes that start a word in it (see is_start), and of the term pairs it has adjacent. */
struct name_facts {
	int is_known;
	uint64_t starts, pairs;
};

static void name_facts(const struct carry *c, const char *name, size_t len, struct name_facts *f)
{
	uint64_t starts = 0, pairs = 0;
	uint8_t prev = CLASS_SLASH, prev_index = 0;
	for (size_t j = 0; j < len; j++) {
		unsigned char b = (unsigned char)name[j];
		uint8_t cls = c->classes[b], index = c->pair_index[b];
		starts |= c->is_start[prev][cls] ? c->bits[b] : 0;
		pairs |= c->pair_bits[prev_index][index];
		prev = cls;
		prev_index = index;
	}
	f->starts = starts;
	f->pairs = pairs;
	f->is_known = 1;
}

/* The most an alignment of term ct (ASCII) inside an ASCII name that holds its units can
 * score, the in-name bonus included: less than the alignment bound assumes for a first
 * unit that starts no word there, and for a unit that cannot follow the one before it,
 * which lands after a gap. */
static int32_t in_name_bound(const struct carry *c, const struct cterm *ct, const char *name,
			     size_t len, struct name_facts *facts)
{
	int32_t in_name = ct->align + BONUS_IN_NAME;
	if (!facts->is_known)
		name_facts(c, name, len, facts);
	if (ct->first_bit && !(facts->starts & ct->first_bit))
		in_name -= ct->first_slack;
	for (size_t i = 1; i < ct->t->n_units; i++)
		if (ct->pair_bit[i] && !(facts->pairs & ct->pair_bit[i]))
			in_name -= ct->loss[2 * i + (ct->unit_bit[i] &&
						     !(facts->starts & ct->unit_bit[i]))];
	return in_name;
}

/* The most term ct can add to an entry named `name` (ASCII, whose bytes are `nm`) whose
 * parent's level is x: an alignment started in the directories (ended there, or
 * continued into the name), or one inside the name, which needs every unit of the term
 * in the name; plus the claim, which needs the name to start with the term, else a whole
 * directory's bonus. */
static int32_t term_bound(const struct carry *c, const struct cterm *ct, const int32_t *x,
			  const char *name, size_t len, uint64_t nm, struct name_facts *facts)
{
	const struct term *t = ct->t;
	const size_t n = t->n_units;
	const int32_t *extra = x + 2 * n;
	int32_t v = extra[CT_BEST];
	int32_t claim = extra[CT_COMPONENT] ? BONUS_COMPONENT_EXACT : 0;
	if (!ct->is_ascii) {
		v = max32(max32(v, extra[CT_CONT]), ct->align + BONUS_IN_NAME);
		claim = BONUS_NAME_EXACT;
	} else {
		/* An alignment continued into the name needs the units it leaves for the
		 * name there. */
		const int32_t *cont = extra + CT_EXTRA;
		for (size_t i = n; i-- > 1;) {
			if (ct->tail_mask[i] & ~nm)
				break;
			v = max32(v, cont[i]);
		}
		if (!(ct->mask & ~nm))
			v = max32(v, in_name_bound(c, ct, name, len, facts));
		size_t prefix = 0;
		while (prefix < n && prefix < len &&
		       t->units[prefix] == ascii_unit((unsigned char)name[prefix], t->fold_flags))
			prefix++;
		if (prefix == n) {
			const char *dot = len > 1 ? memrchr(name + 1, '.', len - 1) : NULL;
			size_t stem = dot ? (size_t)(dot - name) : len;
			claim = len == n    ? BONUS_NAME_EXACT
				: stem == n ? BONUS_STEM_EXACT
					    : BONUS_NAME_PREFIX;
		}
	}
	return v > SCORE_NONE ? v + claim : SCORE_NONE;
}

int carry_bound(struct carry *c, uint32_t id, int32_t *bound, size_t *slashes)
{
	const char *name;
	size_t nl;
	int rc = enter(c, id, &name, &nl);
	if (rc != 0)
		return rc;
	uint64_t nm = name_bits(c, name, nl);
	if (nm & BITS_NON_ASCII)
		return CARRY_FALLBACK;
	const int32_t *top = c->state + (c->depth - 1) * c->width;
	const struct trawl_query *q = c->q;
	int64_t total = 0;
	size_t k = 0;
	struct name_facts facts = {0}; /* found once a term needs them */
	for (size_t gi = 0; gi < q->n_groups; gi++) {
		int32_t best = SCORE_NONE;
		for (size_t j = 0; j < q->groups[gi].n_terms; j++, k++)
			best = max32(best, term_bound(c, &c->terms[k], top + c->terms[k].off, name,
						      nl, nm, &facts));
		if (best == SCORE_NONE)
			return 0;
		total += best;
	}
	*bound = total > INT32_MAX ? INT32_MAX : (int32_t)total;
	/* The root "/" and each directory below it put one '/' before the name. */
	*slashes = c->depth;
	return 1;
}

int carry_parent_bound(struct carry *c, uint32_t id, uint32_t name_mask, int32_t claim_slack,
		       int32_t *bound, size_t *slashes, uint32_t *next)
{
	*next = id + 1;
	uint32_t p = c->s->parent[id];
	if (p == STORE_NO_PARENT)
		return CARRY_FALLBACK;
	int rc = set_parent(c, p, next);
	if (rc == 1)
		return 0;
	if (rc != 0)
		return rc;
	/* Whether it can match at all needs only the progress: a term can end in the
	 * directories when they hold it all, else the name must hold what they leave. */
	if (!may_complete(c, name_mask))
		return 0;
	materialize(c);
	const int32_t *top = c->state + (c->depth - 1) * c->width;
	int64_t total = 0;
	int may_claim = 0;
	size_t k = 0;
	for (size_t gi = 0; gi < c->q->n_groups; gi++) {
		int32_t best = SCORE_NONE;
		for (size_t j = 0; j < c->q->groups[gi].n_terms; j++, k++) {
			const struct cterm *ct = &c->terms[k];
			const size_t n = ct->t->n_units;
			const int32_t *extra = top + ct->off + 2 * n;
			/* Ended in the directories, or continued into the name, which must hold
			 * the units it leaves for it... */
			int32_t v = extra[CT_BEST];
			const int32_t *cont = extra + CT_EXTRA;
			for (size_t i = n; i-- > 1 && !(ct->need_from[i] & ~name_mask);)
				v = max32(v, cont[i]);
			/* ...or inside the name, which must hold them all; so must a name the
			 * term claims. */
			if (!(ct->need_from[0] & ~name_mask)) {
				v = max32(v, ct->align + BONUS_IN_NAME);
				may_claim = 1;
			}
			if (v > SCORE_NONE)
				best = max32(best,
					     v + (extra[CT_COMPONENT] ? BONUS_COMPONENT_EXACT : 0));
		}
		if (best == SCORE_NONE)
			return 0;
		total += best;
	}
	if (may_claim)
		total = claim_slack == INT32_MAX ? INT32_MAX : total + claim_slack;
	*bound = total > INT32_MAX ? INT32_MAX : (int32_t)total;
	*slashes = c->depth;
	return 1;
}

int carry_name_bounds(const struct carry *c, const char *name, size_t len, int32_t *out)
{
	uint64_t nm = name_bits(c, name, len);
	if (nm & BITS_NON_ASCII)
		return CARRY_FALLBACK;
	struct name_facts facts = {0}; /* found once a term needs them */
	for (size_t k = 0; k < c->n_terms; k++) {
		const struct cterm *ct = &c->terms[k];
		if (!ct->is_ascii)
			out[k] = ct->align + BONUS_IN_NAME;
		else if (ct->mask & ~nm)
			out[k] = SCORE_NONE;
		else
			out[k] = in_name_bound(c, ct, name, len, &facts);
	}
	return 1;
}
