/* dirmeta.h: the directory meta of one base generation, compact: a bitmap of which
 * entries are directories (with counts per block, so a directory's rank is a few
 * popcounts), and by rank its mtime and an index into the table of distinct
 * (mode, uid, gid) triples. A directory's ctime is almost always its mtime: only the
 * others are listed. Other entries cost one bit; a directory about 10 bytes. */
#ifndef TRAWL_DIRMETA_H
#define TRAWL_DIRMETA_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "trawl_index.h"

/* Directories are counted before each block of this many entries: eight 64-bit words, so
 * a rank costs at most eight popcounts, and the counts cost 1/16 bit per entry. */
#define DIRMETA_BLOCK_ENTRIES 512

/* Attribute indices are two bytes while there are at most this many distinct triples
 * (every system we know of), else four. */
#define DIRMETA_SHORT_ATTRS 65536

static inline uint32_t dirmeta_attr_id_bytes(uint32_t n_attrs)
{
	return n_attrs <= DIRMETA_SHORT_ATTRS ? 2 : 4;
}

struct dirmeta {
	uint32_t n_entries;
	uint32_t n_dirs;
	uint64_t *dir_bits;	/* bit `id`: entry id is a directory; dirmeta_words() words */
	uint32_t *dir_rank;	/* directories before each block; dirmeta_blocks() items */
	int64_t *mtime_ns;	/* by rank */
	void *attr_ids;		/* by rank: uint16_t or uint32_t index into attrs */
	uint32_t attr_id_bytes; /* dirmeta_attr_id_bytes(n_attrs) */
	uint32_t n_attrs;
	uint32_t *attrs; /* n_attrs triples: mode, uid, gid */
	/* The directories whose ctime is not their mtime: ranks ascending, and ctimes. */
	uint32_t n_ctimes;
	uint32_t *ctime_rank;
	int64_t *ctime_ns;
};

static inline size_t dirmeta_words(uint32_t n_entries)
{
	return ((size_t)n_entries + 63) / 64;
}

static inline size_t dirmeta_blocks(uint32_t n_entries)
{
	return ((size_t)n_entries + DIRMETA_BLOCK_ENTRIES - 1) / DIRMETA_BLOCK_ENTRIES;
}

static inline int dirmeta_is_dir(const struct dirmeta *m, uint32_t id)
{
	return (int)((m->dir_bits[id / 64] >> (id % 64)) & 1);
}

/** The number of directories with an id below `id`. */
uint32_t dirmeta_rank(const struct dirmeta *m, uint32_t id);

/**
 * Fill `m` for the directories of `s`, asking `meta_of` for the meta of each directory
 * id in ascending order. Returns 0 or -ENOMEM (then `m` holds nothing).
 */
int dirmeta_build(struct dirmeta *m, const struct store *s,
		  void (*meta_of)(void *ctx, uint32_t id, struct trawl_dir_meta *out), void *ctx);

/** The meta of directory entry `id` (dirmeta_is_dir() must hold). */
void dirmeta_get(const struct dirmeta *m, uint32_t id, struct trawl_dir_meta *out);

/** Free what dirmeta_build() allocated and zero `m`. */
void dirmeta_release(struct dirmeta *m);

/** Bytes of memory `m` holds. */
size_t dirmeta_memory_bytes(const struct dirmeta *m);

#endif
