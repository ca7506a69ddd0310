/* trawl_index.h: the public interface of the trawl index library: query parsing,
 * fuzzy matching with path-aware scoring, and ranking. Functions return 0 (or a count)
 * on success and -errno on failure; nothing here prints or exits. */
#ifndef TRAWL_INDEX_H
#define TRAWL_INDEX_H

#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------------------------------
 * Queries (syntax in docs/QUERY.md)
 */

struct trawl_query;

/** Where and why a query failed to parse. `message` is a static string. */
struct trawl_query_error {
	size_t offset_bytes; /* byte offset into the query text where the problem is */
	const char *message; /* lowercase, no full stop, e.g. "empty negation" */
};

/**
 * Parse the query text `text` of `len` bytes (any bytes; need not be NUL-terminated)
 * into `*out`. On success returns 0 and `*out` owns a query to free with
 * trawl_query_free(). On a syntax error returns -EINVAL, leaves `*out` NULL and fills
 * `*err` when it is not NULL; -E2BIG when the text exceeds TRAWL_QUERY_MAX_BYTES;
 * -ENOMEM when out of memory. An empty or all-blank query is valid and matches every path.
 */
int trawl_query_parse(const char *text, size_t len, struct trawl_query **out,
		      struct trawl_query_error *err);

/** Free a query from trawl_query_parse(). trawl_query_free(NULL) is a no-op. */
void trawl_query_free(struct trawl_query *q);

/** The longest query text trawl_query_parse() accepts, in bytes. */
#define TRAWL_QUERY_MAX_BYTES 4096

/* ---------------------------------------------------------------------------------------
 * Matching
 */

/**
 * A matcher holds the scratch memory matching needs, so that matching allocates nothing
 * per path once warmed up. One matcher per thread; a matcher can serve any query.
 */
struct trawl_matcher;

/** Allocate a matcher; NULL when out of memory. */
struct trawl_matcher *trawl_matcher_new(void);

/** Free a matcher and its scratch memory. trawl_matcher_free(NULL) is a no-op. */
void trawl_matcher_free(struct trawl_matcher *m);

/**
 * Match the path `path` of `len` bytes (any bytes, not NUL-terminated) against `q`.
 * Returns 1 and sets `*score` when it matches, 0 when it does not, -ENOMEM when scratch
 * memory could not grow. Higher scores rank first; see trawl_rank_cmp() for ties.
 */
int trawl_match(struct trawl_matcher *m, const struct trawl_query *q, const char *path, size_t len,
		int32_t *score);

/**
 * Like trawl_match(), and also fill `positions` with the byte offsets into `path` of the
 * first byte of every matched character, ascending and without duplicates, up to `cap`
 * of them; `*n_positions` gets the number written. Slower than trawl_match(): call it for
 * the results that are shown, not for every candidate.
 */
int trawl_match_positions(struct trawl_matcher *m, const struct trawl_query *q, const char *path,
			  size_t len, int32_t *score, uint32_t *positions, size_t cap,
			  size_t *n_positions);

/**
 * Order two matches of the same query, best first: higher score, then fewer path
 * components, then the shorter path, then byte order. Returns <0 when `a` ranks before
 * `b`, >0 when after, 0 only for identical paths. Deterministic: the order of input
 * never matters.
 */
int trawl_rank_cmp(int32_t score_a, const char *path_a, size_t len_a, int32_t score_b,
		   const char *path_b, size_t len_b);

#endif
