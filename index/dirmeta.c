/* dirmeta.c: building the compact directory meta of a base, and reading it back by
 * entry id. */
#include "dirmeta.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

uint32_t dirmeta_rank(const struct dirmeta *m, uint32_t id)
{
	size_t block = id / DIRMETA_BLOCK_ENTRIES, word = id / 64;
	uint32_t rank = m->dir_rank[block];
	for (size_t w = block * (DIRMETA_BLOCK_ENTRIES / 64); w < word; w++)
		rank += (uint32_t)__builtin_popcountll(m->dir_bits[w]);
	uint64_t below = (1ull << (id % 64)) - 1;
	return rank + (uint32_t)__builtin_popcountll(m->dir_bits[word] & below);
}

void dirmeta_get(const struct dirmeta *m, uint32_t id, struct trawl_dir_meta *out)
{
	uint32_t r = dirmeta_rank(m, id);
	uint32_t a = m->attr_id_bytes == 2 ? ((const uint16_t *)m->attr_ids)[r]
					   : ((const uint32_t *)m->attr_ids)[r];
	out->mtime_ns = m->mtime_ns[r];
	out->ctime_ns = m->mtime_ns[r];
	uint32_t lo = 0, hi = m->n_ctimes;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (m->ctime_rank[mid] < r)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < m->n_ctimes && m->ctime_rank[lo] == r)
		out->ctime_ns = m->ctime_ns[lo];
	out->mode = m->attrs[3 * (size_t)a];
	out->uid = m->attrs[3 * (size_t)a + 1];
	out->gid = m->attrs[3 * (size_t)a + 2];
}

/* The distinct (mode, uid, gid) triples while building: open addressing over indices
 * into the growing triple array. */
struct attr_table {
	uint32_t *slots; /* index + 1, 0 for empty */
	size_t n_slots;	 /* a power of two, kept over twice the triples */
	uint32_t *attrs;
	uint32_t n, cap;
};

static size_t attr_hash(const uint32_t *t)
{
	uint64_t h = ((uint64_t)t[0] << 32 | t[1]) * 0x9e3779b97f4a7c15ull;
	h ^= (h >> 29) + (uint64_t)t[2] * 0xbf58476d1ce4e5b9ull;
	return (size_t)(h ^ (h >> 32));
}

static void attr_insert_slot(struct attr_table *t, uint32_t i)
{
	size_t mask = t->n_slots - 1, k = attr_hash(t->attrs + 3 * (size_t)i) & mask;
	while (t->slots[k])
		k = (k + 1) & mask;
	t->slots[k] = i + 1;
}

static int attr_grow(struct attr_table *t)
{
	size_t n_slots = t->n_slots ? t->n_slots * 2 : 64;
	uint32_t *slots = calloc(n_slots, sizeof(*slots));
	uint32_t cap = t->cap ? t->cap * 2 : 32;
	uint32_t *attrs = realloc(t->attrs, 3 * (size_t)cap * sizeof(*attrs));
	if (attrs) {
		t->attrs = attrs;
		t->cap = cap;
	}
	if (!slots || !attrs) {
		free(slots);
		return -ENOMEM;
	}
	free(t->slots);
	t->slots = slots;
	t->n_slots = n_slots;
	for (uint32_t i = 0; i < t->n; i++)
		attr_insert_slot(t, i);
	return 0;
}

/* The directories whose ctime differs from their mtime, while building. */
struct ctime_list {
	uint32_t *rank;
	int64_t *ns;
	uint32_t n, cap;
};

static int ctime_push(struct ctime_list *c, uint32_t rank, int64_t ns)
{
	if (c->n == c->cap) {
		uint32_t cap = c->cap ? c->cap * 2 : 64;
		uint32_t *r = realloc(c->rank, (size_t)cap * sizeof(*r));
		if (r)
			c->rank = r;
		int64_t *t = realloc(c->ns, (size_t)cap * sizeof(*t));
		if (t)
			c->ns = t;
		if (!r || !t)
			return -ENOMEM;
		c->cap = cap;
	}
	c->rank[c->n] = rank;
	c->ns[c->n++] = ns;
	return 0;
}

/* The index of triple `a`, added when new; -ENOMEM. */
static int64_t attr_intern(struct attr_table *t, const uint32_t a[3])
{
	if (t->n_slots) {
		size_t mask = t->n_slots - 1;
		for (size_t k = attr_hash(a) & mask; t->slots[k]; k = (k + 1) & mask)
			if (memcmp(t->attrs + 3 * (size_t)(t->slots[k] - 1), a, 3 * sizeof(*a)) ==
			    0)
				return t->slots[k] - 1;
	}
	if (((size_t)t->n + 1) * 2 > t->n_slots && attr_grow(t) < 0)
		return -ENOMEM;
	memcpy(t->attrs + 3 * (size_t)t->n, a, 3 * sizeof(*a));
	attr_insert_slot(t, t->n);
	return t->n++;
}

int dirmeta_build(struct dirmeta *m, const struct store *s,
		  void (*meta_of)(void *ctx, uint32_t id, struct trawl_dir_meta *out), void *ctx)
{
	memset(m, 0, sizeof(*m));
	uint32_t n = s->n_entries, n_dirs = 0;
	for (uint32_t id = 0; id < n; id++)
		n_dirs += s->kind[id] == TRAWL_KIND_DIR;
	m->n_entries = n;
	m->n_dirs = n_dirs;
	m->dir_bits = calloc(dirmeta_words(n) ? dirmeta_words(n) : 1, sizeof(*m->dir_bits));
	m->dir_rank = malloc((dirmeta_blocks(n) ? dirmeta_blocks(n) : 1) * sizeof(*m->dir_rank));
	m->mtime_ns = malloc((n_dirs ? n_dirs : 1) * sizeof(*m->mtime_ns));
	uint32_t *ids = malloc((n_dirs ? n_dirs : 1) * sizeof(*ids));
	struct attr_table t = {0};
	struct ctime_list c = {0};
	int rc = -ENOMEM;
	if (!m->dir_bits || !m->dir_rank || !m->mtime_ns || !ids)
		goto out;
	uint32_t r = 0;
	for (uint32_t id = 0; id < n; id++) {
		if (id % DIRMETA_BLOCK_ENTRIES == 0)
			m->dir_rank[id / DIRMETA_BLOCK_ENTRIES] = r;
		if (s->kind[id] != TRAWL_KIND_DIR)
			continue;
		m->dir_bits[id / 64] |= 1ull << (id % 64);
		struct trawl_dir_meta meta;
		meta_of(ctx, id, &meta);
		m->mtime_ns[r] = meta.mtime_ns;
		if (meta.ctime_ns != meta.mtime_ns && ctime_push(&c, r, meta.ctime_ns) < 0)
			goto out;
		const uint32_t a[3] = {meta.mode, meta.uid, meta.gid};
		int64_t k = attr_intern(&t, a);
		if (k < 0)
			goto out;
		ids[r++] = (uint32_t)k;
	}
	m->n_ctimes = c.n;
	m->ctime_rank = c.rank;
	m->ctime_ns = c.ns;
	c.rank = NULL;
	c.ns = NULL;
	m->n_attrs = t.n;
	m->attrs = t.n ? realloc(t.attrs, 3 * (size_t)t.n * sizeof(*t.attrs)) : t.attrs;
	if (!m->attrs)
		m->attrs = t.attrs; /* shrinking failed: keep the larger array */
	t.attrs = NULL;
	m->attr_id_bytes = dirmeta_attr_id_bytes(m->n_attrs);
	if (m->attr_id_bytes == 2) {
		uint16_t *narrow = malloc((n_dirs ? n_dirs : 1) * sizeof(*narrow));
		if (!narrow)
			goto out;
		for (uint32_t i = 0; i < n_dirs; i++)
			narrow[i] = (uint16_t)ids[i];
		m->attr_ids = narrow;
	} else {
		m->attr_ids = ids;
		ids = NULL;
	}
	rc = 0;
out:
	free(ids);
	free(t.slots);
	free(t.attrs);
	free(c.rank);
	free(c.ns);
	if (rc < 0)
		dirmeta_release(m);
	return rc;
}

void dirmeta_release(struct dirmeta *m)
{
	free(m->dir_bits);
	free(m->dir_rank);
	free(m->mtime_ns);
	free(m->attr_ids);
	free(m->attrs);
	free(m->ctime_rank);
	free(m->ctime_ns);
	memset(m, 0, sizeof(*m));
}

size_t dirmeta_memory_bytes(const struct dirmeta *m)
{
	return dirmeta_words(m->n_entries) * sizeof(uint64_t) +
	       dirmeta_blocks(m->n_entries) * sizeof(uint32_t) +
	       (size_t)m->n_dirs * (sizeof(int64_t) + m->attr_id_bytes) +
	       (size_t)m->n_attrs * 3 * sizeof(uint32_t) +
	       (size_t)m->n_ctimes * (sizeof(uint32_t) + sizeof(int64_t));
}
