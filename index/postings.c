/* postings.c: building the character and trigram postings of a store, on two threads
 * (one takes the characters and the even trigram slots, the other the odd slots). */
#include "postings.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "fold.h"

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

/* For each name, the distinct trigram slots of its fold: hashing is done once per
 * name, not once per entry bearing it. */
struct name_slots {
	uint32_t *slots;
	uint32_t *offset; /* n_names + 1 */
};

/* One pass over the names: the trigram table and each name's distinct slots. The
 * table starts large enough for most inputs (a few hundred thousand distinct trigrams,
 * or twice the occurrences in a small input); when it passes half full the pass starts
 * again with a table four times larger. */
static int collect_trigrams(struct postings *p, struct name_slots *ns, const struct store_folded *f,
			    uint32_t n_names)
{
	size_t cap = (size_t)f->offset[n_names] + 1;
	ns->slots = malloc(cap * sizeof(*ns->slots));
	ns->offset = malloc(((size_t)n_names + 1) * sizeof(*ns->offset));
	if (!ns->slots || !ns->offset)
		return -ENOMEM;
	/* stamp[slot] == k + 1: slot already listed for name k (a repeated trigram). */
	uint32_t *stamp = NULL;
	size_t first = 1024; /* never more than twice the trigram occurrences there are */
	while (first < (1u << 20) && first < 2 * cap)
		first *= 2;
	for (size_t n_slots = first;; n_slots *= 4) {
		free(p->keys);
		free(stamp);
		p->n_slots = n_slots;
		p->keys = calloc(n_slots, sizeof(*p->keys));
		stamp = calloc(n_slots, sizeof(*stamp));
		if (!p->keys || !stamp) {
			free(stamp);
			return -ENOMEM;
		}
		size_t used = 0, at = 0;
		uint32_t k = 0;
		for (; k < n_names && used * 2 < n_slots; k++) {
			const unsigned char *b = (const unsigned char *)f->bytes + f->offset[k];
			size_t len = f->offset[k + 1] - f->offset[k];
			ns->offset[k] = (uint32_t)at;
			for (size_t i = 0; i + 3 <= len; i++) {
				uint32_t key = trigram_key(b + i);
				size_t slot = slot_of(p, key);
				if (!p->keys[slot]) {
					p->keys[slot] = key;
					used++;
				}
				if (stamp[slot] != k + 1) {
					stamp[slot] = k + 1;
					ns->slots[at++] = (uint32_t)slot;
				}
			}
		}
		if (k == n_names && used * 2 < n_slots) {
			ns->offset[n_names] = (uint32_t)at;
			p->n_trigrams = used;
			break;
		}
	}
	free(stamp);
	p->maps = calloc(p->n_slots, sizeof(*p->maps));
	if (!p->maps)
		return -ENOMEM;
	for (size_t slot = 0; slot < p->n_slots; slot++)
		if (p->keys[slot] && !(p->maps[slot] = roaring_bitmap_create()))
			return -ENOMEM;
	return 0;
}

struct build_job {
	struct postings *p;
	const struct store *s;
	const struct store_folded *f;
	const struct name_slots *ns;
	unsigned part; /* 0: characters and even slots; 1: odd slots */
	int rc;
};

/* Add `id` (or the subtree range of a directory) to a bitmap. */
static void add_entry(roaring_bitmap_t *r, const struct store *s, uint32_t id)
{
	if (s->subtree_end[id] > id + 1)
		roaring_bitmap_add_range_closed(r, id, s->subtree_end[id] - 1);
	else
		roaring_bitmap_add(r, id);
}

static void *build_part(void *arg)
{
	struct build_job *j = arg;
	const struct store *s = j->s;
	const struct name_slots *ns = j->ns;
	struct postings *p = j->p;
	/* Ancestor stack: ids, and per level the characters ancestors cover. */
	uint32_t *stack = malloc(((size_t)s->n_entries + 1) * sizeof(*stack));
	uint64_t(*covered_chars)[4] = malloc(((size_t)s->n_entries + 1) * sizeof(*covered_chars));
	uint32_t *covered_slots = calloc(p->n_slots, sizeof(*covered_slots));
	if (!stack || !covered_chars || !covered_slots) {
		j->rc = -ENOMEM;
		goto out;
	}
	size_t top = 0;
	memset(covered_chars[0], 0, sizeof(covered_chars[0]));
	for (uint32_t id = 0; id < s->n_entries; id++) {
		/* Leave the directories whose subtree ended, uncovering their trigrams. */
		while (top && s->subtree_end[stack[top - 1]] <= id) {
			uint32_t k = s->name_id[stack[--top]];
			for (uint32_t i = ns->offset[k]; i < ns->offset[k + 1]; i++)
				if ((ns->slots[i] & 1) == j->part)
					covered_slots[ns->slots[i]]--;
		}
		if (s->parent[id] == STORE_NO_PARENT)
			continue; /* a root's name is its whole path: nothing to match in it */
		uint32_t k = s->name_id[id];
		const unsigned char *b = (const unsigned char *)j->f->bytes + j->f->offset[k];
		size_t len = j->f->offset[k + 1] - j->f->offset[k];
		int is_dir = s->subtree_end[id] > id + 1;
		uint64_t mine[4];
		memcpy(mine, covered_chars[top], sizeof(mine));
		if (j->part == 0) {
			for (size_t i = 1; i < len; i++) {
				unsigned c = b[i];
				if (mine[c >> 6] & (1ull << (c & 63)))
					continue;
				mine[c >> 6] |= 1ull << (c & 63);
				if (!p->chars[c] && !(p->chars[c] = roaring_bitmap_create())) {
					j->rc = -ENOMEM;
					goto out;
				}
				add_entry(p->chars[c], s, id);
			}
		}
		for (uint32_t i = ns->offset[k]; i < ns->offset[k + 1]; i++) {
			uint32_t slot = ns->slots[i];
			if ((slot & 1) != j->part)
				continue;
			/* Skip what an ancestor covers; a directory covers its own. */
			if (!covered_slots[slot])
				add_entry(p->maps[slot], s, id);
			if (is_dir)
				covered_slots[slot]++;
		}
		if (is_dir) {
			stack[top++] = id;
			memcpy(covered_chars[top], mine, sizeof(mine));
		}
	}
	j->rc = 0;
out:
	free(stack);
	free(covered_chars);
	free(covered_slots);
	return NULL;
}

int postings_build(struct postings *p, const struct store *s, const struct store_folded *folded)
{
	memset(p, 0, sizeof(*p));
	const struct store_folded f = *folded;
	struct name_slots ns = {0};
	int rc = collect_trigrams(p, &ns, &f, s->n_names);
	if (rc < 0)
		goto out;
	struct build_job jobs[2] = {{p, s, &f, &ns, 0, 0}, {p, s, &f, &ns, 1, 0}};
	pthread_t thread;
	int is_threaded = pthread_create(&thread, NULL, build_part, &jobs[1]) == 0;
	build_part(&jobs[0]);
	if (is_threaded)
		pthread_join(thread, NULL);
	else
		build_part(&jobs[1]);
	rc = jobs[0].rc < 0 ? jobs[0].rc : jobs[1].rc;
	if (rc < 0)
		goto out;
	for (int c = 0; c < 256; c++)
		if (p->chars[c]) {
			roaring_bitmap_run_optimize(p->chars[c]);
			roaring_bitmap_shrink_to_fit(p->chars[c]);
		}
	for (size_t slot = 0; slot < p->n_slots; slot++)
		if (p->maps[slot]) {
			roaring_bitmap_run_optimize(p->maps[slot]);
			roaring_bitmap_shrink_to_fit(p->maps[slot]);
		}
out:
	free(ns.slots);
	free(ns.offset);
	if (rc < 0)
		postings_release(p);
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
	memset(p, 0, sizeof(*p));
}

size_t postings_memory_bytes(const struct postings *p)
{
	size_t cached = atomic_load(&((struct postings *)p)->memory_bytes);
	if (cached)
		return cached;
	size_t n = p->n_slots * (sizeof(*p->keys) + sizeof(*p->maps));
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
