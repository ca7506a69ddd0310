/* index.c: the index's life cycle: building a base, publishing generations, and the
 * writer's operations (add, remove, rebuild) that derive a new generation from the
 * current one. Readers only ever take a reference to a published generation. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "generation.h"
#include "trawl_index.h"

void base_put(struct base *b)
{
	if (b && atomic_fetch_sub(&b->refs, 1) == 1) {
		/* Views into a mapping go before the mapping does. */
		postings_release(&b->postings);
		if (b->mapping)
			munmap(b->mapping, b->mapping_len);
		else
			store_release(&b->store);
		free(b);
	}
}

static void generation_free(struct generation *g)
{
	/* The analyzer does not follow the reference counts: g outlives its base. */
	// NOLINTNEXTLINE(clang-analyzer-unix.Malloc)
	base_put(g->base);
	bitmap_free(g->tombstones);
	free(g->delta);
	free(g->delta_paths);
	free(g);
}

void generation_put(struct generation *g)
{
	if (g && atomic_fetch_sub(&g->refs, 1) == 1)
		generation_free(g);
}

struct generation *generation_get(struct trawl_index *ix)
{
	pthread_mutex_lock(&ix->lock);
	struct generation *g = ix->current;
	atomic_fetch_add(&g->refs, 1);
	pthread_mutex_unlock(&ix->lock);
	return g;
}

/* Make `g` current; the index's reference to the old one is dropped. */
static void publish(struct trawl_index *ix, struct generation *g)
{
	pthread_mutex_lock(&ix->lock);
	struct generation *old = ix->current;
	ix->current = g;
	pthread_mutex_unlock(&ix->lock);
	generation_put(old);
}

/* A new generation over `base` (taking a reference) with no changes. */
static struct generation *generation_new(struct base *base)
{
	struct generation *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	atomic_init(&g->refs, 1);
	g->tombstones = roaring_bitmap_create();
	if (!g->tombstones) {
		free(g);
		return NULL;
	}
	atomic_fetch_add(&base->refs, 1);
	g->base = base;
	return g;
}

struct base *base_new(void)
{
	struct base *b = calloc(1, sizeof(*b));
	if (b)
		atomic_init(&b->refs, 1);
	return b;
}

static int index_new(struct base *base, unsigned threads, struct trawl_index **out)
{
	struct trawl_index *ix = calloc(1, sizeof(*ix));
	struct generation *g = ix ? generation_new(base) : NULL;
	base_put(base); /* the generation holds it now, or it is gone */
	if (!g) {
		free(ix);
		return -ENOMEM;
	}
	pthread_mutex_init(&ix->lock, NULL);
	pthread_mutex_init(&ix->writer, NULL);
	ix->current = g;
	ix->threads = threads ? threads : 2;
	*out = ix;
	return 0;
}

int index_from_base(struct base *base, unsigned threads, struct trawl_index **out)
{
	return index_new(base, threads, out);
}

int trawl_index_build_from_list(const char *buf, size_t len, char sep, unsigned threads,
				struct trawl_index **out, size_t *n_rejected)
{
	size_t rejected = 0;
	*out = NULL;
	struct base *b = base_new();
	if (!b)
		return -ENOMEM;
	struct store_folded folded = {0};
	int rc = store_build_from_list(&b->store, buf, len, sep, &rejected, &folded);
	if (rc == 0)
		rc = postings_build(&b->postings, &b->store, &folded);
	store_folded_release(&folded);
	if (rc < 0) {
		base_put(b);
		return rc;
	}
	if (n_rejected)
		*n_rejected = rejected;
	return index_new(b, threads, out);
}

void trawl_index_free(struct trawl_index *ix)
{
	if (!ix)
		return;
	generation_put(ix->current);
	pthread_mutex_destroy(&ix->lock);
	pthread_mutex_destroy(&ix->writer);
	free(ix);
}

void trawl_index_stats(struct trawl_index *ix, struct trawl_index_stats *st)
{
	struct generation *g = generation_get(ix);
	const struct store *s = &g->base->store;
	memset(st, 0, sizeof(*st));
	st->n_base = s->n_entries;
	st->n_tombstones = roaring_bitmap_get_cardinality(g->tombstones);
	st->n_delta = g->n_delta;
	st->n_entries = st->n_base - st->n_tombstones + st->n_delta;
	st->n_names = s->n_names;
	st->store_bytes = store_memory_bytes(s);
	st->postings_bytes = postings_memory_bytes(&g->base->postings);
	st->n_trigrams = g->base->postings.n_trigrams;
	st->delta_bytes = roaring_bitmap_size_in_bytes(g->tombstones) +
			  g->n_delta * sizeof(*g->delta) + g->delta_paths_len;
	generation_put(g);
}

/* ---- the writer's side ---- */

/* A copy of `g` to modify before publishing, with `extra` spare delta bytes. */
static struct generation *generation_copy(const struct generation *g, size_t extra_entries,
					  size_t extra_bytes)
{
	struct generation *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	atomic_init(&n->refs, 1);
	n->tombstones = roaring_bitmap_copy(g->tombstones);
	n->delta = malloc((g->n_delta + extra_entries) * sizeof(*n->delta));
	n->delta_paths = malloc(g->delta_paths_len + extra_bytes + 1);
	if (!n->tombstones || !n->delta || !n->delta_paths) {
		bitmap_free(n->tombstones);
		free(n->delta);
		free(n->delta_paths);
		free(n);
		return NULL;
	}
	if (g->n_delta)
		memcpy(n->delta, g->delta, g->n_delta * sizeof(*n->delta));
	if (g->delta_paths_len)
		memcpy(n->delta_paths, g->delta_paths, g->delta_paths_len);
	n->n_delta = g->n_delta;
	n->delta_paths_len = g->delta_paths_len;
	atomic_fetch_add(&g->base->refs, 1);
	n->base = g->base;
	return n;
}

static size_t delta_find(const struct generation *g, const char *path, size_t len)
{
	for (size_t i = 0; i < g->n_delta; i++)
		if (g->delta[i].path_len == len &&
		    memcmp(g->delta_paths + g->delta[i].path_offset, path, len) == 0)
			return i;
	return SIZE_MAX;
}

/* Whether `path` is a live entry of `g`. */
static int is_live(const struct generation *g, const char *path, size_t len)
{
	uint32_t id = store_lookup(&g->base->store, path, len);
	if (id != STORE_NO_PARENT && generation_base_live(g, id))
		return 1;
	return delta_find(g, path, len) != SIZE_MAX;
}

/* For an ancestor of an added path: when `path` is live, make sure it is a directory
 * (something listed under a file turns it into one, as the list builder does) and
 * return 1; return 0 when it is not live. */
static int make_directory(struct generation *n, const char *path, size_t len)
{
	const struct store *s = &n->base->store;
	uint32_t id = store_lookup(s, path, len);
	if (id != STORE_NO_PARENT && generation_base_live(n, id)) {
		if (s->kind[id] == TRAWL_KIND_DIR)
			return 1;
		/* The base is immutable: retire the entry and re-add it to the delta. */
		roaring_bitmap_add(n->tombstones, id);
		return 0;
	}
	size_t d = delta_find(n, path, len);
	if (d == SIZE_MAX)
		return 0;
	n->delta[d].kind = TRAWL_KIND_DIR;
	return 1;
}

static size_t trim_trailing_slash(const char *path, size_t len)
{
	while (len > 1 && path[len - 1] == '/')
		len--;
	return len;
}

int trawl_index_add(struct trawl_index *ix, const char *path, size_t len, enum trawl_kind kind)
{
	if (!store_path_is_acceptable(path, len))
		return -EINVAL;
	len = trim_trailing_slash(path, len);
	pthread_mutex_lock(&ix->writer);
	struct generation *g = ix->current; /* stable: only writers replace it */
	int rc = 0;
	if (is_live(g, path, len))
		goto out;
	size_t components = 0;
	for (size_t i = 0; i < len; i++)
		components += path[i] == '/';
	/* At most one delta entry per component, each at most `len` bytes. */
	struct generation *n = generation_copy(g, components, components * len);
	if (!n) {
		rc = -ENOMEM;
		goto out;
	}
	/* Missing ancestors first, as directories, outermost first. */
	for (size_t i = 1; i <= len; i++) {
		if (i < len && path[i] != '/')
			continue;
		int is_leaf = i == len;
		if (!is_leaf && make_directory(n, path, i))
			continue;
		struct delta_entry *e = &n->delta[n->n_delta++];
		e->path_offset = n->delta_paths_len;
		e->path_len = (uint32_t)i;
		e->kind = is_leaf ? (uint8_t)kind : TRAWL_KIND_DIR;
		memcpy(n->delta_paths + n->delta_paths_len, path, i);
		n->delta_paths_len += i;
	}
	publish(ix, n);
out:
	pthread_mutex_unlock(&ix->writer);
	return rc;
}

/* Whether delta path `p` is `path` or lies under it. */
static int is_at_or_under(const char *p, size_t plen, const char *path, size_t len)
{
	if (plen < len || memcmp(p, path, len) != 0)
		return 0;
	return plen == len || p[len] == '/' || (len == 1 && path[0] == '/');
}

int trawl_index_remove(struct trawl_index *ix, const char *path, size_t len)
{
	if (!store_path_is_acceptable(path, len))
		return -ENOENT;
	len = trim_trailing_slash(path, len);
	pthread_mutex_lock(&ix->writer);
	struct generation *g = ix->current;
	int rc = -ENOENT;
	if (!is_live(g, path, len))
		goto out;
	struct generation *n = generation_copy(g, 0, 0);
	if (!n) {
		rc = -ENOMEM;
		goto out;
	}
	const struct store *s = &g->base->store;
	uint32_t id = store_lookup(s, path, len);
	if (id != STORE_NO_PARENT)
		roaring_bitmap_add_range_closed(n->tombstones, id, s->subtree_end[id] - 1);
	/* Compact the delta, dropping the entry and what lies under it. */
	size_t kept = 0, at = 0;
	for (size_t i = 0; i < n->n_delta; i++) {
		struct delta_entry e = n->delta[i];
		const char *p = g->delta_paths + e.path_offset;
		if (is_at_or_under(p, e.path_len, path, len))
			continue;
		memcpy(n->delta_paths + at, p, e.path_len);
		e.path_offset = at;
		at += e.path_len;
		n->delta[kept++] = e;
	}
	n->n_delta = kept;
	n->delta_paths_len = at;
	publish(ix, n);
	rc = 0;
out:
	pthread_mutex_unlock(&ix->writer);
	return rc;
}

int trawl_index_rebuild(struct trawl_index *ix)
{
	pthread_mutex_lock(&ix->writer);
	struct generation *g = ix->current;
	const struct store *s = &g->base->store;
	struct store_builder *sb = store_builder_new();
	char *paths = NULL;
	size_t cap = 0, used = 0;
	struct base *b = NULL;
	int rc = -ENOMEM;
	if (!sb)
		goto out;
	/* The builder keeps pointers into the path arena: size it once, up front. */
	for (uint32_t id = 1; id < s->n_entries; id++)
		if (generation_base_live(g, id))
			cap += store_path(s, id, NULL, 0);
	cap += g->delta_paths_len + 1;
	if (!(paths = malloc(cap)))
		goto out;
	for (uint32_t id = 1; id < s->n_entries; id++) {
		if (!generation_base_live(g, id))
			continue;
		size_t n = store_path(s, id, paths + used, cap - used);
		if ((rc = store_builder_add(sb, paths + used, n, s->kind[id])) < 0)
			goto out;
		used += n;
	}
	for (size_t i = 0; i < g->n_delta; i++) {
		const struct delta_entry *e = &g->delta[i];
		if ((rc = store_builder_add(sb, g->delta_paths + e->path_offset, e->path_len,
					    e->kind)) < 0)
			goto out;
	}
	rc = -ENOMEM;
	if (!(b = base_new()))
		goto out;
	struct store_folded folded = {0};
	rc = store_builder_finish(sb, &b->store, &folded);
	if (rc == 0)
		rc = postings_build(&b->postings, &b->store, &folded);
	store_folded_release(&folded);
	if (rc < 0)
		goto out;
	struct generation *n = generation_new(b);
	if (!n) {
		rc = -ENOMEM;
		goto out;
	}
	publish(ix, n);
	rc = 0;
out:
	base_put(b);
	store_builder_free(sb);
	free(paths);
	pthread_mutex_unlock(&ix->writer);
	return rc;
}
