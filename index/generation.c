/* generation.c: the entries of one generation as nodes, whether they come from the base
 * or the delta: liveness, kind, name, meta, path, and finding one by path. */
#include "generation.h"

#include <errno.h>
#include <string.h>

#include "trawl_index.h"

int generation_node_live(const struct generation *g, uint32_t node)
{
	uint32_t n_base = generation_n_base(g);
	return node < n_base ? generation_base_live(g, node)
			     : delta_is_live(&g->delta, node - n_base);
}

unsigned generation_node_kind(const struct generation *g, uint32_t node)
{
	if (node < generation_n_base(g))
		return g->base->store.kind[node];
	return generation_record(g, node)->kind;
}

const char *generation_node_name(const struct generation *g, uint32_t node, size_t *len)
{
	if (node < generation_n_base(g))
		return store_name(&g->base->store, node, len);
	const struct delta_record *r = generation_record(g, node);
	*len = r->name_len;
	return r->name;
}

uint32_t generation_node_parent(const struct generation *g, uint32_t node)
{
	if (node < generation_n_base(g)) {
		uint32_t p = g->base->store.parent[node];
		return p == STORE_NO_PARENT ? NODE_NONE : p;
	}
	return generation_record(g, node)->parent;
}

void generation_node_meta(const struct generation *g, uint32_t node, struct trawl_dir_meta *out)
{
	if (delta_meta(&g->delta, node, out))
		return;
	if (node < generation_n_base(g) && dirmeta_is_dir(&g->base->meta, node))
		dirmeta_get(&g->base->meta, node, out);
	else
		memset(out, 0, sizeof(*out));
}

size_t generation_node_path(const struct generation *g, uint32_t node, char *buf, size_t cap)
{
	const struct store *s = &g->base->store;
	uint32_t n_base = s->n_entries;
	/* Delta records up to the base entry they hang from, then that entry's path. Only
	 * the root's path ends in '/', so a record's name follows a '/' unless its parent
	 * is the root. */
	size_t len = 0;
	uint32_t e = node;
	for (; e >= n_base; e = generation_record(g, e)->parent) {
		const struct delta_record *r = generation_record(g, e);
		len += r->name_len + (r->parent != 0);
	}
	size_t base_len = store_path(s, e, buf, cap);
	if (base_len + len > cap)
		return base_len + len;
	size_t at = base_len + len;
	for (e = node; e >= n_base; e = generation_record(g, e)->parent) {
		const struct delta_record *r = generation_record(g, e);
		at -= r->name_len;
		memcpy(buf + at, r->name, r->name_len);
		if (r->parent != 0)
			buf[--at] = '/';
	}
	return base_len + len;
}

/* The last path each thread resolved in a base, down to where it left the base. Look-ups
 * come in walk order (a directory, then its children), so the next one usually starts
 * with it and resolves only its last name: folding every name of a path for each
 * look-up was most of an incremental rescan. Keyed by the base's serial, which is never
 * reused; an entry counts only while it is live in the generation asked. */
#define RESOLVE_CACHE_BYTES 1024
static _Thread_local struct {
	uint64_t serial;
	uint32_t id;
	size_t len;
	char path[RESOLVE_CACHE_BYTES];
} resolve_cache;

int generation_resolve(const struct generation *g, struct name_folder *nf, const char *path,
		       size_t len, uint32_t *node)
{
	if (!store_path_is_acceptable(path, len))
		return -ENOENT;
	len = path_trim(path, len);
	const struct store *s = &g->base->store;
	uint32_t n_base = s->n_entries, at = 0; /* the root */
	size_t i = 1;
	size_t cl = resolve_cache.len;
	if (resolve_cache.serial == g->base->serial && cl > 1 && cl <= len &&
	    (cl == len || path[cl] == '/') && memcmp(path, resolve_cache.path, cl) == 0 &&
	    resolve_cache.id < n_base && generation_base_live(g, resolve_cache.id)) {
		at = resolve_cache.id;
		i = cl + 1;
	}
	size_t base_end = 0; /* where the path left the base, when it did past the root */
	uint32_t base_at = 0;
	for (; i < len;) {
		const char *slash = memchr(path + i, '/', len - i);
		size_t end = slash ? (size_t)(slash - path) : len;
		const char *name = path + i;
		size_t n = end - i;
		i = end + 1;
		if (at < n_base) {
			uint32_t c;
			int rc = store_child(s, nf, at, name, n, &c);
			if (rc < 0)
				return rc;
			if (c != STORE_NO_PARENT && generation_base_live(g, c)) {
				at = c;
				base_end = end;
				base_at = c;
				continue;
			}
		}
		uint32_t r = delta_child(&g->delta, at, name, n);
		if (r == NODE_NONE)
			return -ENOENT;
		at = n_base + r;
	}
	if (base_end > 1 && base_end < RESOLVE_CACHE_BYTES) {
		resolve_cache.serial = g->base->serial;
		resolve_cache.id = base_at;
		resolve_cache.len = base_end;
		memcpy(resolve_cache.path, path, base_end);
	}
	*node = at;
	return 0;
}
