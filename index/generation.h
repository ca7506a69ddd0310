/* generation.h: what one search sees: an immutable base (store, postings, directory
 * meta), the tombstones of base entries removed since, and a view of the delta log
 * (entries added since, meta changed since). Generations are immutable once published
 * and reference counted. Entries of a generation are "nodes" (delta.h): base ids, then
 * delta records. */
#ifndef TRAWL_GENERATION_H
#define TRAWL_GENERATION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <roaring/roaring.h>

#include "delta.h"
#include "dirmeta.h"
#include "postings.h"
#include "store.h"

struct base {
	atomic_uint refs;
	/* Unique to this base within the process (never reused, unlike its address): what a
	 * visibility (visibility.h) was built for. */
	uint64_t serial;
	struct store store;
	struct postings postings;
	struct dirmeta meta;
	/* A base loaded from a snapshot: its store's and meta's arrays point into this
	 * read-only mapping (unmapped, not freed, with the base) and its postings are
	 * frozen views of it. NULL for a base built in memory. */
	void *mapping;
	size_t mapping_len;
	/* Whether some name folds to nothing or holds a '/' once folded (a fullwidth
	 * solidus): such an entry's path has another basename than its name. Found on the
	 * first search that asks (0: not yet known, 1: none, 2: some). */
	atomic_int odd_folds;
};

struct generation {
	atomic_uint refs;
	struct base *base;
	roaring_bitmap_t *tombstones; /* base ids no longer live; a removed id's subtree too */
	struct delta_view delta;
};

/* Invariants every generation keeps: the root (base id 0, "/") is live and a directory;
 * a live entry's parent is a live directory; removing an entry removes its subtree; at
 * most one live entry has a given path. */

struct trawl_index {
	pthread_mutex_t lock; /* guards `current` and taking a reference to it */
	struct generation *current;
	pthread_mutex_t writer; /* one writer at a time: apply, rebuild */
	unsigned threads;
};

/** A new empty base with one reference; NULL when out of memory. */
struct base *base_new(void);

/** Drop a reference to a base; the last one frees it. base_put(NULL) is a no-op. */
void base_put(struct base *b);

/** Fill the base's meta with zeros for every directory (a base built from a list). */
int base_meta_zero(struct base *b);

/**
 * Make a new index whose current generation is `base` with no changes. Takes over the
 * caller's reference to `base`, on failure too. Returns 0 or -ENOMEM.
 */
int index_from_base(struct base *base, unsigned threads, struct trawl_index **out);

/** A generation over `base` (taking a reference) with no changes and a new delta log;
 * NULL when out of memory. */
struct generation *generation_new(struct base *base);

/** Make `g` current (the writer, holding ix->writer); the index's reference to the old
 * one is dropped. */
void index_publish(struct trawl_index *ix, struct generation *g);

/** Fold the delta into a new base and publish it; the writer, holding ix->writer. */
int rebuild_locked(struct trawl_index *ix);

/** Take a reference to the current generation; drop it with generation_put(). */
struct generation *generation_get(struct trawl_index *ix);
void generation_put(struct generation *g);

/** Whether base entry `id` is live in `g`. */
static inline int generation_base_live(const struct generation *g, uint32_t id)
{
	return !roaring_bitmap_contains(g->tombstones, id);
}

static inline uint32_t generation_n_base(const struct generation *g)
{
	return g->base->store.n_entries;
}

static inline const struct delta_record *generation_record(const struct generation *g,
							   uint32_t node)
{
	return delta_record(g->delta.log, node - generation_n_base(g));
}

/** Whether `node` is live in `g`. */
int generation_node_live(const struct generation *g, uint32_t node);

/** The kind (enum trawl_kind) of `node`. */
unsigned generation_node_kind(const struct generation *g, uint32_t node);

/** The name of `node` and its length. */
const char *generation_node_name(const struct generation *g, uint32_t node, size_t *len);

/** The parent node of `node`, or NODE_NONE for the root. */
uint32_t generation_node_parent(const struct generation *g, uint32_t node);

/** The meta of directory `node` as `g` sees it: its newest change, else the base's. */
void generation_node_meta(const struct generation *g, uint32_t node, struct trawl_dir_meta *out);

/**
 * Write the path of `node` into buf (cap bytes) and return its length. When it does not
 * fit, returns the length it needs and writes nothing useful.
 */
size_t generation_node_path(const struct generation *g, uint32_t node, char *buf, size_t cap);

/**
 * The live node at `path` (absolute; trailing '/' allowed) into *node. `nf` is scratch.
 * Returns 0, -ENOENT (no such live entry, or not a path the index could hold), -ENOMEM.
 */
int generation_resolve(const struct generation *g, struct name_folder *nf, const char *path,
		       size_t len, uint32_t *node);

/** `len` without trailing slashes (but "/" stays). */
static inline size_t path_trim(const char *path, size_t len)
{
	while (len > 1 && path[len - 1] == '/')
		len--;
	return len;
}

#endif
