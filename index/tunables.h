/* tunables.h: every tuning constant of the index library, in one place, each with its
 * reason. Scores are integers; one matched character is worth SCORE_MATCH. */
#ifndef TRAWL_TUNABLES_H
#define TRAWL_TUNABLES_H

/* Each matched character. fzf's value; bonuses below are sized against it. */
#define SCORE_MATCH 16

/* Affine gap between two matched characters: a gap of g skipped characters costs
 * GAP_START + (g - 1) * GAP_EXTEND. Leading and trailing gaps are free: the length
 * tie-break already prefers shorter paths. */
#define GAP_START  (-3)
#define GAP_EXTEND (-1)

/* Bonuses for matching the character at a position, by what precedes it. */
#define BONUS_COMPONENT 10 /* first character of a path component (after '/') */
#define BONUS_DELIMITER 9  /* after a delimiter: _ - . space and other punctuation */
#define BONUS_CAMEL	7  /* an uppercase after a lowercase, a digit after a non-digit */
#define BONUS_PUNCT	4  /* the matched character is itself punctuation */

/* A character matched right after the previous one earns at least this; runs are what
 * people type, so a run beats a scatter of word starts. */
#define BONUS_CONSECUTIVE 8

/* The bonus of a term's first matched character counts this many times (fzf: 2): where a
 * term starts is the strongest signal of what was meant. */
#define FIRST_CHAR_MULTIPLIER 2

/* Path awareness. A term whose alignment starts inside the basename earns BONUS_IN_NAME:
 * people type names, not directories. */
#define BONUS_IN_NAME 24

/* A term that is a whole component: the basename itself, the basename without its last
 * extension (stem), a prefix of the basename, or a whole directory name. Exact
 * equality beats any fuzzy alignment of the same term. */
#define BONUS_NAME_EXACT      400
#define BONUS_STEM_EXACT      300
#define BONUS_NAME_PREFIX     48
#define BONUS_COMPONENT_EXACT 32

/* A path has one basename: in a query of several terms, only the term that names it
 * best keeps its name bonus (equal, stem, prefix), and it keeps only 1/this of it unless
 * it is the last term, where people type the name. */
#define NAME_CLAIM_EARLY_DIVISOR 2

/* Each unmatched character of the basename after the term's last match in it costs this
 * (up to BASENAME_TAIL_MAX_PENALTY): of two names matched alike, the one the term covers
 * more of is the better guess. */
#define PENALTY_NAME_TAIL     1
#define PENALTY_NAME_TAIL_MAX 16

/* Bound on the dynamic programme: a term of n units against a path of m units costs n*m
 * cells. Beyond this the matcher scores one greedy alignment instead (fzf v1 style). */
#define DP_MAX_CELLS (1u << 20)

/* Longest term, in folded units. */
#define TERM_MAX_UNITS 256

#endif
