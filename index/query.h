/* query.h: the parsed form of a query (internal to the library): AND of groups, each
 * group an OR of terms, each term folded once for the variant smart case chose. */
#ifndef TRAWL_QUERY_H
#define TRAWL_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "score.h"
#include "trawl_index.h"

struct term {
	enum term_kind kind;
	unsigned fold_flags; /* FOLD_KEEP_CASE / FOLD_KEEP_MARKS, from smart case */
	int is_negated;	     /* the path must not contain the term (exact) */
	uint32_t *units;     /* the folded term */
	size_t n_units;
	char *text; /* the literal, operators removed and escapes resolved */
	size_t text_len;
	char *loose; /* the loose fold of text as bytes, what postings are keyed on */
	size_t loose_len;
};

/* Matches when any of its terms matches; scores as the best of them. */
struct group {
	struct term *terms;
	size_t n_terms;
};

struct trawl_query {
	struct group *groups; /* all must match */
	size_t n_groups;
	unsigned fold_mask; /* bit v set: some term uses fold variant v */
	size_t max_units;   /* longest term, in units */
	size_t total_units; /* all positive terms together, in units */
};

/** A deep copy of q into *out. Returns 0 or -ENOMEM. */
int query_copy(const struct trawl_query *q, struct trawl_query **out);

/**
 * Whether every path that matches q also matches prev: q has prev's groups, the last of
 * them possibly a single positive fuzzy, exact or prefix term grown at its end, and may
 * add groups after them.
 */
int query_narrows(const struct trawl_query *prev, const struct trawl_query *q);

#endif
