/* carry.h: scoring base entries in id order with the matcher's state carried from each
 * directory to its children, so an entry costs its name, not its whole path. The score
 * is exactly trawl_match()'s on the entry's full path. */
#ifndef TRAWL_CARRY_H
#define TRAWL_CARRY_H

#include <stdint.h>

#include "store.h"
#include "trawl_index.h"

/* carry_match() could not score this entry this way: use trawl_match() on its path. */
#define CARRY_FALLBACK 2

struct carry;

/**
 * A carrier for `q` over the entries of `s`, in *out; *out is NULL (and 0 returned) when
 * the query has a term it cannot carry (only positive fuzzy terms are carried).
 * `subtree_masks` (postings.h; may be NULL) lets carry_parent_bound() rule out whole
 * subtrees. Returns 0 or -ENOMEM. One carrier per thread.
 */
int carry_new(const struct trawl_query *q, const struct store *s, const uint32_t *subtree_masks,
	      struct carry **out);

/** Free a carrier. carry_free(NULL) is a no-op. */
void carry_free(struct carry *c);

/**
 * Score base entry `id` as trawl_match() would score its path: 1 and *score when it
 * matches, 0 when it does not, CARRY_FALLBACK when the caller must use trawl_match()
 * (the root itself, a path too long for the programme), -ENOMEM. Cheapest when
 * successive calls have the same parent, as in a scan in id order.
 */
int carry_match(struct carry *c, uint32_t id, int32_t *score);

/**
 * An upper bound on carry_match()'s score for base entry `id`, cheaper than the score:
 * 1 with *bound and the number of '/' in the entry's path in *slashes; 0 when the entry
 * cannot match; CARRY_FALLBACK (a root, a name that is not ASCII, a path the carrier
 * cannot hold); -ENOMEM.
 */
int carry_bound(struct carry *c, uint32_t id, int32_t *bound, size_t *slashes);

/**
 * An upper bound on carry_match()'s score for base entry `id` from its directories and
 * its name's mask alone (postings.h; UINT32_MAX when unknown), the name itself unread,
 * given that a name claim adds at most `claim_slack` (INT32_MAX: unknown): 1 with *bound
 * (INT32_MAX when it cannot be bounded) and *slashes as carry_bound() gives them; 0 when
 * the entry cannot match; CARRY_FALLBACK (a root, a chain the carrier cannot hold);
 * -ENOMEM. *next is the first id after `id` that may match: past `id`'s parent's subtree,
 * or a part of it, when the subtree masks show nothing there can.
 */
int carry_parent_bound(struct carry *c, uint32_t id, uint32_t name_mask, int32_t claim_slack,
		       int32_t *bound, size_t *slashes, uint32_t *next);

/**
 * For each carried term k (groups flattened), the most an alignment of it inside the name
 * `name` can score, the in-name bonus included, no claim: out[k], SCORE_NONE when the
 * name cannot hold the term. Returns 1, or CARRY_FALLBACK when the name is not ASCII.
 */
int carry_name_bounds(const struct carry *c, const char *name, size_t len, int32_t *out);

#endif
