/* score.h: scoring one query term against one folded path: the fuzzy alignment
 * (dynamic programme with affine gaps and bonuses), contiguous matches for the exact
 * operators, and the path-aware bonuses on top. Pure: no I/O, no allocation. */
#ifndef TRAWL_SCORE_H
#define TRAWL_SCORE_H

#include <stddef.h>
#include <stdint.h>

#include "fold.h"
#include "tunables.h"

/* Scores below this mean "no match"; real scores are far above it. */
#define SCORE_NONE (INT32_MIN / 4)

/** One fold of a path, ready to be scored against. */
struct subject {
	const uint32_t *units;
	const int8_t *bonus; /* bonus[j]: the bonus for matching units[j], by its context */
	size_t len;
	size_t name_start; /* first unit of the basename */
	size_t stem_end;   /* end of the basename without its last extension */
};

enum term_kind {
	TERM_FUZZY,  /* characters in order, gaps allowed */
	TERM_EXACT,  /* 'x: a contiguous substring */
	TERM_PREFIX, /* ^x: contiguous, at the start of a component */
	TERM_SUFFIX, /* x$: contiguous, at the end of the path */
	TERM_EQUAL,  /* ^x$: contiguous, from a component start to the end */
};

/** Scratch memory for the dynamic programme; rows * cols int32 cells per matrix. */
struct score_scratch {
	int32_t *d;   /* d[i][j]: best score of term[0..i] with term[i] matched at j */
	int32_t *g;   /* g[i][j]: best score of term[0..i] matched before j, j unmatched */
	size_t cells; /* capacity of d and g */
	uint32_t lo[TERM_MAX_UNITS];
	uint32_t hi[TERM_MAX_UNITS];
};

/** Fill bonus[0..len) from the classes of a fold (the lookup table lives in score.c). */
void score_bonuses(int8_t *bonus, const uint8_t *classes, size_t len);

/** The bonus for matching a character of class `cur` that follows one of class `prev`. */
int32_t score_bonus_after(uint8_t prev, uint8_t cur);

/** Locate the basename and stem of a folded path. */
void score_locate_name(struct subject *s);

/**
 * Score `term` (n units) of `kind` against `s`. Returns the score, or SCORE_NONE when it
 * does not match. When `positions` is not NULL it receives the n matched unit indices
 * (then `scratch` must hold n * s->len cells for the full matrices; otherwise 2 rows).
 */
int32_t score_term(struct score_scratch *scratch, enum term_kind kind, const uint32_t *term,
		   size_t n, const struct subject *s, uint32_t *positions);

/**
 * The part of score_term()'s result that says the term names the path's basename: the
 * bonus for equal to it, equal to its stem, or a prefix of it; 0 otherwise.
 */
int32_t score_name_claim(const uint32_t *term, size_t n, const struct subject *s);

/** The most any character can earn as a bonus. */
int32_t score_best_bonus(void);

/**
 * The most term unit i > 0 can add beyond SCORE_MATCH in any alignment of `term`, given
 * that the unit before it is term[i - 1].
 */
int32_t score_char_bound(const uint32_t *term, size_t i);

/**
 * The best alignment score of a term of n units whose first unit does not earn the
 * in-name bonus, with no tail penalty: an upper bound on any alignment that starts in a
 * directory.
 */
int32_t score_alignment_bound(const uint32_t *term, size_t n);

/** Cells of scratch score_term() needs for a term of n units against s. */
size_t score_cells_needed(size_t n, const struct subject *s, int with_positions);

/**
 * The score of one given alignment: term[k] matched at positions[k], ascending. The
 * dynamic programme's result is the maximum of this over all alignments (tests rely on
 * it), and the fallback for very long paths scores its greedy alignment with it.
 */
int32_t score_alignment(const uint32_t *term, size_t n, const struct subject *s,
			const uint32_t *positions);

#endif
