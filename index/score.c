/* score.c: the scoring of one term against one folded path. The fuzzy score is an
 * optimal alignment (Gotoh-style, affine gaps) under the bonuses of tunables.h; exact
 * operators score their best contiguous occurrence with the same per-character rules,
 * so every kind of term is on one scale. */
#include "score.h"

#include <string.h>

#include "tunables.h"

/* bonus_table[prev][cur]: the bonus for matching a character of class cur that follows
 * one of class prev. The start of a path counts as following a '/'. */
static const int8_t bonus_table[CLASS_COUNT][CLASS_COUNT] = {
    /* prev:                SLASH         DELIM         LOWER  UPPER         DIGIT         LETTER */
    [CLASS_SLASH] = {BONUS_PUNCT, BONUS_PUNCT, BONUS_COMPONENT, BONUS_COMPONENT, BONUS_COMPONENT,
		     BONUS_COMPONENT},
    [CLASS_DELIM] = {BONUS_PUNCT, BONUS_PUNCT, BONUS_DELIMITER, BONUS_DELIMITER, BONUS_DELIMITER,
		     BONUS_DELIMITER},
    [CLASS_LOWER] = {BONUS_PUNCT, BONUS_PUNCT, 0, BONUS_CAMEL, BONUS_CAMEL, 0},
    [CLASS_UPPER] = {BONUS_PUNCT, BONUS_PUNCT, 0, 0, BONUS_CAMEL, 0},
    [CLASS_DIGIT] = {BONUS_PUNCT, BONUS_PUNCT, 0, 0, 0, 0},
    [CLASS_LETTER] = {BONUS_PUNCT, BONUS_PUNCT, 0, 0, BONUS_CAMEL, 0},
};

void score_bonuses(int8_t *bonus, const uint8_t *classes, size_t len)
{
	uint8_t prev = CLASS_SLASH;
	for (size_t j = 0; j < len; j++) {
		bonus[j] = bonus_table[prev][classes[j]];
		prev = classes[j];
	}
}

int32_t score_bonus_after(uint8_t prev, uint8_t cur)
{
	return bonus_table[prev][cur];
}

void score_locate_name(struct subject *s)
{
	size_t end = s->len;
	/* A trailing '/' (the root, or a path given as "dir/") does not end a name. */
	while (end > 1 && s->units[end - 1] == '/')
		end--;
	size_t start = end;
	while (start > 0 && s->units[start - 1] != '/')
		start--;
	s->name_start = start;
	s->stem_end = s->len;
	/* The stem ends at the last '.', unless that dot starts the name (".bashrc"). */
	for (size_t j = end; j > start + 1; j--) {
		if (s->units[j - 1] == '.') {
			s->stem_end = j - 1;
			break;
		}
	}
}

static int32_t max32(int32_t a, int32_t b)
{
	return a > b ? a : b;
}

/* Bonus for the first matched character of a term at j. */
static int32_t first_bonus(const struct subject *s, size_t j)
{
	return FIRST_CHAR_MULTIPLIER * s->bonus[j] + (j >= s->name_start ? BONUS_IN_NAME : 0);
}

/* Cost of leaving basename characters unmatched after a term's last match at j. */
static int32_t tail_penalty(const struct subject *s, size_t j)
{
	if (j < s->name_start)
		return PENALTY_NAME_TAIL_MAX;
	size_t tail = s->len - 1 - j;
	return tail * PENALTY_NAME_TAIL > PENALTY_NAME_TAIL_MAX ? PENALTY_NAME_TAIL_MAX
								: (int32_t)tail * PENALTY_NAME_TAIL;
}

int32_t score_alignment(const uint32_t *term, size_t n, const struct subject *s,
			const uint32_t *pos)
{
	if (n == 0)
		return 0;
	if (pos[0] >= s->len || s->units[pos[0]] != term[0])
		return SCORE_NONE;
	int32_t score = SCORE_MATCH + first_bonus(s, pos[0]);
	for (size_t k = 1; k < n; k++) {
		size_t j = pos[k];
		if (j <= pos[k - 1] || j >= s->len || s->units[j] != term[k])
			return SCORE_NONE;
		if (j == pos[k - 1] + 1) {
			score += SCORE_MATCH + max32(BONUS_CONSECUTIVE, s->bonus[j]);
		} else {
			size_t gap = j - pos[k - 1] - 1;
			score +=
			    SCORE_MATCH + s->bonus[j] + GAP_START + (int32_t)(gap - 1) * GAP_EXTEND;
		}
	}
	return score - tail_penalty(s, pos[n - 1]);
}

/* Greedy bounds: lo[i] is the leftmost position term[i] can take in any alignment,
 * hi[i] the rightmost. Returns 0 when the term is not a subsequence at all: the cheap
 * check that runs before the programme. */
static int subsequence_bounds(const uint32_t *term, size_t n, const struct subject *s, uint32_t *lo,
			      uint32_t *hi)
{
	size_t j = 0;
	for (size_t i = 0; i < n; i++, j++) {
		while (j < s->len && s->units[j] != term[i])
			j++;
		if (j == s->len)
			return 0;
		lo[i] = (uint32_t)j;
	}
	j = s->len;
	for (size_t i = n; i-- > 0;) {
		do
			j--;
		while (s->units[j] != term[i]);
		hi[i] = (uint32_t)j;
	}
	return 1;
}

size_t score_cells_needed(size_t n, const struct subject *s, int with_positions)
{
	return (with_positions ? n : 2) * s->len;
}

/* Walk the full matrices back from d[n-1][end] to recover one optimal alignment. */
static void traceback(const struct score_scratch *x, size_t n, const struct subject *s, size_t end,
		      uint32_t *pos)
{
	const size_t m = s->len;
	size_t j = end;
	for (size_t i = n - 1;; i--) {
		pos[i] = (uint32_t)j;
		if (i == 0)
			break;
		const int32_t *d_prev = x->d + (i - 1) * m;
		const int32_t *g_prev = x->g + (i - 1) * m;
		int32_t here = x->d[i * m + j] - SCORE_MATCH;
		if (j - 1 >= x->lo[i - 1] && d_prev[j - 1] > SCORE_NONE &&
		    here == d_prev[j - 1] + max32(BONUS_CONSECUTIVE, s->bonus[j])) {
			j--;
			continue;
		}
		/* Came through a gap: follow g back to the match that opened it. */
		size_t k = j - 1;
		while (!(k - 1 >= x->lo[i - 1] && g_prev[k] == d_prev[k - 1] + GAP_START))
			k--;
		j = k - 1;
	}
}

static int32_t score_fuzzy(struct score_scratch *x, const uint32_t *term, size_t n,
			   const struct subject *s, uint32_t *pos)
{
	if (n > TERM_MAX_UNITS || !subsequence_bounds(term, n, s, x->lo, x->hi))
		return SCORE_NONE;
	const size_t m = s->len;
	if (n * m > DP_MAX_CELLS || x->cells < score_cells_needed(n, s, pos != NULL)) {
		/* Too long for the programme: score the compact greedy alignment that ends
		 * at the rightmost possible position (hi[] read right to left). */
		int32_t score = score_alignment(term, n, s, x->hi);
		if (pos)
			memcpy(pos, x->hi, n * sizeof(*pos));
		return score;
	}
	int32_t best = SCORE_NONE;
	size_t best_j = 0;
	for (size_t i = 0; i < n; i++) {
		int32_t *d = x->d + (pos ? i : (i & 1)) * m;
		int32_t *g = x->g + (pos ? i : (i & 1)) * m;
		const int32_t *d_prev = x->d + (pos ? i - 1 : ((i - 1) & 1)) * m;
		const int32_t *g_prev = x->g + (pos ? i - 1 : ((i - 1) & 1)) * m;
		/* Row i is needed from lo[i] (nothing matches term[i] earlier) up to where
		 * row i + 1 stops reading it, hi[i + 1] - 1. */
		size_t from = x->lo[i];
		size_t to = i + 1 < n ? x->hi[i + 1] : x->hi[i] + 1;
		int32_t d_left = SCORE_NONE, g_left = SCORE_NONE;
		for (size_t j = from; j < to; j++) {
			int32_t dv = SCORE_NONE;
			if (s->units[j] == term[i] && j <= x->hi[i]) {
				if (i == 0) {
					dv = SCORE_MATCH + first_bonus(s, j);
				} else if (j > x->lo[i - 1]) {
					/* Invariant: row i - 1 holds valid cells from lo[i - 1]
					 * to hi[i] - 1, which covers j - 1 here. */
					int32_t run =
					    d_prev[j - 1] + max32(BONUS_CONSECUTIVE, s->bonus[j]);
					int32_t jump = g_prev[j - 1] + s->bonus[j];
					int32_t v = max32(run, jump);
					if (v > SCORE_NONE)
						dv = SCORE_MATCH + v;
				}
			}
			int32_t gv = max32(d_left + GAP_START, g_left + GAP_EXTEND);
			if (gv < SCORE_NONE)
				gv = SCORE_NONE;
			d[j] = dv;
			g[j] = gv;
			d_left = dv;
			g_left = gv;
			if (i == n - 1 && dv > SCORE_NONE) {
				int32_t total = dv - tail_penalty(s, j);
				if (total > best) {
					best = total;
					best_j = j;
				}
			}
		}
	}
	if (pos && best > SCORE_NONE)
		traceback(x, n, s, best_j, pos);
	return best;
}

/* Whether a contiguous occurrence may start at j for this kind of term. */
static int contiguous_allowed(enum term_kind kind, const struct subject *s, size_t j, size_t n)
{
	int at_component = j == 0 || s->units[j - 1] == '/';
	int at_end = j + n == s->len;
	switch (kind) {
	case TERM_PREFIX:
		return at_component;
	case TERM_SUFFIX:
		return at_end;
	case TERM_EQUAL:
		return at_component && at_end;
	default:
		return 1;
	}
}

static int32_t score_contiguous(enum term_kind kind, const uint32_t *term, size_t n,
				const struct subject *s, uint32_t *pos)
{
	if (n == 0 || n > s->len)
		return SCORE_NONE;
	int32_t best = SCORE_NONE;
	size_t best_j = 0;
	size_t j = kind == TERM_SUFFIX || kind == TERM_EQUAL ? s->len - n : 0;
	for (; j + n <= s->len; j++) {
		if (s->units[j] != term[0] || !contiguous_allowed(kind, s, j, n) ||
		    memcmp(s->units + j, term, n * sizeof(*term)) != 0)
			continue;
		int32_t v = SCORE_MATCH + first_bonus(s, j);
		for (size_t k = 1; k < n; k++)
			v += SCORE_MATCH + max32(BONUS_CONSECUTIVE, s->bonus[j + k]);
		v -= tail_penalty(s, j + n - 1);
		if (v > best) {
			best = v;
			best_j = j;
		}
	}
	if (pos && best > SCORE_NONE)
		for (size_t k = 0; k < n; k++)
			pos[k] = (uint32_t)(best_j + k);
	return best;
}

static int units_equal(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
	return na == nb && memcmp(a, b, na * sizeof(*a)) == 0;
}

int32_t score_best_bonus(void)
{
	return max32(max32(BONUS_COMPONENT, BONUS_DELIMITER), max32(BONUS_CAMEL, BONUS_PUNCT));
}

/* After a gap a unit earns at most the best bonus plus GAP_START. Right after the
 * previous match it earns max(BONUS_CONSECUTIVE, its bonus), and its bonus depends on
 * the previous path character, which is the previous term unit: a component start only
 * after '/', a delimiter's after ASCII punctuation or a non-ASCII character, else
 * camelCase at best. */
int32_t score_char_bound(const uint32_t *term, size_t i)
{
	uint32_t prev = term[i - 1];
	int32_t bonus = BONUS_CAMEL;
	if (prev == '/')
		bonus = BONUS_COMPONENT;
	else if (prev >= 0x80 || !((prev >= 'a' && prev <= 'z') || (prev >= 'A' && prev <= 'Z') ||
				   (prev >= '0' && prev <= '9')))
		bonus = max32(BONUS_DELIMITER, BONUS_PUNCT);
	return max32(max32(BONUS_CONSECUTIVE, bonus), score_best_bonus() + GAP_START);
}

int32_t score_alignment_bound(const uint32_t *term, size_t n)
{
	int32_t v = SCORE_MATCH * (int32_t)n + FIRST_CHAR_MULTIPLIER * score_best_bonus();
	for (size_t i = 1; i < n; i++)
		v += score_char_bound(term, i);
	return v;
}

int32_t score_name_claim(const uint32_t *term, size_t n, const struct subject *s)
{
	const uint32_t *name = s->units + s->name_start;
	size_t name_len = s->len - s->name_start;
	if (units_equal(term, n, name, name_len))
		return BONUS_NAME_EXACT;
	if (units_equal(term, n, name, s->stem_end - s->name_start))
		return BONUS_STEM_EXACT;
	if (n < name_len && memcmp(term, name, n * sizeof(*term)) == 0)
		return BONUS_NAME_PREFIX;
	return 0;
}

/* The bonus for a term that is a whole component of the path, beyond its alignment:
 * the name's (see score_name_claim), else a whole directory's. */
static int32_t component_bonus(const uint32_t *term, size_t n, const struct subject *s)
{
	int32_t claim = score_name_claim(term, n, s);
	if (claim)
		return claim;
	for (size_t start = 0; start + n < s->name_start;) {
		size_t end = start;
		while (end < s->name_start && s->units[end] != '/')
			end++;
		if (units_equal(term, n, s->units + start, end - start))
			return BONUS_COMPONENT_EXACT;
		start = end + 1;
	}
	return 0;
}

int32_t score_term(struct score_scratch *x, enum term_kind kind, const uint32_t *term, size_t n,
		   const struct subject *s, uint32_t *positions)
{
	int32_t v = kind == TERM_FUZZY ? score_fuzzy(x, term, n, s, positions)
				       : score_contiguous(kind, term, n, s, positions);
	if (v == SCORE_NONE)
		return SCORE_NONE;
	return v + component_bonus(term, n, s);
}
