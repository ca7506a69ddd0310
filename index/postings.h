/* postings.h: roaring postings over the entries of a store: for each byte of the loose
 * fold (case folded, marks stripped), the entries whose path contains it; for each
 * trigram of "/" + folded name, the entries whose path contains it. A directory's keys
 * are added once, as its subtree's range; descendants skip keys an ancestor covers.
 * Beside them, per name, the set of ASCII bytes its own loose fold holds (a name mask):
 * what a path's postings cannot say, which letters are in the name and not above it. */
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
	uint32_t n_names; /* of the store: entries of name_masks */
	uint32_t n_dirs;  /* of the store: entries of subtree_masks */
	/* postings_memory_bytes(), worked out once: the postings never change, and adding
	 * up every bitmap takes long enough at millions of entries to slow each status. */
	_Atomic size_t memory_bytes;
	/* Per name id: the name mask of its loose fold. Always built here or worked out at
	 * load (snapshots do not store it). */
	uint32_t *name_masks;
	/* Per directory (store_dir_rank()): the name masks of every entry below it, ORed.
	 * What a directory's path leaves of a term must be in there for anything below it
	 * to match. Worked out from the name masks, here and at load. */
	uint32_t *subtree_masks;
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

/* A name mask has a bit for each ASCII letter (case folded), three for the digits (by
 * their value modulo 3), and one each for '.', '-' and '_'; other bytes have none. A
 * term can match inside a name only if the name's mask holds every bit of the term's
 * loose fold: bytes without a bit are not checked. */
static inline uint32_t name_mask_bit(unsigned char b)
{
	if (b >= 'A' && b <= 'Z')
		b += 'a' - 'A';
	if (b >= 'a' && b <= 'z')
		return 1u << (b - 'a');
	if (b >= '0' && b <= '9')
		return 1u << (26 + (b - '0') % 3);
	return b == '.' ? 1u << 29 : b == '-' ? 1u << 30 : b == '_' ? 1u << 31 : 0;
}

/** Build the postings of a store from its names' folds. Returns 0 or -ENOMEM. */
int postings_build(struct postings *p, const struct store *s, const struct store_folded *folded);

/** Fill the name masks of postings loaded without them, from the store's names. Returns 0
 * or -ENOMEM. */
int postings_masks_from_names(struct postings *p, const struct store *s);

/** Work out p->subtree_masks from p->name_masks and the store's tree. Returns 0 or
 * -ENOMEM. */
int postings_subtree_masks(struct postings *p, const struct store *s);

void postings_release(struct postings *p);

/** The posting of a trigram, or NULL when no entry contains it. */
const roaring_bitmap_t *postings_trigram(const struct postings *p, uint32_t key);

size_t postings_memory_bytes(const struct postings *p);

#endif
