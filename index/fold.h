/* fold.h: normalization of paths and query terms into "units" (folded code points)
 * that the matcher compares, with the byte offset and character class of each. */
#ifndef TRAWL_FOLD_H
#define TRAWL_FOLD_H

#include <stddef.h>
#include <stdint.h>

/* What a fold keeps. Smart case and smart normalization pick one per query term:
 * a term with an uppercase letter keeps case, a term with a diacritic keeps marks. */
enum {
	FOLD_KEEP_CASE = 1u << 0,  /* else: full Unicode case folding (ß -> ss) */
	FOLD_KEEP_MARKS = 1u << 1, /* else: compatibility decomposition, marks stripped */
	FOLD_VARIANTS = 4,
};

/* A byte that is not part of valid UTF-8 folds to itself, as a unit outside Unicode so it
 * can never equal a real character. */
#define FOLD_RAW_BYTE_BASE 0x110000u

/* Character classes, for the matcher's bonus table. */
enum fold_class {
	CLASS_SLASH,  /* '/' */
	CLASS_DELIM,  /* ASCII punctuation and whitespace: word separators in names */
	CLASS_LOWER,  /* lowercase letters */
	CLASS_UPPER,  /* uppercase and titlecase letters */
	CLASS_DIGIT,  /* decimal digits */
	CLASS_LETTER, /* anything else: uncased letters, symbols, invalid bytes */
	CLASS_COUNT,
};

/** A folded string: parallel arrays of `len` units, owned by the caller. */
struct fold_buf {
	uint32_t *units;   /* folded code points, or FOLD_RAW_BYTE_BASE + byte */
	uint32_t *offsets; /* byte offset in the source of the character each unit came from */
	uint8_t *classes;  /* enum fold_class of that source character */
	size_t len;
	size_t cap;
};

void fold_buf_init(struct fold_buf *b);
void fold_buf_release(struct fold_buf *b);

/**
 * Fold `len` bytes of `s` with `flags` (FOLD_KEEP_*) into `b`, replacing its contents,
 * growing it as needed. NFC and NFD spellings fold to the same units. Returns 0, or
 * -ENOMEM (then `b` is empty).
 */
int fold(struct fold_buf *b, const char *s, size_t len, unsigned flags);

/**
 * Fold `len` bytes of `s` loosely (case folded, marks stripped) and encode the units into
 * `out` (cap bytes): each unit as UTF-8, each raw byte as itself. This is the byte form
 * postings and name order are keyed on. `b` is scratch. Returns the length, which may
 * exceed cap (then nothing past cap was written), or -ENOMEM.
 */
long fold_loose_bytes(struct fold_buf *b, const char *s, size_t len, char *out, size_t cap);

/**
 * Whether the bytes `loose` (a loose fold) occur in order in the ASCII text `s`, which
 * folds to itself lowercased. A cheap necessary condition for a match; text with bytes
 * >= 0x80 must not be judged by it.
 */
int fold_is_ascii_subsequence(const char *loose, size_t n, const char *s, size_t len);

/** Whether the term text has an uppercase letter (smart case keeps case for it). */
int fold_has_upper(const char *s, size_t len);

/** Whether the term text has a combining mark once decomposed (smart normalization). */
int fold_has_mark(const char *s, size_t len);

#endif
