/* store.h: the entry store of one base generation: entries in depth-first pre-order
 * (so every subtree is the id range [id, store_subtree_end(s, id))), each with its parent
 * and a name id; distinct names stored once, with the entries that bear each name. */
#ifndef TRAWL_STORE_H
#define TRAWL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "fold.h"

#define STORE_NO_PARENT UINT32_MAX

struct store {
	uint32_t n_entries;
	uint32_t *parent;  /* parent id, or STORE_NO_PARENT for a root */
	uint32_t *name_id; /* index into the name table */
	uint8_t *kind;	   /* enum trawl_kind */

	/* Subtree ends, kept for directories only: only a directory has children, so any
	 * other entry's subtree is [id, id + 1). store_subtree_end() reads them. */
	uint32_t n_dirs;    /* entries of kind TRAWL_KIND_DIR */
	uint64_t *dir_bits; /* bit `id`: entry id is a directory; store_words() words */
	uint32_t *dir_rank; /* per word of dir_bits: the directories before it */
	uint32_t *dir_end;  /* per directory, in id order: its subtree's exclusive end */

	uint32_t n_names;
	uint32_t *name_offset; /* n_names + 1 offsets into name_bytes */
	char *name_bytes;      /* every distinct name once, original bytes */
	size_t name_bytes_len;

	/* The entries bearing each name: name_entries[name_entries_offset[k] ..
	 * name_entries_offset[k + 1]), ascending ids. */
	uint32_t *name_entries_offset;
	uint32_t *name_entries;
};

/** Words of store.dir_bits (and items of store.dir_rank) for `n_entries` entries. */
static inline size_t store_words(uint32_t n_entries)
{
	return ((size_t)n_entries + 63) / 64;
}

/** Whether entry `id` is a directory (kind TRAWL_KIND_DIR). */
static inline int store_is_dir(const struct store *s, uint32_t id)
{
	return (int)((s->dir_bits[id / 64] >> (id % 64)) & 1);
}

/** The rank of entry `id` among the directories: how many come before it, the count
 * before its word plus the set bits below it in the word. */
static inline uint32_t store_dir_rank(const struct store *s, uint32_t id)
{
	uint64_t below = s->dir_bits[id / 64] & ((1ull << (id % 64)) - 1);
	return s->dir_rank[id / 64] + (uint32_t)__builtin_popcountll(below);
}

/** The exclusive end of the subtree of entry `id`: its descendants are the ids
 * (id, end). A directory's end is found by its rank. */
static inline uint32_t store_subtree_end(const struct store *s, uint32_t id)
{
	return store_is_dir(s, id) ? s->dir_end[store_dir_rank(s, id)] : id + 1;
}

/** A hash of n bytes from `seed` (FNV-1a, then a final mix), for the tables that find
 * entries by name: fast, and good enough for tables that live in memory only. */
static inline uint64_t hash_bytes(const char *p, size_t n, uint64_t seed)
{
	uint64_t h = seed;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 32);
}

/** hash_bytes()' seed for a name with no parent to mix in. */
#define HASH_SEED 0xcbf29ce484222325ull

/** hash_bytes() of a name under a parent. */
static inline uint64_t hash_child(uint32_t parent, const char *name, size_t len)
{
	return hash_bytes(name, len, HASH_SEED ^ ((uint64_t)parent * 0x9e3779b97f4a7c15ull));
}

/** The name of entry `id`; its length goes to *len. */
static inline const char *store_name(const struct store *s, uint32_t id, size_t *len)
{
	uint32_t k = s->name_id[id];
	*len = s->name_offset[k + 1] - s->name_offset[k];
	return s->name_bytes + s->name_offset[k];
}

/**
 * Write the full path of `id` into buf (cap bytes) and return its length. When the
 * path does not fit, returns the length it needs and writes nothing useful.
 */
size_t store_path(const struct store *s, uint32_t id, char *buf, size_t cap);

/** The "/" + loose fold of every name, in name order (names are ordered by it). Made
 * while building a store, for postings_build(); then released. */
struct store_folded {
	char *bytes;
	uint32_t *offset; /* n_names + 1 */
};

void store_folded_release(struct store_folded *f);

/** Incremental construction: add paths in any order, then finish into a store. */
struct store_builder;

struct store_builder *store_builder_new(void);
void store_builder_free(struct store_builder *b);

/**
 * Add an absolute path of `kind` (TRAWL_KIND_*), creating its missing parents as
 * directories. The bytes must stay valid until store_builder_finish() returns. Returns 0,
 * -EINVAL for a path store_path_is_acceptable() refuses, -ENOMEM, -EOVERFLOW.
 */
int store_builder_add(struct store_builder *b, const char *path, size_t len, unsigned kind);

/** The builder node of the root, "/", which every builder starts with. */
#define STORE_BUILDER_ROOT 0

/**
 * Append a child named `name` of `kind` under builder node `parent` (a directory this
 * call returned, or STORE_BUILDER_ROOT), without looking for an existing child of that
 * name: for rebuilding from entries that are unique by construction, which is much
 * cheaper than adding paths. A builder filled this way must not also be given paths with
 * store_builder_add(). The name must stay valid until store_builder_finish() returns.
 * *out gets the new node. Returns 0, -EINVAL when `parent` is no node or not a
 * directory (only directories have children), -ENOMEM, -EOVERFLOW.
 */
int store_builder_append(struct store_builder *b, uint32_t parent, const char *name, size_t len,
			 unsigned kind, uint32_t *out);

/** Nodes in the builder so far, the root included: the store's n_entries once finished. */
uint32_t store_builder_count(const struct store_builder *b);

/**
 * Number the entries depth-first and fill `s`, and `folded` with the names' folds. When
 * `node_of_id` is not NULL it receives, for each entry id, the builder node it came from
 * (store_builder_count() items). The builder can then only be freed.
 */
int store_builder_finish(struct store_builder *b, struct store *s, struct store_folded *folded,
			 uint32_t *node_of_id);

/** Whether a path can be indexed: absolute, no empty, "." or ".." components (one
 * trailing '/' is allowed). */
int store_path_is_acceptable(const char *p, size_t len);

/** The id of the entry at `path`, or STORE_NO_PARENT when there is none. */
uint32_t store_lookup(const struct store *s, const char *path, size_t len);

/**
 * Build a store from `len` bytes of paths separated by `sep` ('\n' or '\0'). Paths must
 * be absolute; missing parent directories are created; duplicates collapse; empty lines
 * are skipped. `*n_rejected` counts relative paths and paths with empty components
 * ("a//b") that were left out. Returns 0 or -ENOMEM, -EOVERFLOW (more than 2^32 - 2
 * entries).
 */
int store_build_from_list(struct store *s, const char *buf, size_t len, char sep,
			  size_t *n_rejected, struct store_folded *folded);

/** Scratch for folding names while searching the name order. */
struct name_folder {
	struct fold_buf fb;
	char *buf;
	size_t cap;
};

void name_folder_init(struct name_folder *nf);
void name_folder_release(struct name_folder *nf);

/** The loose fold of a name as bytes, valid until the next call; NULL on -ENOMEM. */
const char *name_folder_fold(struct name_folder *nf, const char *name, size_t len, size_t *out_len);

/**
 * The range [*lo, *hi) of name ids whose loose fold starts with `prefix` (len bytes, a
 * loose fold itself). Names are ordered by fold, so they are contiguous.
 */
void store_prefix_range(const struct store *s, struct name_folder *nf, const char *prefix,
			size_t len, uint32_t *lo, uint32_t *hi);

/**
 * The child of entry `parent` named `name` (exact bytes) into *out, STORE_NO_PARENT when
 * there is none. `nf` is scratch. Returns 0, or -ENOMEM when a name could not be folded
 * (then *out says nothing). A directory's first children are compared directly; past
 * those the name order is searched.
 */
int store_child(const struct store *s, struct name_folder *nf, uint32_t parent, const char *name,
		size_t len, uint32_t *out);

/** Free the contents of a store (not the struct). */
void store_release(struct store *s);

/** Bytes of memory the store holds. */
size_t store_memory_bytes(const struct store *s);

#endif
