/* visibility.c: what one user may see of an index: the permission check on a directory's
 * stored mode and owner, the bitmap of base entries hidden below closed directories, and
 * the check of single entries and delta records by their ancestors. */
#include "visibility.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "delta.h"
#include "dirmeta.h"

/* ---- the permission check ---- */

static int is_member(const struct trawl_visibility *v, uint32_t gid)
{
	if (gid == v->gid)
		return 1;
	size_t lo = 0, hi = v->n_groups;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v->groups[mid] == gid)
			return 1;
		if (v->groups[mid] < gid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

int visibility_opens(const struct trawl_visibility *v, const struct trawl_dir_meta *meta)
{
	if (v->is_everything)
		return 1;
	/* No type bits: the meta is unknown, and what is unknown stays closed. */
	if ((meta->mode & S_IFMT) != S_IFDIR)
		return 0;
	/* As the kernel's permission check: the first class the user belongs to decides,
	 * even when a later class would grant more. */
	uint32_t bits = meta->uid == v->uid	  ? meta->mode >> 6
			: is_member(v, meta->gid) ? meta->mode >> 3
						  : meta->mode;
	return (bits & (S_IROTH | S_IXOTH)) == (S_IROTH | S_IXOTH);
}

/* ---- single entries ---- */

int visibility_node_open(const struct trawl_visibility *v, const struct generation *g,
			 uint32_t node)
{
	if (v->is_everything)
		return 1;
	uint32_t n_base = generation_n_base(g);
	for (;;) {
		struct trawl_dir_meta meta;
		generation_node_meta(g, node, &meta);
		if (!visibility_opens(v, &meta))
			return 0;
		/* Below a base directory the bitmap knows the rest of the way up. */
		if (node < n_base)
			return !roaring_bitmap_contains(v->hidden, node);
		node = generation_record(g, node)->parent;
	}
}

int visibility_node_visible(const struct trawl_visibility *v, const struct generation *g,
			    uint32_t node)
{
	uint32_t parent = generation_node_parent(g, node);
	return parent == NODE_NONE || visibility_node_open(v, g, parent);
}

/* ---- the bitmap of a base ---- */

/* The first directory at or after `from`, or n_entries when there is none. */
static uint32_t next_dir(const struct dirmeta *m, uint32_t from)
{
	if (from >= m->n_entries)
		return m->n_entries;
	size_t w = from / 64, n_words = dirmeta_words(m->n_entries);
	uint64_t bits = m->dir_bits[w] & (~0ull << (from % 64));
	while (!bits) {
		if (++w >= n_words)
			return m->n_entries;
		bits = m->dir_bits[w];
	}
	uint64_t id = (uint64_t)w * 64 + (uint64_t)__builtin_ctzll(bits);
	return id < m->n_entries ? (uint32_t)id : m->n_entries;
}

static uint32_t attr_of_rank(const struct dirmeta *m, uint32_t rank)
{
	return m->attr_id_bytes == 2 ? ((const uint16_t *)m->attr_ids)[rank]
				     : ((const uint32_t *)m->attr_ids)[rank];
}

/* Hide the subtree of every closed base directory of `g`, in one pass over the
 * directories in id order that skips the subtrees already hidden. The check is made once
 * per distinct (mode, uid, gid) of the base; directories whose meta changed since are
 * checked by their newest meta. */
static int build_hidden(struct trawl_visibility *v, const struct generation *g)
{
	const struct store *s = &g->base->store;
	const struct dirmeta *dm = &g->base->meta;
	uint8_t *attr_open = malloc(dm->n_attrs ? dm->n_attrs : 1);
	roaring_bitmap_t *hidden = roaring_bitmap_create();
	if (!attr_open || !hidden) {
		free(attr_open);
		bitmap_free(hidden);
		return -ENOMEM;
	}
	for (uint32_t a = 0; a < dm->n_attrs; a++) {
		struct trawl_dir_meta meta = {.mode = dm->attrs[3 * (size_t)a],
					      .uid = dm->attrs[3 * (size_t)a + 1],
					      .gid = dm->attrs[3 * (size_t)a + 2]};
		attr_open[a] = (uint8_t)visibility_opens(v, &meta);
	}
	int has_delta_meta = g->delta.n_metas > 0;
	uint32_t n = s->n_entries;
	for (uint32_t id = next_dir(dm, 0); id < n; id = next_dir(dm, id)) {
		struct trawl_dir_meta meta;
		int is_open = has_delta_meta && delta_meta(&g->delta, id, &meta)
				  ? visibility_opens(v, &meta)
				  : attr_open[attr_of_rank(dm, dirmeta_rank(dm, id))];
		uint32_t end = store_subtree_end(s, id);
		if (is_open || end == id + 1) {
			id++;
			continue;
		}
		roaring_bitmap_add_range(hidden, (uint64_t)id + 1, end);
		id = end;
	}
	free(attr_open);
	roaring_bitmap_run_optimize(hidden);
	v->hidden = hidden;
	v->base_serial = g->base->serial;
	v->n_access_changes = g->delta.n_access_changes;
	return 0;
}

int visibility_fits(const struct trawl_visibility *v, const struct generation *g)
{
	return v->is_everything || (v->base_serial == g->base->serial &&
				    v->n_access_changes == g->delta.n_access_changes);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* A visibility for `cred` without its bitmap. */
static struct trawl_visibility *visibility_alloc(uint32_t uid, uint32_t gid, const uint32_t *groups,
						 size_t n_groups)
{
	struct trawl_visibility *v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->uid = uid;
	v->gid = gid;
	v->is_everything = uid == 0;
	if (n_groups) {
		if (!(v->groups = malloc(n_groups * sizeof(*v->groups)))) {
			free(v);
			return NULL;
		}
		memcpy(v->groups, groups, n_groups * sizeof(*groups));
		qsort(v->groups, n_groups, sizeof(*v->groups), cmp_u32);
		size_t kept = 0;
		for (size_t i = 0; i < n_groups; i++)
			if (kept == 0 || v->groups[kept - 1] != v->groups[i])
				v->groups[kept++] = v->groups[i];
		v->n_groups = kept;
	}
	return v;
}

int visibility_for(const struct trawl_visibility *v, const struct generation *g,
		   struct trawl_visibility **own)
{
	*own = NULL;
	if (visibility_fits(v, g))
		return 0;
	struct trawl_visibility *n = visibility_alloc(v->uid, v->gid, v->groups, v->n_groups);
	if (!n)
		return -ENOMEM;
	int rc = build_hidden(n, g);
	if (rc < 0) {
		trawl_visibility_free(n);
		return rc;
	}
	*own = n;
	return 0;
}

/* ---- the public calls ---- */

int trawl_visibility_new(struct trawl_index *ix, const struct trawl_cred *cred,
			 struct trawl_visibility **out)
{
	*out = NULL;
	struct trawl_visibility *v =
	    visibility_alloc(cred->uid, cred->gid, cred->groups, cred->groups ? cred->n_groups : 0);
	if (!v)
		return -ENOMEM;
	if (!v->is_everything) {
		struct generation *g = generation_get(ix);
		int rc = build_hidden(v, g);
		generation_put(g);
		if (rc < 0) {
			trawl_visibility_free(v);
			return rc;
		}
	}
	*out = v;
	return 0;
}

int trawl_visibility_is_current(struct trawl_index *ix, const struct trawl_visibility *v)
{
	if (v->is_everything)
		return 1;
	struct generation *g = generation_get(ix);
	int fits = visibility_fits(v, g);
	generation_put(g);
	return fits;
}

int trawl_visibility_allows(struct trawl_index *ix, const struct trawl_visibility *v,
			    const char *path, size_t len)
{
	struct name_folder nf;
	name_folder_init(&nf);
	struct generation *g = generation_get(ix);
	uint32_t node;
	int rc = generation_resolve(g, &nf, path, len, &node);
	name_folder_release(&nf);
	/* Every directory above it, by its meta in this generation: `v` need not fit. */
	for (uint32_t p = rc == 0 ? generation_node_parent(g, node) : NODE_NONE;
	     p != NODE_NONE && rc == 0; p = generation_node_parent(g, p)) {
		struct trawl_dir_meta meta;
		generation_node_meta(g, p, &meta);
		if (!visibility_opens(v, &meta))
			rc = -EACCES;
	}
	generation_put(g);
	return rc == 0 ? 1 : rc == -EACCES ? 0 : rc;
}

void trawl_visibility_free(struct trawl_visibility *v)
{
	if (!v)
		return;
	bitmap_free(v->hidden);
	free(v->groups);
	free(v);
}
