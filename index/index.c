/* index.c: the index's life cycle: building a base, publishing generations, figures,
 * and the readers' look-ups by path (directory meta, children). Readers only ever take a
 * reference to a published generation; the writer's side is apply.c and rebuild.c. */
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
		if (b->mapping) {
			munmap(b->mapping, b->mapping_len);
		} else {
			store_release(&b->store);
			dirmeta_release(&b->meta);
		}
		free(b);
	}
}

static void generation_free(struct generation *g)
{
	/* The analyzer does not follow the reference counts: g outlives its base. */
	// NOLINTNEXTLINE(clang-analyzer-unix.Malloc)
	base_put(g->base);
	bitmap_free(g->tombstones);
	delta_view_release(&g->delta);
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

void index_publish(struct trawl_index *ix, struct generation *g)
{
	pthread_mutex_lock(&ix->lock);
	struct generation *old = ix->current;
	ix->current = g;
	pthread_mutex_unlock(&ix->lock);
	generation_put(old);
}

struct generation *generation_new(struct base *base)
{
	struct generation *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	atomic_init(&g->refs, 1);
	g->tombstones = roaring_bitmap_create();
	struct delta_log *log = delta_log_new(base->store.n_entries);
	if (!g->tombstones || !log) {
		bitmap_free(g->tombstones);
		delta_log_put(log);
		free(g);
		return NULL;
	}
	delta_view_init(&g->delta, log, 0);
	delta_log_put(log); /* the view holds it */
	atomic_fetch_add(&base->refs, 1);
	g->base = base;
	return g;
}

struct base *base_new(void)
{
	static _Atomic uint64_t last_serial;
	struct base *b = calloc(1, sizeof(*b));
	if (b) {
		atomic_init(&b->refs, 1);
		b->serial = atomic_fetch_add(&last_serial, 1) + 1;
	}
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

static void zero_meta(void *ctx, uint32_t id, struct trawl_dir_meta *out)
{
	(void)ctx;
	(void)id;
	memset(out, 0, sizeof(*out));
}

int base_meta_zero(struct base *b)
{
	return dirmeta_build(&b->meta, &b->store, zero_meta, NULL);
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
	if (rc == 0)
		rc = base_meta_zero(b);
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
	st->n_delta = g->delta.n_records;
	st->n_entries = st->n_base - st->n_tombstones + g->delta.n_live;
	st->n_names = s->n_names;
	st->store_bytes = store_memory_bytes(s) + dirmeta_memory_bytes(&g->base->meta);
	st->postings_bytes = postings_memory_bytes(&g->base->postings);
	st->n_trigrams = g->base->postings.n_trigrams;
	st->delta_bytes =
	    roaring_bitmap_size_in_bytes(g->tombstones) + delta_memory_bytes(&g->delta);
	generation_put(g);
}

int trawl_index_new_empty(unsigned threads, struct trawl_index **out)
{
	return trawl_index_build_from_list("", 0, '\n', threads, out, NULL);
}

/* ---- look-ups by path ---- */

/* The live node at `path` in a reference to the current generation (*gp, to put). */
static int resolve_current(struct trawl_index *ix, const char *path, size_t len,
			   struct generation **gp, uint32_t *node)
{
	struct name_folder nf;
	name_folder_init(&nf);
	*gp = generation_get(ix);
	int rc = generation_resolve(*gp, &nf, path, len, node);
	name_folder_release(&nf);
	return rc;
}

int trawl_index_dir_meta(struct trawl_index *ix, const char *path, size_t len,
			 struct trawl_dir_meta *meta)
{
	struct generation *g;
	uint32_t node;
	int rc = resolve_current(ix, path, len, &g, &node);
	if (rc == 0 && generation_node_kind(g, node) != TRAWL_KIND_DIR)
		rc = -ENOTDIR;
	if (rc == 0)
		generation_node_meta(g, node, meta);
	generation_put(g);
	return rc;
}

/* Call visit() for each live child of `node` in `g` of the kinds in `kinds`. */
static int each_child_of(const struct generation *g, uint32_t node, unsigned kinds,
			 int (*visit)(void *ctx, const struct generation *g, uint32_t node,
				      const char *name, size_t len, unsigned kind),
			 void *ctx)
{
	if (generation_node_kind(g, node) != TRAWL_KIND_DIR)
		return -ENOTDIR;
	int rc = 0;
	const struct store *s = &g->base->store;
	if (node < s->n_entries) {
		/* Base children follow each other subtree by subtree; a removed child's
		 * whole subtree is removed with it. Other kinds are skipped before their
		 * names are read. */
		uint32_t end = store_subtree_end(s, node);
		for (uint32_t c = node + 1; c < end && rc == 0; c = store_subtree_end(s, c)) {
			if (!(s->kind[c] & kinds) || !generation_base_live(g, c))
				continue;
			size_t n;
			const char *name = store_name(s, c, &n);
			rc = visit(ctx, g, c, name, n, s->kind[c]);
		}
	}
	for (uint32_t r = delta_first_child(&g->delta, node); r != NODE_NONE && rc == 0;
	     r = delta_next_child(&g->delta, r)) {
		const struct delta_record *rec = delta_record(g->delta.log, r);
		if (rec->kind & kinds)
			rc = visit(ctx, g, s->n_entries + r, rec->name, rec->name_len, rec->kind);
	}
	return rc;
}

/* Call visit() for each live child of directory `path` of the kinds in `kinds`, with
 * its node in the generation current when this call started. */
static int each_child(struct trawl_index *ix, const char *path, size_t len, unsigned kinds,
		      int (*visit)(void *ctx, const struct generation *g, uint32_t node,
				   const char *name, size_t len, unsigned kind),
		      void *ctx)
{
	struct generation *g;
	uint32_t node;
	int rc = resolve_current(ix, path, len, &g, &node);
	if (rc == 0)
		rc = each_child_of(g, node, kinds, visit, ctx);
	generation_put(g);
	return rc;
}

/* Whether `h` names the live directory at `path` (`len` bytes, trimmed) in `g`: found in
 * g's base, and its chain of names, compared from the end of the path, spells the path.
 * Bytes compared alone: no folding, no search of the name order. A node's name and
 * parent never change within its base (ids are renumbered only by a new base, and delta
 * records are appended, never rewritten), and at most one live entry has a given path,
 * so a hint that holds is the directory a look-up of the path would find. */
static int hint_holds(const struct generation *g, const struct trawl_dir_hint *h, const char *path,
		      size_t len)
{
	if (!h || h->base_serial != g->base->serial || !generation_node_live(g, h->node) ||
	    generation_node_kind(g, h->node) != TRAWL_KIND_DIR)
		return 0;
	size_t end = len; /* path[0, end) is still to match */
	for (uint32_t e = h->node; e != 0; e = generation_node_parent(g, e)) {
		if (e == NODE_NONE)
			return 0;
		size_t n;
		const char *name = generation_node_name(g, e, &n);
		if (n + 1 > end || path[end - n - 1] != '/' || memcmp(path + end - n, name, n) != 0)
			return 0;
		end -= n + 1;
	}
	/* At the root, "/": the first name's '/' was the last byte left, or the hint is
	 * the root's and the path is "/" itself. */
	return end == 0 ? len > 0 : end == 1 && len == 1 && path[0] == '/';
}

struct child_fn {
	int (*fn)(void *ctx, const char *name, size_t len, unsigned kind);
	void *ctx;
};

static int visit_child(void *ctx, const struct generation *g, uint32_t node, const char *name,
		       size_t len, unsigned kind)
{
	const struct child_fn *c = ctx;
	(void)g;
	(void)node;
	return c->fn(c->ctx, name, len, kind);
}

struct hinted_fn {
	int (*fn)(void *ctx, const char *name, size_t len, const struct trawl_dir_meta *meta,
		  const struct trawl_dir_hint *hint);
	void *ctx;
};

static int visit_child_dir_hinted(void *ctx, const struct generation *g, uint32_t node,
				  const char *name, size_t len, unsigned kind)
{
	const struct hinted_fn *c = ctx;
	struct trawl_dir_meta meta;
	(void)kind;
	generation_node_meta(g, node, &meta);
	struct trawl_dir_hint hint = {.base_serial = g->base->serial, .node = node};
	return c->fn(c->ctx, name, len, &meta, &hint);
}

int trawl_index_children(struct trawl_index *ix, const char *path, size_t len,
			 int (*fn)(void *ctx, const char *name, size_t len, unsigned kind),
			 void *ctx)
{
	struct child_fn c = {.fn = fn, .ctx = ctx};
	return each_child(ix, path, len, TRAWL_KIND_ANY, visit_child, &c);
}

int trawl_index_child_dirs(struct trawl_index *ix, const char *path, size_t len,
			   const struct trawl_dir_hint *hint,
			   int (*fn)(void *ctx, const char *name, size_t len,
				     const struct trawl_dir_meta *meta,
				     const struct trawl_dir_hint *hint),
			   void *ctx)
{
	struct hinted_fn c = {.fn = fn, .ctx = ctx};
	struct generation *g = generation_get(ix);
	uint32_t node = hint ? hint->node : 0;
	int rc = 0;
	if (!hint_holds(g, hint, path, path_trim(path, len))) {
		struct name_folder nf;
		name_folder_init(&nf);
		rc = generation_resolve(g, &nf, path, len, &node);
		name_folder_release(&nf);
	}
	if (rc == 0)
		rc = each_child_of(g, node, TRAWL_KIND_DIR, visit_child_dir_hinted, &c);
	generation_put(g);
	return rc;
}
