/* visibility.h: what one user may see of a generation. The base entries hidden from the
 * user are a bitmap of id ranges (a closed directory hides its subtree, which pre-order
 * numbers as one range); delta entries are checked against their parents' meta as a
 * search meets them. */
#ifndef TRAWL_VISIBILITY_H
#define TRAWL_VISIBILITY_H

#include <stdint.h>

#include <roaring/roaring.h>

#include "generation.h"
#include "trawl_index.h"

struct trawl_visibility {
	uint32_t uid, gid;
	uint32_t *groups; /* supplementary groups, ascending, unique */
	size_t n_groups;
	int is_everything; /* uid 0: no bitmap, nothing hidden */
	/* The base and its access changes (delta.h) the bitmap was built for. */
	uint64_t base_serial;
	uint32_t n_access_changes;
	roaring_bitmap_t *hidden; /* base ids the user may not see; NULL when is_everything */
};

/** Whether `v`'s bitmap describes the base of `g` (or there is none to describe it). */
int visibility_fits(const struct trawl_visibility *v, const struct generation *g);

/**
 * A visibility for `g` with `v`'s user into *own: NULL when `v` fits `g` already (use
 * `v`), else a new one to free with trawl_visibility_free(). Returns 0 or -ENOMEM.
 */
int visibility_for(const struct trawl_visibility *v, const struct generation *g,
		   struct trawl_visibility **own);

/** Whether the user may read and search directory `meta`, by its mode and owner alone. */
int visibility_opens(const struct trawl_visibility *v, const struct trawl_dir_meta *meta);

/**
 * Whether the user may list live directory `node` of `g`: it is open, and so is every
 * directory above it. `v` must fit `g` (visibility_fits()): base directories are looked up
 * in its bitmap, delta ones followed up to the base.
 */
int visibility_node_open(const struct trawl_visibility *v, const struct generation *g,
			 uint32_t node);

/** Whether the user may see live `node` of `g`: the root, or a node whose parent it may
 * list. `v` must fit `g`. */
int visibility_node_visible(const struct trawl_visibility *v, const struct generation *g,
			    uint32_t node);

#endif
