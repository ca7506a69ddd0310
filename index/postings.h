/* postings.h: roaring postings over the entries of a store: for each byte of the loose
 * fold (case folded, marks stripped), the entries whose path contains it; for each
 * trigram of "/" + folded name, the entries whose path contains it. A directory's keys
 * are added once, as its subtree's range; descendants skip keys an ancestor covers. */
#ifndef TRAWL_POSTINGS_H
#define TRAWL_POSTINGS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <roaring/roaring.h>

#include "store.h"

struct postings {
	roaring_bitmap_t *chars[256]; /* NULL: no entry has this byte */
	/* Trigram table, open addressing: keys[k] = trigram | TRIGRAM_USED. */
	uint32_t *keys;
	roaring_bitmap_t **maps;
	size_t n_slots; /* a power of two */
	size_t n_trigrams;
	/* postings_memory_bytes(), worked out once: the postings never change, and adding
	 * up every bitmap takes long enough at millions of entries to slow each status. */
	_Atomic size_t memory_bytes;
};

#define TRIGRAM_USED (1u << 31)

/* Snapshots store postings as built here: a change to what is keyed (the loose fold
 * bytes, "/" + name trigrams, subtree ranges) or to trigram_key() and the slot hash
 * must bump SNAPSHOT_FORMAT_VERSION in snapshot.c. */

/* CRoaring 0.2.66 (Debian 12) crashes on roaring_bitmap_free(NULL): free through this. */
static inline void bitmap_free(roaring_bitmap_t *r)
{
	if (r)
		roaring_bitmap_free(r);
}

static inline uint32_t trigram_key(const unsigned char *p)
{
	return TRIGRAM_USED | (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

/** Build the postings of a store from its names' folds. Returns 0 or -ENOMEM. */
int postings_build(struct postings *p, const struct store *s, const struct store_folded *folded);

void postings_release(struct postings *p);

/** The posting of a trigram, or NULL when no entry contains it. */
const roaring_bitmap_t *postings_trigram(const struct postings *p, uint32_t key);

size_t postings_memory_bytes(const struct postings *p);

#endif
