/* rebuild.c: folding a generation's delta and tombstones into a new base. The live
 * entries go into a store builder as the tree they already are (no paths are built and
 * no names looked up: live entries are unique by construction), then the postings and
 * the directory meta of the new store are built, and a generation over it published. */
#include <errno.h>
#include <stdlib.h>

#include "generation.h"
#include "trawl_index.h"

/* Where each entry of the new store came from, for its meta. */
struct meta_source {
	const struct generation *g;
	const uint32_t *node_of_id; /* new id -> builder node */
	const uint32_t *source;	    /* builder node -> node of g */
};

static void meta_from_source(void *ctx, uint32_t id, struct trawl_dir_meta *out)
{
	const struct meta_source *m = ctx;
	generation_node_meta(m->g, m->source[m->node_of_id[id]], out);
}

/* Append every live entry of `g` to `sb`, parents first: base entries in id order, then
 * records in the order they were appended (a record comes after its parent). node_of[]
 * maps nodes of g to builder nodes, source[] the other way. */
static int append_live(struct store_builder *sb, const struct generation *g, uint32_t *node_of,
		       uint32_t *source)
{
	const struct store *s = &g->base->store;
	uint32_t n_base = s->n_entries;
	node_of[0] = STORE_BUILDER_ROOT;
	source[STORE_BUILDER_ROOT] = 0;
	int rc = 0;
	for (uint32_t id = 1; id < n_base && rc == 0;) {
		if (!generation_base_live(g, id)) {
			id = store_subtree_end(s, id); /* removed with its whole subtree */
			continue;
		}
		size_t n;
		const char *name = store_name(s, id, &n);
		uint32_t node;
		rc = store_builder_append(sb, node_of[s->parent[id]], name, n, s->kind[id], &node);
		node_of[id] = node;
		source[node] = id;
		id++;
	}
	for (uint32_t r = 0; r < g->delta.n_records && rc == 0; r++) {
		if (!delta_is_live(&g->delta, r))
			continue;
		const struct delta_record *rec = delta_record(g->delta.log, r);
		uint32_t node;
		rc = store_builder_append(sb, node_of[rec->parent], rec->name, rec->name_len,
					  rec->kind, &node);
		node_of[n_base + r] = node;
		source[node] = n_base + r;
	}
	return rc;
}

int rebuild_locked(struct trawl_index *ix)
{
	struct generation *g = ix->current;
	uint32_t n_base = g->base->store.n_entries;
	size_t n_nodes = (size_t)n_base + g->delta.n_records;
	size_t n_live = n_base - roaring_bitmap_get_cardinality(g->tombstones) + g->delta.n_live;
	struct store_builder *sb = store_builder_new();
	uint32_t *node_of = malloc(n_nodes * sizeof(*node_of));
	uint32_t *source = malloc(n_live * sizeof(*source));
	uint32_t *node_of_id = NULL;
	struct base *b = NULL;
	struct store_folded folded = {0};
	int rc = -ENOMEM;
	if (!sb || !node_of || !source || !(b = base_new()))
		goto out;
	if ((rc = append_live(sb, g, node_of, source)) < 0)
		goto out;
	free(node_of); /* the largest scratch goes before the build's own */
	node_of = NULL;
	rc = -ENOMEM;
	if (!(node_of_id = malloc((size_t)store_builder_count(sb) * sizeof(*node_of_id))))
		goto out;
	if ((rc = store_builder_finish(sb, &b->store, &folded, node_of_id)) < 0)
		goto out;
	store_builder_free(sb);
	sb = NULL;
	if ((rc = postings_build(&b->postings, &b->store, &folded)) < 0)
		goto out;
	struct meta_source ms = {g, node_of_id, source};
	if ((rc = dirmeta_build(&b->meta, &b->store, meta_from_source, &ms)) < 0)
		goto out;
	struct generation *n = generation_new(b);
	if (!n) {
		rc = -ENOMEM;
		goto out;
	}
	index_publish(ix, n);
	rc = 0;
out:
	store_folded_release(&folded);
	base_put(b);
	store_builder_free(sb);
	free(node_of);
	free(source);
	free(node_of_id);
	return rc;
}

int trawl_index_rebuild(struct trawl_index *ix)
{
	pthread_mutex_lock(&ix->writer);
	int rc = rebuild_locked(ix);
	pthread_mutex_unlock(&ix->writer);
	return rc;
}
