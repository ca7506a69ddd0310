/* postings.c: building the character and trigram postings of a store on POSTINGS_PARTS
 * threads, each over its own share of the ids, whose bitmaps are then merged. */
#include "postings.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fold.h"

/* Threads that build postings: each takes an id range, then a share of the keys to merge.
 * Two: the machines trawl targets give it two cores, and the search pool has two. */
#define POSTINGS_PARTS 2

/* The keys of the build: the 256 bytes of the fold, then the trigrams in the order they
 * were first seen (a dense index for the trigram table's slots). */
#define N_CHAR_KEYS 256

static size_t slot_of(const struct postings *p, uint32_t key)
{
	size_t mask = p->n_slots - 1;
	size_t k = ((size_t)key * 0x9e3779b1u) & mask;
	while (p->keys[k] && p->keys[k] != key)
		k = (k + 1) & mask;
	return k;
}

const roaring_bitmap_t *postings_trigram(const struct postings *p, uint32_t key)
{
	if (!p->n_slots)
		return NULL;
	size_t k = slot_of(p, key);
	return p->keys[k] ? p->maps[k] : NULL;
}

/* For each name, its distinct trigrams as dense keys (N_CHAR_KEYS + the order the trigram
 * was first seen in): hashing is done once per name, not once per entry bearing it. */
struct name_keys {
	uint32_t *keys;
	uint32_t *offset;      /* n_names + 1 */
	uint32_t *slot_of_key; /* dense key - N_CHAR_KEYS -> slot of the trigram table */
	uint32_t n_keys;       /* N_CHAR_KEYS + the number of trigrams */
};

/* The trigram table while it is filled: each used slot's dense key, and the last name
 * that listed it (k + 1, or 0), so that a name lists each of its trigrams once. */
struct trigram_fill {
	uint32_t *stamp, *dense;
	size_t used;
};

/* The first size of the trigram table, for `cap` trigram occurrences: large enough for
 * most inputs, a few hundred thousand distinct trigrams, but never more than twice the
 * occurrences. It is not smaller because slot_of() keeps the low bits of a product,
 * which for a trigram are those of its last two bytes: at 256 Ki slots, Debian's 71K
 * trigrams clustered, and collecting them took 0.83 s instead of 0.55 s. */
static size_t first_trigram_slots(size_t cap)
{
	size_t n = 1024;
	while (n < (1u << 20) && n < 2 * cap)
		n *= 2;
	return n;
}

/* Double the table (or make the first), moving each trigram, its dense key and stamp. */
static int grow_trigrams(struct postings *p, struct trigram_fill *t, size_t cap)
{
	size_t n_old = t->stamp ? p->n_slots : 0; /* the first table has nothing to move */
	size_t n = n_old ? n_old * 2 : first_trigram_slots(cap);
	struct postings bigger = {.n_slots = n};
	bigger.keys = calloc(n, sizeof(*bigger.keys));
	uint32_t *stamp = calloc(n, sizeof(*stamp)), *dense = calloc(n, sizeof(*dense));
	if (!bigger.keys || !stamp || !dense) {
		free(bigger.keys);
		free(stamp);
		free(dense);
		return -ENOMEM;
	}
	for (size_t slot = 0; slot < n_old; slot++) {
		if (!p->keys[slot])
			continue;
		size_t to = slot_of(&bigger, p->keys[slot]);
		bigger.keys[to] = p->keys[slot];
		stamp[to] = t->stamp[slot];
		dense[to] = t->dense[slot];
	}
	free(p->keys);
	free(t->stamp);
	free(t->dense);
	p->keys = bigger.keys;
	p->n_slots = n;
	t->stamp = stamp;
	t->dense = dense;
	return 0;
}

/* One pass over the names: the trigram table and each name's distinct trigrams. The
 * table doubles when half full; the names' lists hold dense keys, not slots, so the
 * pass goes on where it was. */
static int collect_trigrams(struct postings *p, struct name_keys *nk, const struct store_folded *f,
			    uint32_t n_names)
{
	size_t cap = (size_t)f->offset[n_names] + 1;
	nk->keys = malloc(cap * sizeof(*nk->keys));
	nk->offset = malloc(((size_t)n_names + 1) * sizeof(*nk->offset));
	struct trigram_fill t = {0};
	int rc = -ENOMEM;
	if (!nk->keys || !nk->offset || grow_trigrams(p, &t, cap) < 0)
		goto out;
	size_t at = 0;
	for (uint32_t k = 0; k < n_names; k++) {
		const unsigned char *b = (const unsigned char *)f->bytes + f->offset[k];
		size_t len = f->offset[k + 1] - f->offset[k];
		nk->offset[k] = (uint32_t)at;
		for (size_t i = 0; i + 3 <= len; i++) {
			uint32_t key = trigram_key(b + i);
			size_t slot = slot_of(p, key);
			if (!p->keys[slot]) {
				if ((t.used + 1) * 2 >= p->n_slots) {
					if (grow_trigrams(p, &t, cap) < 0)
						goto out;
					slot = slot_of(p, key);
				}
				p->keys[slot] = key;
				t.dense[slot] = (uint32_t)(N_CHAR_KEYS + t.used++);
			}
			if (t.stamp[slot] != k + 1) {
				t.stamp[slot] = k + 1;
				nk->keys[at++] = t.dense[slot];
			}
		}
	}
	nk->offset[n_names] = (uint32_t)at;
	p->n_trigrams = t.used;
	nk->n_keys = (uint32_t)(N_CHAR_KEYS + p->n_trigrams);
	nk->slot_of_key = malloc((p->n_trigrams + 1) * sizeof(*nk->slot_of_key));
	p->maps = calloc(p->n_slots, sizeof(*p->maps));
	if (!nk->slot_of_key || !p->maps)
		goto out;
	for (size_t slot = 0; slot < p->n_slots; slot++)
		if (p->keys[slot])
			nk->slot_of_key[t.dense[slot] - N_CHAR_KEYS] = (uint32_t)slot;
	rc = 0;
out:
	free(t.stamp);
	free(t.dense);
	return rc;
}

/* The pending interval [start, end) of one key: ids below `end` are covered already
 * (a directory's keys cover its whole subtree), and an entry starting at `end` extends
 * it. Ids only grow and subtrees nest, so this one interval is all a key needs. */
struct run {
	uint32_t start, end;
};

/* Intervals are handed to CRoaring in batches sorted by key: each key's values then go
 * in with one roaring_bitmap_add_many() while its bitmap is in cache, instead of one call
 * (and one search for the container) each. The larger the batch, the more values a call
 * adds: on the Debian corpus a part took 3.0 s of CPU with 64 Ki intervals, 2.1 s with
 * 1 Mi and 1.85 s with 2 Mi or 4 Mi. 2 Mi: 48 MiB a part, while the postings are built. */
#define BATCH_INTERVALS (1u << 21)

/* Values of one key gathered for one roaring_bitmap_add_many(). */
#define BATCH_VALUES (1u << 16)

/* Intervals at least this long are added as ranges; shorter ones as values, which is
 * cheaper than a range add (run_optimize() makes runs of them where that is smaller).
 * 8 took the fewest instructions of 2, 4, 8 and 16 on a sample of the Debian corpus. */
#define RANGE_MIN_IDS 8

struct interval {
	uint32_t key, start, end;
};

struct build_job {
	const struct store *s;
	const struct store_folded *f;
	const struct name_keys *nk;
	uint32_t lo, hi; /* the ids this part builds */
	struct run *runs;
	roaring_bitmap_t **maps; /* this part's bitmap of each key */
	/* The batch in the order the intervals ended, then sorted by key, and the values
	 * of one key's intervals. */
	struct interval *batch, *sorted;
	uint32_t n_batch;
	uint32_t *key_start; /* n_keys + 1 */
	uint32_t *values;    /* BATCH_VALUES */
	int rc;
};

/* Add one key's intervals, ascending, to its bitmap *m (made when NULL). */
static int add_intervals(struct build_job *j, roaring_bitmap_t **m, const struct interval *v,
			 uint32_t n_intervals)
{
	if (!*m && !(*m = roaring_bitmap_create()))
		return -ENOMEM;
	uint32_t n = 0;
	for (uint32_t i = 0; i < n_intervals; i++) {
		uint32_t len = v[i].end - v[i].start;
		/* Values wait for one call; a range, or a full buffer, sends them first. */
		if (len >= RANGE_MIN_IDS || n + len > BATCH_VALUES) {
			roaring_bitmap_add_many(*m, n, j->values);
			n = 0;
		}
		if (len >= RANGE_MIN_IDS) {
			roaring_bitmap_add_range_closed(*m, v[i].start, v[i].end - 1);
			continue;
		}
		for (uint32_t id = v[i].start; id < v[i].end; id++)
			j->values[n++] = id;
	}
	roaring_bitmap_add_many(*m, n, j->values);
	return 0;
}

/* Add the batch to the bitmaps, key by key. Sorting by key is stable, and a key's
 * intervals end in ascending order, so every add appends. */
static int apply_batch(struct build_job *j)
{
	uint32_t n_keys = j->nk->n_keys, *at = j->key_start;
	memset(at, 0, ((size_t)n_keys + 1) * sizeof(*at));
	for (uint32_t i = 0; i < j->n_batch; i++)
		at[j->batch[i].key + 1]++;
	for (uint32_t k = 0; k < n_keys; k++)
		at[k + 1] += at[k];
	for (uint32_t i = 0; i < j->n_batch; i++)
		j->sorted[at[j->batch[i].key]++] = j->batch[i];
	/* at[k] is now the end of key k's intervals. */
	int rc = 0;
	for (uint32_t i = 0; i < j->n_batch && rc == 0;) {
		uint32_t key = j->sorted[i].key;
		rc = add_intervals(j, &j->maps[key], j->sorted + i, at[key] - i);
		i = at[key];
	}
	j->n_batch = 0;
	return rc;
}

/* The key's pending interval has ended: into the batch with it. */
static int flush_run(struct build_job *j, uint32_t key)
{
	const struct run *r = &j->runs[key];
	if (r->end == r->start)
		return 0;
	j->batch[j->n_batch++] = (struct interval){key, r->start, r->end};
	return j->n_batch == BATCH_INTERVALS ? apply_batch(j) : 0;
}

/* Entry `id`, whose subtree ends at `end`, bears `key`. */
static inline int note_key(struct build_job *j, uint32_t key, uint32_t id, uint32_t end)
{
	struct run *r = &j->runs[key];
	if (id < r->end)
		return 0;
	if (id == r->end) {
		r->end = end;
		return 0;
	}
	int rc = flush_run(j, key);
	r->start = id;
	r->end = end;
	return rc;
}

/* Cover the keys of the ancestors of the part's first id: the part before built them. */
static void cover_ancestors(struct build_job *j)
{
	const struct store *s = j->s;
	if (j->lo >= s->n_entries)
		return;
	for (uint32_t a = s->parent[j->lo]; a != STORE_NO_PARENT && s->parent[a] != STORE_NO_PARENT;
	     a = s->parent[a]) {
		uint32_t k = s->name_id[a], end = store_subtree_end(s, a);
		const unsigned char *b = (const unsigned char *)j->f->bytes + j->f->offset[k];
		size_t len = j->f->offset[k + 1] - j->f->offset[k];
		for (size_t i = 1; i < len; i++)
			if (j->runs[b[i]].end < end)
				j->runs[b[i]] = (struct run){end, end};
		for (uint32_t i = j->nk->offset[k]; i < j->nk->offset[k + 1]; i++) {
			uint32_t key = j->nk->keys[i];
			if (j->runs[key].end < end)
				j->runs[key] = (struct run){end, end};
		}
	}
}

static void *build_part(void *arg)
{
	struct build_job *j = arg;
	const struct store *s = j->s;
	const struct name_keys *nk = j->nk;
	int rc = 0;
	cover_ancestors(j);
	for (uint32_t id = j->lo; id < j->hi && rc == 0; id++) {
		if (s->parent[id] == STORE_NO_PARENT)
			continue; /* a root's name is its whole path: nothing to match in it */
		uint32_t k = s->name_id[id], end = store_subtree_end(s, id);
		const unsigned char *b = (const unsigned char *)j->f->bytes + j->f->offset[k];
		size_t len = j->f->offset[k + 1] - j->f->offset[k];
		for (size_t i = 1; i < len && rc == 0; i++)
			rc = note_key(j, b[i], id, end);
		for (uint32_t i = nk->offset[k]; i < nk->offset[k + 1] && rc == 0; i++)
			rc = note_key(j, nk->keys[i], id, end);
	}
	for (uint32_t key = 0; key < nk->n_keys && rc == 0; key++)
		rc = flush_run(j, key);
	if (rc == 0)
		rc = apply_batch(j);
	j->rc = rc;
	return NULL;
}

struct merge_job {
	struct postings *p;
	const struct name_keys *nk;
	struct build_job *parts;
	unsigned first; /* this job merges keys first, first + POSTINGS_PARTS, ... */
};

/* Merge the parts' bitmaps of each key into the postings, compressing runs. */
static void *merge_keys(void *arg)
{
	struct merge_job *m = arg;
	for (uint32_t key = m->first; key < m->nk->n_keys; key += POSTINGS_PARTS) {
		roaring_bitmap_t *r = NULL;
		for (unsigned i = 0; i < POSTINGS_PARTS; i++) {
			roaring_bitmap_t *part = m->parts[i].maps[key];
			m->parts[i].maps[key] = NULL;
			if (!r) {
				r = part;
			} else if (part) {
				roaring_bitmap_or_inplace(r, part);
				roaring_bitmap_free(part);
			}
		}
		if (key >= N_CHAR_KEYS && !r)
			r = roaring_bitmap_create(); /* every trigram has a bitmap; see below */
		if (!r)
			continue;
		roaring_bitmap_run_optimize(r);
		roaring_bitmap_shrink_to_fit(r);
		if (key < N_CHAR_KEYS)
			m->p->chars[key] = r;
		else
			m->p->maps[m->nk->slot_of_key[key - N_CHAR_KEYS]] = r;
	}
	return NULL;
}

/* Run fn on each of the jobs, the first on this thread; a thread that cannot be started
 * leaves its job to this one. */
static void run_parts(void *(*fn)(void *), void *jobs, size_t job_size)
{
	pthread_t threads[POSTINGS_PARTS];
	int is_started[POSTINGS_PARTS] = {0};
	for (unsigned i = 1; i < POSTINGS_PARTS; i++)
		is_started[i] =
		    pthread_create(&threads[i], NULL, fn, (char *)jobs + i * job_size) == 0;
	fn(jobs);
	for (unsigned i = 1; i < POSTINGS_PARTS; i++) {
		if (is_started[i])
			pthread_join(threads[i], NULL);
		else
			fn((char *)jobs + i * job_size);
	}
}

/* Split the ids so that each part folds about as many name bytes as the others. */
static void split_ids(struct build_job *parts, const struct store *s, const struct store_folded *f)
{
	uint64_t total = 0;
	for (uint32_t id = 0; id < s->n_entries; id++)
		total += f->offset[s->name_id[id] + 1] - f->offset[s->name_id[id]];
	uint64_t done = 0;
	uint32_t id = 0;
	for (unsigned i = 0; i < POSTINGS_PARTS; i++) {
		parts[i].lo = id;
		uint64_t goal = total * (i + 1) / POSTINGS_PARTS;
		for (; id < s->n_entries && (done < goal || i + 1 == POSTINGS_PARTS); id++)
			done += f->offset[s->name_id[id] + 1] - f->offset[s->name_id[id]];
		parts[i].hi = id;
	}
}

/* One share of masks_from(): entries [lo, hi), last to first, into entry and sub. */
struct masks_job {
	const struct store *s;
	const uint32_t *name_masks;
	uint8_t *entry;
	uint32_t *sub;
	uint32_t lo, hi;
};

static void *masks_share(void *arg)
{
	const struct masks_job *j = arg;
	const struct store *s = j->s;
	for (uint32_t id = j->hi; id-- > j->lo;) {
		if (id >= j->lo + 32)
			__builtin_prefetch(&j->name_masks[s->name_id[id - 32]]);
		uint32_t m = j->name_masks[s->name_id[id]];
		j->entry[3 * (size_t)id] = (uint8_t)m;
		j->entry[3 * (size_t)id + 1] = (uint8_t)(m >> 8);
		j->entry[3 * (size_t)id + 2] = (uint8_t)(m >> 16);
		uint32_t parent = s->parent[id];
		if (parent == STORE_NO_PARENT)
			continue;
		if (store_is_dir(s, id))
			m |= j->sub[store_dir_rank(s, id)];
		j->sub[store_dir_rank(s, parent)] |= m;
	}
	return NULL;
}

/* Give p the entry and subtree masks, from the masks of the store's names. Children come
 * after their parents: from the last id back, each entry's subtree is complete when it
 * is reached, and is added to its parent's. Two shares of ids, one a thread, each with
 * its own subtree masks: ORed together, they miss only, in the directories that span
 * both, what the second share's directories give through them; walking up from the
 * second share's first entry adds it. Returns 0 or -ENOMEM. */
static int masks_from(struct postings *p, const struct store *s, const uint32_t *name_masks)
{
	_Static_assert(POSTINGS_PARTS == 2, "masks_from() merges two shares");
	uint8_t *entry = malloc(3 * (size_t)s->n_entries + 1);
	uint32_t *sub = calloc((size_t)s->n_dirs + 1, sizeof(*sub));
	uint32_t *sub2 = calloc((size_t)s->n_dirs + 1, sizeof(*sub2));
	if (!entry || !sub || !sub2) {
		free(entry);
		free(sub);
		free(sub2);
		return -ENOMEM;
	}
	uint32_t mid = s->n_entries / 2;
	struct masks_job jobs[POSTINGS_PARTS] = {{s, name_masks, entry, sub, 0, mid},
						 {s, name_masks, entry, sub2, mid, s->n_entries}};
	run_parts(masks_share, jobs, sizeof(jobs[0]));
	for (uint32_t d = 0; d < s->n_dirs; d++)
		sub[d] |= sub2[d];
	free(sub2);
	if (mid < s->n_entries) {
		/* The directories that hold `mid`, deepest first, are complete in turn. */
		for (uint32_t d = s->parent[mid]; d != STORE_NO_PARENT; d = s->parent[d]) {
			uint32_t parent = s->parent[d];
			if (parent != STORE_NO_PARENT)
				sub[store_dir_rank(s, parent)] |=
				    sub[store_dir_rank(s, d)] | name_masks[s->name_id[d]];
		}
	}
	free(p->entry_masks);
	free(p->subtree_masks);
	p->entry_masks = entry;
	p->subtree_masks = sub;
	p->n_entries = s->n_entries;
	p->n_dirs = s->n_dirs;
	return 0;
}

/* name_mask_bit() of every byte: at millions of names, masks are made a byte at a time
 * through this table. */
static void mask_table(uint32_t bit[256])
{
	for (unsigned b = 0; b < 256; b++)
		bit[b] = name_mask_bit((unsigned char)b);
}

static uint32_t mask_of(const uint32_t bit[256], const char *p, size_t n)
{
	uint32_t m = 0;
	for (size_t i = 0; i < n; i++)
		m |= bit[(unsigned char)p[i]];
	return m;
}

int postings_build(struct postings *p, const struct store *s, const struct store_folded *folded)
{
	memset(p, 0, sizeof(*p));
	struct name_keys nk = {0};
	struct build_job parts[POSTINGS_PARTS] = {0};
	int rc = collect_trigrams(p, &nk, folded, s->n_names);
	if (rc < 0)
		goto out;
	uint32_t *name_masks = malloc(((size_t)s->n_names + 1) * sizeof(*name_masks));
	if (!name_masks) {
		rc = -ENOMEM;
		goto out;
	}
	uint32_t bit[256];
	mask_table(bit);
	for (uint32_t k = 0; k < s->n_names; k++)
		name_masks[k] = mask_of(bit, folded->bytes + folded->offset[k],
					folded->offset[k + 1] - folded->offset[k]);
	rc = masks_from(p, s, name_masks);
	free(name_masks);
	if (rc < 0)
		goto out;
	for (unsigned i = 0; i < POSTINGS_PARTS; i++) {
		parts[i] = (struct build_job){.s = s, .f = folded, .nk = &nk};
		parts[i].runs = calloc(nk.n_keys, sizeof(*parts[i].runs));
		parts[i].maps = calloc(nk.n_keys, sizeof(*parts[i].maps));
		parts[i].batch = malloc(BATCH_INTERVALS * sizeof(*parts[i].batch));
		parts[i].sorted = malloc(BATCH_INTERVALS * sizeof(*parts[i].sorted));
		parts[i].key_start = malloc(((size_t)nk.n_keys + 1) * sizeof(*parts[i].key_start));
		parts[i].values = malloc(BATCH_VALUES * sizeof(*parts[i].values));
		if (!parts[i].runs || !parts[i].maps || !parts[i].batch || !parts[i].sorted ||
		    !parts[i].key_start || !parts[i].values) {
			rc = -ENOMEM;
			goto out;
		}
	}
	split_ids(parts, s, folded);
	run_parts(build_part, parts, sizeof(parts[0]));
	for (unsigned i = 0; i < POSTINGS_PARTS; i++)
		if (parts[i].rc < 0)
			rc = parts[i].rc;
	if (rc < 0)
		goto out;
	struct merge_job merges[POSTINGS_PARTS];
	for (unsigned i = 0; i < POSTINGS_PARTS; i++)
		merges[i] = (struct merge_job){p, &nk, parts, i};
	run_parts(merge_keys, merges, sizeof(merges[0]));
	/* An empty bitmap that could not be made leaves a used slot without one. */
	for (size_t slot = 0; slot < p->n_slots; slot++)
		if (p->keys[slot] && !p->maps[slot])
			rc = -ENOMEM;
out:
	for (unsigned i = 0; i < POSTINGS_PARTS; i++) {
		for (uint32_t key = 0; parts[i].maps && key < nk.n_keys; key++)
			bitmap_free(parts[i].maps[key]);
		free(parts[i].maps);
		free(parts[i].runs);
		free(parts[i].batch);
		free(parts[i].sorted);
		free(parts[i].key_start);
		free(parts[i].values);
	}
	free(nk.keys);
	free(nk.offset);
	free(nk.slot_of_key);
	if (rc < 0)
		postings_release(p);
	/* The parts' bitmaps, merged and freed, leave about as much free memory as the
	 * postings hold, in small pieces all over the heap: give its pages back. */
	malloc_trim(0);
	return rc;
}
/* One share of postings_masks_from_names(): names [lo, hi) into m. */
struct mask_job {
	const struct store *s;
	uint32_t *m;
	uint32_t lo, hi;
	int rc;
};

static void *masks_part(void *arg)
{
	struct mask_job *j = arg;
	const struct store *s = j->s;
	uint32_t bit[256];
	mask_table(bit);
	struct fold_buf fb;
	fold_buf_init(&fb);
	char small[256];
	char *buf = small;
	size_t cap = sizeof(small);
	for (uint32_t k = j->lo; k < j->hi && j->rc == 0; k++) {
		const unsigned char *name =
		    (const unsigned char *)s->name_bytes + s->name_offset[k];
		size_t len = s->name_offset[k + 1] - s->name_offset[k];
		uint32_t mask = 0;
		unsigned high = 0;
		for (size_t i = 0; i < len; i++) {
			mask |= bit[name[i]];
			high |= name[i];
		}
		/* An ASCII name's loose fold is its bytes lowercased, which the bits fold. */
		if (!(high & 0x80)) {
			j->m[k] = mask;
			continue;
		}
		long n = fold_loose_bytes(&fb, (const char *)name, len, buf, cap);
		if (n >= 0 && (size_t)n > cap) {
			char *big = malloc((size_t)n);
			if (!big) {
				j->rc = -ENOMEM;
				break;
			}
			if (buf != small)
				free(buf);
			buf = big;
			cap = (size_t)n;
			n = fold_loose_bytes(&fb, (const char *)name, len, buf, cap);
		}
		if (n < 0)
			j->rc = -ENOMEM;
		else
			j->m[k] = mask_of(bit, buf, (size_t)n);
	}
	if (buf != small)
		free(buf);
	fold_buf_release(&fb);
	return NULL;
}

int postings_masks_from_names(struct postings *p, const struct store *s)
{
	uint32_t *m = malloc(((size_t)s->n_names + 1) * sizeof(*m));
	if (!m)
		return -ENOMEM;
	/* Two shares, as the loader has two threads. */
	struct mask_job jobs[POSTINGS_PARTS] = {{s, m, 0, s->n_names / 2, 0},
						{s, m, s->n_names / 2, s->n_names, 0}};
	run_parts(masks_part, jobs, sizeof(jobs[0]));
	int rc = jobs[0].rc < 0 ? jobs[0].rc : jobs[1].rc;
	if (rc < 0) {
		free(m);
		return rc;
	}
	rc = masks_from(p, s, m);
	free(m);
	return rc;
}

void postings_release(struct postings *p)
{
	for (int c = 0; c < 256; c++)
		bitmap_free(p->chars[c]);
	for (size_t slot = 0; p->maps && slot < p->n_slots; slot++)
		bitmap_free(p->maps[slot]);
	free(p->keys);
	free(p->maps);
	free(p->entry_masks);
	free(p->subtree_masks);
	memset(p, 0, sizeof(*p));
}

size_t postings_memory_bytes(const struct postings *p)
{
	size_t cached = atomic_load(&((struct postings *)p)->memory_bytes);
	if (cached)
		return cached;
	size_t n = p->n_slots * (sizeof(*p->keys) + sizeof(*p->maps)) + 3 * (size_t)p->n_entries +
		   p->n_dirs * sizeof(*p->subtree_masks);
	for (int c = 0; c < 256; c++)
		if (p->chars[c])
			n += roaring_bitmap_size_in_bytes(p->chars[c]);
	for (size_t slot = 0; slot < p->n_slots; slot++)
		if (p->maps[slot])
			n += roaring_bitmap_size_in_bytes(p->maps[slot]);
	/* Two callers at once both add it up and store the same sum. */
	atomic_store(&((struct postings *)p)->memory_bytes, n);
	return n;
}
