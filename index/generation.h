/* generation.h: what one search sees: an immutable base (store + postings), the
 * tombstones of base entries removed since, and the delta of entries added since.
 * Generations are immutable once published and reference counted. */
#ifndef TRAWL_GENERATION_H
#define TRAWL_GENERATION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <roaring/roaring.h>

#include "postings.h"
#include "store.h"

struct base {
	atomic_uint refs;
	struct store store;
	struct postings postings;
	/* A base loaded from a snapshot: its store's arrays point into this read-only
	 * mapping (unmapped, not freed, with the base) and its postings are frozen views
	 * of it. NULL for a base built in memory. */
	void *mapping;
	size_t mapping_len;
};

struct delta_entry {
	size_t path_offset; /* into the generation's delta_paths */
	uint32_t path_len;
	uint8_t kind;
};

struct generation {
	atomic_uint refs;
	struct base *base;
	roaring_bitmap_t *tombstones; /* base ids no longer live */
	struct delta_entry *delta;    /* entries added since the base, in insertion order */
	size_t n_delta;
	char *delta_paths;
	size_t delta_paths_len;
};

struct trawl_index {
	pthread_mutex_t lock; /* guards `current` and taking a reference to it */
	struct generation *current;
	pthread_mutex_t writer; /* one writer at a time: add, remove, rebuild */
	unsigned threads;
};

/** A new empty base with one reference; NULL when out of memory. */
struct base *base_new(void);

/** Drop a reference to a base; the last one frees it. base_put(NULL) is a no-op. */
void base_put(struct base *b);

/**
 * Make a new index whose current generation is `base` with no changes. Takes over the
 * caller's reference to `base`, on failure too. Returns 0 or -ENOMEM.
 */
int index_from_base(struct base *base, unsigned threads, struct trawl_index **out);

/** Take a reference to the current generation; drop it with generation_put(). */
struct generation *generation_get(struct trawl_index *ix);
void generation_put(struct generation *g);

/** Whether base entry `id` is live in `g`. */
static inline int generation_base_live(const struct generation *g, uint32_t id)
{
	return !roaring_bitmap_contains(g->tombstones, id);
}

#endif
