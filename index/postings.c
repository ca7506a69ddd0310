/* postings.c: building the character and trigram postings of a store, on two threads
 * (one takes the characters and the even trigram slots, the other the odd slots). */
#include "postings.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "fold.h"

long postings_loose_bytes(const char *s, size_t len, char *out, size_t cap)
{
	struct fold_buf fb;
	fold_buf_init(&fb);
	if (fold(&fb, s, len, 0) < 0)
		return -ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < fb.len; i++) {
		uint32_t u = fb.units[i];
		unsigned char enc[4];
		size_t k;
		if (u >= FOLD_RAW_BYTE_BASE) {
			enc[0] = (unsigned char)(u - FOLD_RAW_BYTE_BASE);
			k = 1;
		} else {
			k = (size_t)utf8proc_encode_char((utf8proc_int32_t)u, enc);
		}
		if (n + k <= cap)
			memcpy(out + n, enc, k);
		n += k;
	}
	fold_buf_release(&fb);
	return (long)n;
}

/* The loose folds of all names, "/" + folded name each, in one arena. */
struct folded_names {
	char *bytes;
	uint32_t *offset; /* n_names + 1 */
};

static int fold_names(struct folded_names *f, const struct store *s)
{
	size_t cap = s->name_bytes_len + s->n_names + 64, at = 0;
	f->bytes = malloc(cap);
	f->offset = malloc(((size_t)s->n_names + 1) * sizeof(*f->offset));
	if (!f->bytes || !f->offset)
		return -ENOMEM;
	for (uint32_t k = 0; k < s->n_names; k++) {
		const char *name = s->name_bytes + s->name_offset[k];
		size_t len = s->name_offset[k + 1] - s->name_offset[k];
		f->offset[k] = (uint32_t)at;
		if (cap - at < 2 * len + 2) {
			char *bigger = realloc(f->bytes, cap * 2 + 2 * len + 2);
			if (!bigger)
				return -ENOMEM;
			f->bytes = bigger;
			cap = cap * 2 + 2 * len + 2;
		}
		long n;
		while ((n = postings_loose_bytes(name, len, f->bytes + at + 1, cap - at - 1)) >= 0 &&
		       at + 1 + (size_t)n > cap) {
			char *bigger = realloc(f->bytes, cap * 2 + (size_t)n);
			if (!bigger)
				return -ENOMEM;
			f->bytes = bigger;
			cap = cap * 2 + (size_t)n;
		}
		if (n < 0)
			return (int)n;
		f->bytes[at] = '/';
		at += 1 + (size_t)n;
		if (at > UINT32_MAX)
			return -EOVERFLOW;
	}
	f->offset[s->n_names] = (uint32_t)at;
	return 0;
}

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

/* Create the trigram table with a slot for every trigram of every name. */
static int collect_trigrams(struct postings *p, const struct folded_names *f, uint32_t n_names)
{
	size_t slots = 1u << 16;
	for (;;) {
		p->n_slots = slots;
		p->keys = calloc(slots, sizeof(*p->keys));
		if (!p->keys)
			return -ENOMEM;
		size_t used = 0;
		for (uint32_t k = 0; k < n_names && used * 2 < slots; k++) {
			const unsigned char *b = (const unsigned char *)f->bytes + f->offset[k];
			size_t len = f->offset[k + 1] - f->offset[k];
			for (size_t i = 0; i + 3 <= len; i++) {
				uint32_t key = trigram_key(b + i);
				size_t s = slot_of(p, key);
				if (!p->keys[s]) {
					p->keys[s] = key;
					used++;
				}
			}
		}
		if (used * 2 < slots) {
			p->n_trigrams = used;
			break;
		}
		free(p->keys);
		slots *= 4;
	}
	p->maps = calloc(p->n_slots, sizeof(*p->maps));
	if (!p->maps)
		return -ENOMEM;
	for (size_t s = 0; s < p->n_slots; s++)
		if (p->keys[s] && !(p->maps[s] = roaring_bitmap_create()))
			return -ENOMEM;
	return 0;
}

struct build_job {
	struct postings *p;
	const struct store *s;
	const struct folded_names *f;
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
			uint32_t d = stack[--top];
			uint32_t k = s->name_id[d];
			const unsigned char *b = (const unsigned char *)j->f->bytes + j->f->offset[k];
			size_t len = j->f->offset[k + 1] - j->f->offset[k];
			for (size_t i = 0; i + 3 <= len; i++) {
				size_t slot = slot_of(p, trigram_key(b + i));
				if ((slot & 1) == j->part && covered_slots[slot])
					covered_slots[slot]--;
			}
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
		for (size_t i = 0; i + 3 <= len; i++) {
			size_t slot = slot_of(p, trigram_key(b + i));
			if ((slot & 1) != j->part)
				continue;
			/* Skip what an ancestor (or an earlier occurrence in this
			 * directory's name) covers. A directory counts every occurrence,
			 * as its removal from the stack uncounts every occurrence. */
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

int postings_build(struct postings *p, const struct store *s)
{
	memset(p, 0, sizeof(*p));
	struct folded_names f = {0};
	int rc = fold_names(&f, s);
	if (rc == 0)
		rc = collect_trigrams(p, &f, s->n_names);
	if (rc < 0)
		goto out;
	struct build_job jobs[2] = {{p, s, &f, 0, 0}, {p, s, &f, 1, 0}};
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
	free(f.bytes);
	free(f.offset);
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
	size_t n = p->n_slots * (sizeof(*p->keys) + sizeof(*p->maps));
	for (int c = 0; c < 256; c++)
		if (p->chars[c])
			n += roaring_bitmap_size_in_bytes(p->chars[c]);
	for (size_t slot = 0; slot < p->n_slots; slot++)
		if (p->maps[slot])
			n += roaring_bitmap_size_in_bytes(p->maps[slot]);
	return n;
}
