/* postings.h: roaring postings over the entries of a store: for each byte of the loose
 * fold (case folded, marks stripped), the entries whose path contains it; for each
 * trigram of "/" + folded name, the entries whose path contains it. A directory's keys
 * are added once, as its subtree's range; descendants skip keys an ancestor covers.
 * Beside them, per entry, the set of ASCII bytes its name's loose fold holds (a name
 * mask): what a path's postings cannot say, which letters are in the name and not
 * above it; and per directory, the name masks below it ORed. */
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
	uint32_t n_entries; /* of the store: entries of entry_masks */
	uint32_t n_dirs;    /* of the store: entries of subtree_masks */
	/* postings_memory_bytes(), worked out once: the postings never change, and adding
	 * up every bitmap takes long enough at millions of entries to slow each status. */
	_Atomic size_t memory_bytes;
	/* Per entry, in id order: the name mask of its name's loose fold, 3 bytes each (see
	 * entry_mask()). In id order, a scan reads them in step with its candidates. */
	uint8_t *entry_masks;
	/* Per directory (store_dir_rank()): the name masks of every entry below it, ORed.
	 * What a directory's path leaves of a term must be in there for anything below it
	 * to match. Both are built here or worked out at load (snapshots store neither). */
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

/* A name mask has 24 bits: one for each ASCII letter (case folded), but for five pairs
 * of rare ones that share one (b and f, j and q, k and v, w and y, x and z); one for the
 * digits, one for '.' and one for '-' and '_'. Other bytes have none. A term can match
 * inside a name only if the name's mask holds every bit of the term's loose fold: bytes
 * without a bit are not checked, nor a letter of a pair when the other is there. */
static inline uint32_t name_mask_bit(unsigned char b)
{
	static const uint8_t letter_bit[26] = {0,  1,  2,  3, 4,  1,  5,  6,  7, 8,  9,	 10, 11,
					       12, 13, 14, 8, 15, 16, 17, 18, 9, 19, 20, 19, 20};
	if (b >= 'A' && b <= 'Z')
		b += 'a' - 'A';
	if (b >= 'a' && b <= 'z')
		return 1u << letter_bit[b - 'a'];
	if (b >= '0' && b <= '9')
		return 1u << 21;
	return b == '.' ? 1u << 22 : b == '-' || b == '_' ? 1u << 23 : 0;
}

/* The name mask of base entry `id`. */
static inline uint32_t entry_mask(const struct postings *p, uint32_t id)
{
	const uint8_t *m = p->entry_masks + 3 * (size_t)id;
	return (uint32_t)m[0] | (uint32_t)m[1] << 8 | (uint32_t)m[2] << 16;
}

/** Build the postings of a store from its names' folds. Returns 0 or -ENOMEM. */
int postings_build(struct postings *p, const struct store *s, const struct store_folded *folded);

/** Fill the entry and subtree masks of postings loaded without them, from the store's
 * names. Returns 0 or -ENOMEM. */
int postings_masks_from_names(struct postings *p, const struct store *s);

void postings_release(struct postings *p);

/** The posting of a trigram, or NULL when no entry contains it. */
const roaring_bitmap_t *postings_trigram(const struct postings *p, uint32_t key);

size_t postings_memory_bytes(const struct postings *p);

#endif
