/* delta.h: what changed since a base was built, in one append-only log that every
 * generation over that base shares: the entries added (a tree hanging from base entries),
 * when each was removed, and new directory meta. A generation sees a prefix of the log
 * through its view, and the one writer only appends or marks what no view can see yet,
 * so publishing a batch of changes costs the batch, not the size of the delta. */
#ifndef TRAWL_DELTA_H
#define TRAWL_DELTA_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "trawl_index.h"

/* A node is an entry of a generation: a base id below the log's n_base, or n_base plus the
 * index of a delta record. */
#define NODE_NONE UINT32_MAX

/* A record's `died` while it is live. */
#define DELTA_ALIVE UINT32_MAX

struct delta_record {
	const char *name; /* into the log's name arena */
	uint32_t name_len;
	uint32_t parent;       /* node */
	uint32_t prev_sibling; /* the record appended before it under the same parent */
	uint32_t prev_same;    /* the record appended before it with the same parent and name */
	/* The first epoch that no longer sees it. Only the writer stores it, once, with an
	 * epoch no published generation has yet. */
	_Atomic uint32_t died;
	uint8_t kind;
};

/* One version of a node's directory meta. */
struct delta_meta {
	struct trawl_dir_meta meta;
	uint32_t prev; /* the version it replaced, or NODE_NONE */
};

/* An open-addressing table of 64-bit slots, key << 32 | value, that the writer fills and
 * updates while readers probe it: slots are loaded and stored atomically, a slot once
 * used keeps its key, and a value a reader finds points to a record or version that was
 * complete before the slot was stored. Replaced (not resized) when it fills up, so the
 * views that hold the old one keep probing it safely. */
struct delta_table {
	atomic_uint refs;
	uint32_t n_used;
	uint64_t mask;
	_Atomic uint64_t slots[];
};

/* Records and meta versions live in segments that never move: segment k holds
 * DELTA_SEGMENT0 << k items, 2^32 items in all. */
#define DELTA_SEGMENT0_SHIFT 8
#define DELTA_SEGMENT0	     (1u << DELTA_SEGMENT0_SHIFT)
#define DELTA_SEGMENTS	     (33 - DELTA_SEGMENT0_SHIFT)

struct delta_log {
	atomic_uint refs;
	uint32_t n_base;    /* nodes below this are base ids */
	uint32_t n_records; /* appended so far, by the writer; views count their own */
	uint32_t n_metas;
	uint64_t cap_records, cap_metas; /* items the allocated segments hold */
	struct delta_record *records[DELTA_SEGMENTS];
	struct delta_meta *metas[DELTA_SEGMENTS];
	/* The writer's current tables. `names`: hash of (parent, name) -> the last record
	 * appended with that parent and name (one slot for each, several slots for a hash
	 * that several share); `kids`: node -> the last record appended under it;
	 * `meta_of`: node -> its newest meta version. */
	struct delta_table *names, *kids, *meta_of;
	/* Names are copied into chunks that never move. */
	char *chunk;
	size_t chunk_used, chunk_cap;
	char **chunks; /* every chunk, for freeing */
	size_t n_chunks, cap_chunks;
};

/* What one generation sees of a log. */
struct delta_view {
	struct delta_log *log;
	uint32_t n_records, n_metas;
	uint32_t epoch;
	struct delta_table *names, *kids, *meta_of;
	uint32_t n_live;   /* live records */
	size_t name_bytes; /* of the records seen */
	/* Meta versions of base directories that changed their mode, uid or gid: while it
	 * stays the same, so does what each user may see of the base (visibility.h). */
	uint32_t n_access_changes;
};

static inline void *delta_segment_item(void *const *segments, size_t item_bytes, uint32_t i)
{
	uint64_t x = (uint64_t)i + DELTA_SEGMENT0;
	unsigned top = 63 - (unsigned)__builtin_clzll(x);
	return (char *)segments[top - DELTA_SEGMENT0_SHIFT] + (x - (1ull << top)) * item_bytes;
}

static inline struct delta_record *delta_record(const struct delta_log *l, uint32_t r)
{
	return delta_segment_item((void *const *)l->records, sizeof(struct delta_record), r);
}

/** Whether record `r` is live in view `v`. */
static inline int delta_is_live(const struct delta_view *v, uint32_t r)
{
	return r < v->n_records && atomic_load_explicit(&delta_record(v->log, r)->died,
							memory_order_relaxed) > v->epoch;
}

/** A new empty log over a base of `n_base` entries, with one reference; NULL. */
struct delta_log *delta_log_new(uint32_t n_base);

/** Drop a reference to a log; the last one frees it. delta_log_put(NULL) is a no-op. */
void delta_log_put(struct delta_log *l);

/** A view of all of `l` so far, at `epoch`, taking references. */
void delta_view_init(struct delta_view *v, struct delta_log *l, uint32_t epoch);

/** Take another reference to what `from` refers to, into `v`. */
void delta_view_copy(struct delta_view *v, const struct delta_view *from);

/** Drop the view's references and zero it. */
void delta_view_release(struct delta_view *v);

/** The live record named `name` under node `parent` in `v`, or NODE_NONE. */
uint32_t delta_child(const struct delta_view *v, uint32_t parent, const char *name, size_t len);

/** The first live record under node `parent` in `v` (latest appended first), or NODE_NONE;
 * delta_next_child() gives the next. */
uint32_t delta_first_child(const struct delta_view *v, uint32_t parent);
uint32_t delta_next_child(const struct delta_view *v, uint32_t r);

/** Whether some record was ever appended under `parent` (live or not, seen or not). */
int delta_has_children(const struct delta_view *v, uint32_t parent);

/** The newest meta of node `node` that `v` sees into *out: returns 1, or 0 when none. */
int delta_meta(const struct delta_view *v, uint32_t node, struct trawl_dir_meta *out);

/* ---- the writer: the view is the one being built, over the log's current tables ---- */

/**
 * Make room for `records` more records with `name_bytes` bytes of names and `metas` more
 * meta versions, so that the writer's calls below cannot fail. May replace the log's
 * tables (delta_view_adopt_tables() then makes `v` use them). Returns 0, -ENOMEM, or
 * -EOVERFLOW when nodes would no longer fit 32 bits.
 */
int delta_reserve(struct delta_log *l, size_t records, size_t name_bytes, size_t metas);

/** Make `v` refer to its log's current tables. */
void delta_view_adopt_tables(struct delta_view *v);

/** Append a live record and return its index; `v` sees it. */
uint32_t delta_append(struct delta_view *v, uint32_t parent, const char *name, size_t len,
		      uint8_t kind);

/* Where a record of a parent and name is, or would go, in the names table: what
 * delta_find() found, for delta_append_found(). */
struct delta_spot {
	uint64_t pos;  /* the slot */
	uint64_t slot; /* what it held: the newest record of that parent and name, or empty */
	uint32_t key;
};

/**
 * The writer's delta_child(): the live record named `name` under node `parent`, or
 * NODE_NONE, and in *spot where a record of that parent and name goes. One probe of the
 * names table serves both the look-up and the append that often follows it.
 */
uint32_t delta_find(const struct delta_view *v, uint32_t parent, const char *name, size_t len,
		    struct delta_spot *spot);

/** The names table's key of (parent, name), for delta_prefetch() and delta_find_key(). */
uint32_t delta_name_key(uint32_t parent, const char *name, size_t len);

/** Start loading the names table's slots for `key`: a large table misses the cache on
 * nearly every probe, and probes started together wait for memory together. */
void delta_prefetch(const struct delta_view *v, uint32_t key);

/** delta_find() with the key delta_name_key() gave. */
uint32_t delta_find_key(const struct delta_view *v, uint32_t key, uint32_t parent, const char *name,
			size_t len, struct delta_spot *spot);

/**
 * delta_append() at the spot delta_find() gave for the same parent and name, when it
 * found no live record. Nothing may have been appended in between (removing may).
 */
uint32_t delta_append_found(struct delta_view *v, const struct delta_spot *spot, uint32_t parent,
			    const char *name, size_t len, uint8_t kind);

/** Mark live record `r` as removed from `v`'s epoch on. */
void delta_remove(struct delta_view *v, uint32_t r);

/** Give node `node` a new meta version; `v` sees it. */
void delta_set_meta(struct delta_view *v, uint32_t node, const struct trawl_dir_meta *meta);

/** The nodes below `hi` and at least `lo` that some record was appended under: calls
 * `fn` for each (in no order). For finding the delta under a removed base range. */
void delta_parents_in(const struct delta_view *v, uint32_t lo, uint32_t hi,
		      void (*fn)(void *ctx, uint32_t node), void *ctx);

/** How many distinct nodes records were ever appended under (the writer's count). */
static inline uint32_t delta_n_parents(const struct delta_view *v)
{
	return v->kids->n_used;
}

/** Bytes of memory what `v` sees of its log takes: records, meta versions, names and
 * the tables it holds. Reads nothing the writer changes. */
size_t delta_memory_bytes(const struct delta_view *v);

#endif
