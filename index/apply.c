/* apply.c: the writer's batches of changes. Every path is first resolved against the
 * base (the one step that can fail part-way, so it comes before anything changes), room
 * is made in the delta log for the worst case, and only then are the changes made, to a
 * new generation that is published once with all of them. A directory's listing is
 * applied by name under the directory, never as paths. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "generation.h"
#include "trawl_index.h"

/* The base entries at every prefix of every path of a batch. */
struct plan {
	size_t *len;	   /* each path without trailing '/'; 0 for a change that is ignored */
	size_t *first;	   /* n + 1: the change's prefixes are base_id[first[c] .. first[c + 1]) */
	uint32_t *base_id; /* the base entry at that prefix, live or not, or STORE_NO_PARENT */
	size_t n_records;  /* at most this many records appended */
	size_t name_bytes; /* ... with at most this many bytes of names */
};

static void plan_release(struct plan *p)
{
	free(p->len);
	free(p->first);
	free(p->base_id);
}

static size_t count_components(const char *path, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += path[i] == '/';
	return len > 1 ? n : 0; /* "/" has none */
}

/* Components the two paths (trimmed) share from the start. */
static size_t shared_components(const char *a, size_t na, const char *b, size_t nb)
{
	size_t i = 1, n = 0;
	while (i < na && i < nb && a[i] == b[i]) {
		n += a[i] == '/';
		i++;
	}
	int is_a_end = i == na || a[i] == '/', is_b_end = i == nb || b[i] == '/';
	return n + (is_a_end && is_b_end && i > 1);
}

/* The op of the changes trawl_index_apply_listings() makes of its listings: never valid
 * in a caller's changes. */
#define CHANGE_LIST 0x80

static int is_valid(const struct trawl_change *c, const struct trawl_listing *list)
{
	if (!c->path || !store_path_is_acceptable(c->path, c->len))
		return 0;
	switch (c->op) {
	case TRAWL_CHANGE_ADD:
		return c->kind == TRAWL_KIND_FILE || c->kind == TRAWL_KIND_DIR ||
		       c->kind == TRAWL_KIND_LINK;
	case TRAWL_CHANGE_REMOVE:
	case TRAWL_CHANGE_META:
		return 1;
	case CHANGE_LIST:
		return list && (list->entries || !list->n_entries);
	default:
		return 0;
	}
}

/* Resolve every prefix of every valid path in the base. Consecutive paths usually share
 * their directories: what the previous path resolved is reused. */
static int plan_make(struct plan *p, const struct store *s, const struct trawl_change *changes,
		     const struct trawl_listing *lists, size_t n)
{
	memset(p, 0, sizeof(*p));
	p->len = calloc(n ? n : 1, sizeof(*p->len));
	p->first = calloc(n + 1, sizeof(*p->first));
	if (!p->len || !p->first)
		return -ENOMEM;
	size_t total = 0;
	for (size_t c = 0; c < n; c++) {
		p->first[c] = total;
		if (!is_valid(&changes[c], lists ? &lists[c] : NULL))
			continue;
		p->len[c] = path_trim(changes[c].path, changes[c].len);
		size_t k = count_components(changes[c].path, p->len[c]);
		total += k;
		if (changes[c].op == TRAWL_CHANGE_ADD || changes[c].op == CHANGE_LIST) {
			p->n_records += k;
			p->name_bytes += p->len[c];
		}
		if (changes[c].op == CHANGE_LIST) {
			p->n_records += lists[c].n_entries;
			for (size_t e = 0; e < lists[c].n_entries; e++)
				p->name_bytes += lists[c].entries[e].len;
		}
	}
	p->first[n] = total;
	if (!(p->base_id = malloc((total ? total : 1) * sizeof(*p->base_id))))
		return -ENOMEM;
	struct name_folder nf;
	name_folder_init(&nf);
	int rc = 0;
	size_t prev = SIZE_MAX;
	for (size_t c = 0; c < n && rc == 0; c++) {
		if (!p->len[c])
			continue;
		const char *path = changes[c].path;
		uint32_t *ids = p->base_id + p->first[c];
		size_t k = p->first[c + 1] - p->first[c], i = 0;
		if (prev != SIZE_MAX) {
			i = shared_components(path, p->len[c], changes[prev].path, p->len[prev]);
			if (i > k)
				i = k;
			memcpy(ids, p->base_id + p->first[prev], i * sizeof(*ids));
		}
		uint32_t at = i ? ids[i - 1] : 0;
		size_t pos = 1;
		/* Each shared component but the path's last is followed by a '/'. */
		for (size_t skip = 0; skip < i && i < k; skip++)
			pos = (size_t)((const char *)memchr(path + pos, '/', p->len[c] - pos) -
				       path) +
			      1;
		for (; i < k; i++) {
			const char *slash = memchr(path + pos, '/', p->len[c] - pos);
			size_t end = slash ? (size_t)(slash - path) : p->len[c];
			if (at != STORE_NO_PARENT &&
			    (rc = store_child(s, &nf, at, path + pos, end - pos, &at)) < 0)
				break;
			ids[i] = at;
			pos = end + 1;
		}
		prev = c;
	}
	name_folder_release(&nf);
	return rc;
}

/* The writer's state while applying one batch to generation `g`, the one being built. */
struct applier {
	struct generation *g;
	const struct store *s;
	uint32_t n_base;
	int is_add_if_missing; /* trawl_index_add(): leave a live path alone */
	/* The previous change's path, and the live directories its first chain_len
	 * components resolved to once it was applied: a batch lists a directory's entries
	 * together, and resolving every component of every path again, a hash probe each,
	 * was most of applying a first walk. */
	const char *prev_path;
	size_t prev_len;
	uint32_t *chain; /* room for the most components of any path in the batch */
	size_t chain_len;
	uint64_t n_changed; /* records appended or removed, meta versions set */
	uint32_t added;	    /* the live node an ADD left at its path */
	/* A listing's entries by name, for a directory that held entries before: an
	 * open-addressing table of entry indexes + 1 (0: empty), and whether each entry is
	 * still to be added. Room for the batch's longest listing, made before anything
	 * changes. */
	uint32_t *listed;
	uint64_t listed_mask; /* the current listing's part of it */
	uint8_t *is_due;
};

/* The live node named `name` under live directory `at`, given the base entry `base_id`
 * at that path, or NODE_NONE. A live base entry's parent is live, so when `at` is a
 * delta record the base entry is not live and the delta alone is asked. */
static uint32_t find_live(const struct applier *a, uint32_t at, uint32_t base_id, const char *name,
			  size_t len)
{
	if (base_id != STORE_NO_PARENT && generation_base_live(a->g, base_id))
		return base_id;
	uint32_t r = delta_child(&a->g->delta, at, name, len);
	return r == NODE_NONE ? NODE_NONE : a->n_base + r;
}

/* Remove live record `r` and every live record under it, without a stack: down through
 * the newest live child, across to older siblings, up through parents. */
static void remove_records(struct applier *a, uint32_t r)
{
	struct delta_view *v = &a->g->delta;
	uint32_t x = r;
	for (;;) {
		delta_remove(v, x);
		uint32_t child = delta_first_child(v, a->n_base + x);
		if (child != NODE_NONE) {
			x = child;
			continue;
		}
		for (;;) {
			if (x == r)
				return;
			uint32_t sibling = delta_next_child(v, x);
			if (sibling != NODE_NONE) {
				x = sibling;
				break;
			}
			x = delta_record(v->log, x)->parent - a->n_base;
		}
	}
}

/* Remove the live records directly under `node`, and their subtrees. */
static void remove_children(struct applier *a, uint32_t node)
{
	uint32_t next;
	for (uint32_t r = delta_first_child(&a->g->delta, node); r != NODE_NONE; r = next) {
		next = delta_next_child(&a->g->delta, r); /* siblings outlive r's subtree */
		remove_records(a, r);
	}
}

static void remove_children_cb(void *ctx, uint32_t node)
{
	remove_children(ctx, node);
}

/* Remove live node `node` and everything under it. The root stays: every index has it. */
static void remove_node(struct applier *a, uint32_t node)
{
	a->n_changed++;
	if (node >= a->n_base) {
		remove_records(a, node - a->n_base);
		return;
	}
	uint32_t lo = node == 0 ? 1 : node, hi = store_subtree_end(a->s, node);
	if (lo < hi)
		roaring_bitmap_add_range_closed(a->g->tombstones, lo, hi - 1);
	if (node == 0)
		remove_children(a, 0);
	/* Records hang from base directories of the range: found from whichever side is
	 * smaller, the range or the nodes records were appended under. */
	if (delta_n_parents(&a->g->delta) < hi - lo) {
		delta_parents_in(&a->g->delta, lo, hi, remove_children_cb, a);
	} else {
		for (uint32_t id = lo; id < hi; id++)
			if (a->s->kind[id] == TRAWL_KIND_DIR)
				remove_children(a, id);
	}
}

static int is_same_meta(const struct trawl_dir_meta *x, const struct trawl_dir_meta *y)
{
	return x->mtime_ns == y->mtime_ns && x->ctime_ns == y->ctime_ns && x->mode == y->mode &&
	       x->uid == y->uid && x->gid == y->gid;
}

static void set_meta(struct applier *a, uint32_t node, const struct trawl_dir_meta *meta)
{
	struct trawl_dir_meta now;
	generation_node_meta(a->g, node, &now);
	if (is_same_meta(&now, meta))
		return;
	if (node < a->n_base &&
	    (now.mode != meta->mode || now.uid != meta->uid || now.gid != meta->gid))
		a->g->delta.n_access_changes++;
	a->n_changed++;
	delta_set_meta(&a->g->delta, node, meta);
}

static uint32_t append_record(struct applier *a, uint32_t parent, const char *name, size_t len,
			      unsigned kind)
{
	a->n_changed++;
	return a->n_base + delta_append(&a->g->delta, parent, name, len, (uint8_t)kind);
}

/* Apply one valid change, `len` bytes of path without trailing '/', whose `k` prefixes
 * resolve to `base_id` in the base. Returns 1 when it was applied, 0 when it is ignored. */
static int apply_one(struct applier *a, const struct trawl_change *c, size_t len,
		     const uint32_t *base_id, size_t k)
{
	unsigned op = c->op;
	int is_if_missing = a->is_add_if_missing;
	const char *path = c->path;
	uint32_t at = 0; /* the root */
	size_t pos = 1, i = 0;
	/* Directories this path shares with the previous one are where that change left
	 * them (the entry itself is always looked up). */
	if (k > 1 && a->prev_path) {
		i = shared_components(path, len, a->prev_path, a->prev_len);
		i = i < a->chain_len ? i : a->chain_len;
		i = i < k - 1 ? i : k - 1;
		if (i)
			at = a->chain[i - 1];
		for (size_t skip = 0; skip < i; skip++)
			pos = (size_t)((const char *)memchr(path + pos, '/', len - pos) - path) + 1;
	}
	a->prev_path = path;
	a->prev_len = len;
	a->chain_len = i;
	for (; i < k; i++) {
		const char *slash = memchr(path + pos, '/', len - pos);
		size_t end = slash ? (size_t)(slash - path) : len;
		const char *name = path + pos;
		size_t n = end - pos;
		pos = end + 1;
		uint32_t x = find_live(a, at, base_id[i], name, n);
		if (i + 1 == k) {
			/* The last component: `x` is the entry the change is about. */
			if (op != TRAWL_CHANGE_ADD) {
				if (x == NODE_NONE)
					return 0;
				at = x;
				break;
			}
			a->added = x;
			if (x != NODE_NONE) {
				if (is_if_missing)
					return 1;
				if (generation_node_kind(a->g, x) == c->kind) {
					if (c->kind == TRAWL_KIND_DIR) {
						set_meta(a, x, &c->meta);
						a->chain[i] = x;
						a->chain_len = i + 1;
					}
					return 1;
				}
				remove_node(a, x);
			}
			x = a->added = append_record(a, at, name, n, c->kind);
			if (c->kind == TRAWL_KIND_DIR) {
				set_meta(a, x, &c->meta);
				a->chain[i] = x;
				a->chain_len = i + 1;
			}
			return 1;
		}
		if (x != NODE_NONE && generation_node_kind(a->g, x) == TRAWL_KIND_DIR) {
			at = x;
			a->chain[i] = at;
			a->chain_len = i + 1;
			continue;
		}
		if (op != TRAWL_CHANGE_ADD)
			return 0;
		/* A missing directory is created; a file or link where a directory must be
		 * becomes one, as the list builder does. */
		if (x != NODE_NONE)
			remove_node(a, x);
		at = append_record(a, at, name, n, TRAWL_KIND_DIR);
		a->chain[i] = at;
		a->chain_len = i + 1;
	}
	/* `at` is the entry: the root when the path is "/". */
	switch (op) {
	case TRAWL_CHANGE_REMOVE:
		remove_node(a, at);
		return 1;
	case TRAWL_CHANGE_META:
		if (generation_node_kind(a->g, at) != TRAWL_KIND_DIR)
			return 0;
		set_meta(a, at, &c->meta);
		return 1;
	default: /* ADD of "/": the root is a directory */
		if (c->kind != TRAWL_KIND_DIR)
			return 0;
		a->added = at;
		if (!is_if_missing)
			set_meta(a, at, &c->meta);
		return 1;
	}
}

/* ---- listings ---- */

static int is_component(const char *name, size_t len)
{
	return len && len <= UINT32_MAX && !memchr(name, '/', len) &&
	       !(name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.')));
}

static int is_listable(const struct trawl_entry *e)
{
	return (e->kind == TRAWL_KIND_FILE || e->kind == TRAWL_KIND_DIR ||
		e->kind == TRAWL_KIND_LINK) &&
	       e->name && is_component(e->name, e->len);
}

static uint64_t listed_home(const struct applier *a, const char *name, size_t len)
{
	return hash_bytes(name, len, HASH_SEED) & a->listed_mask;
}

/* The first entry of the listing named `name`, or SIZE_MAX; with `is_insert`, entry
 * `insert` is filed under its name when no entry has it yet. */
static size_t listed_find(struct applier *a, const struct trawl_entry *entries, const char *name,
			  size_t len, int is_insert, size_t insert)
{
	for (uint64_t k = listed_home(a, name, len);; k = (k + 1) & a->listed_mask) {
		uint32_t at = a->listed[k];
		if (!at) {
			if (is_insert)
				a->listed[k] = (uint32_t)insert + 1;
			return SIZE_MAX;
		}
		const struct trawl_entry *e = &entries[at - 1];
		if (e->len == len && memcmp(e->name, name, len) == 0)
			return at - 1;
	}
}

/* An entry that was live in the listed directory before: kept when listed with its kind
 * (then it is not added again), removed otherwise. */
static void relist_old(struct applier *a, const struct trawl_listing *c, uint32_t node,
		       const char *name, size_t len, unsigned kind)
{
	size_t e = listed_find(a, c->entries, name, len, 0, 0);
	if (e != SIZE_MAX && c->entries[e].kind == kind)
		a->is_due[e] = 0;
	else
		remove_node(a, node);
}

/* How many entries ahead list_into_empty() starts loading the names table's slots: a
 * directory's first entries wait for memory together rather than one after another. */
#define APPLY_PREFETCH_ENTRIES 8

/* The names table's key of entry `i` under `dir`, after starting to load its slot; a
 * key that cannot be (UINT64_MAX) for an entry that does not count. */
static uint64_t prefetch_entry(const struct applier *a, const struct trawl_listing *c, uint32_t dir,
			       size_t i)
{
	const struct trawl_entry *e = &c->entries[i];
	if (!is_listable(e))
		return UINT64_MAX;
	uint32_t key = delta_name_key(dir, e->name, e->len);
	delta_prefetch(&a->g->delta, key);
	return key;
}

/* The entries of a directory that held none before: each one look-up in the delta's
 * names, which also finds a name listed twice (the first stays), and the append at the
 * place that look-up found. */
static void list_into_empty(struct applier *a, const struct trawl_listing *c, uint32_t dir)
{
	struct delta_view *v = &a->g->delta;
	uint64_t keys[APPLY_PREFETCH_ENTRIES];
	for (size_t i = 0; i < c->n_entries && i < APPLY_PREFETCH_ENTRIES; i++)
		keys[i] = prefetch_entry(a, c, dir, i);
	for (size_t i = 0; i < c->n_entries; i++) {
		uint64_t key = keys[i % APPLY_PREFETCH_ENTRIES];
		if (i + APPLY_PREFETCH_ENTRIES < c->n_entries)
			keys[i % APPLY_PREFETCH_ENTRIES] =
			    prefetch_entry(a, c, dir, i + APPLY_PREFETCH_ENTRIES);
		if (key == UINT64_MAX)
			continue;
		const struct trawl_entry *e = &c->entries[i];
		struct delta_spot spot;
		if (delta_find_key(v, (uint32_t)key, dir, e->name, e->len, &spot) != NODE_NONE)
			continue;
		delta_append_found(v, &spot, dir, e->name, e->len, e->kind);
		a->n_changed++;
	}
}

/* Make the live directory `dir` hold just the listing's entries. */
static void list_into(struct applier *a, const struct trawl_listing *c, uint32_t dir)
{
	struct delta_view *v = &a->g->delta;
	const struct store *s = a->s;
	int has_base_children = dir < a->n_base && store_subtree_end(s, dir) > dir + 1;
	if (!has_base_children && !delta_has_children(v, dir)) {
		list_into_empty(a, c, dir);
		return;
	}
	/* At most half full, as a power of two: no larger than this listing needs. */
	uint64_t slots = 1;
	while (slots < 2 * (uint64_t)c->n_entries)
		slots *= 2;
	a->listed_mask = slots - 1;
	memset(a->listed, 0, slots * sizeof(*a->listed));
	for (size_t i = 0; i < c->n_entries; i++) {
		const struct trawl_entry *e = &c->entries[i];
		a->is_due[i] =
		    is_listable(e) && listed_find(a, c->entries, e->name, e->len, 1, i) == SIZE_MAX;
	}
	/* What the directory held: kept, replaced or removed. Then what is new. */
	if (has_base_children) {
		uint32_t end = store_subtree_end(s, dir);
		for (uint32_t x = dir + 1; x < end; x = store_subtree_end(s, x)) {
			if (!generation_base_live(a->g, x))
				continue;
			size_t len;
			const char *name = store_name(s, x, &len);
			relist_old(a, c, x, name, len, s->kind[x]);
		}
	}
	uint32_t next;
	for (uint32_t r = delta_first_child(v, dir); r != NODE_NONE; r = next) {
		next = delta_next_child(v, r); /* siblings outlive r's subtree */
		const struct delta_record *rec = delta_record(v->log, r);
		relist_old(a, c, a->n_base + r, rec->name, rec->name_len, rec->kind);
	}
	for (size_t i = 0; i < c->n_entries; i++)
		if (a->is_due[i])
			append_record(a, dir, c->entries[i].name, c->entries[i].len,
				      c->entries[i].kind);
}

/* Apply a listing with a valid path (the other arguments as apply_one()'s). Returns 1
 * when it changed something, 0 when it found everything as listed. */
static int apply_list(struct applier *a, const struct trawl_listing *l, size_t len,
		      const uint32_t *base_id, size_t k)
{
	uint64_t before = a->n_changed;
	struct trawl_change dir = {.path = l->path,
				   .len = l->len,
				   .op = TRAWL_CHANGE_ADD,
				   .kind = TRAWL_KIND_DIR,
				   .meta = l->meta};
	apply_one(a, &dir, len, base_id, k); /* never ignored: a valid path, a directory */
	list_into(a, l, a->added);
	return a->n_changed != before;
}

/* The generation after `g`: the same base and log, its own copy of the tombstones, the
 * next epoch. */
static struct generation *generation_next(struct generation *g)
{
	struct generation *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	if (!(n->tombstones = roaring_bitmap_copy(g->tombstones))) {
		free(n);
		return NULL;
	}
	atomic_init(&n->refs, 1);
	atomic_fetch_add(&g->base->refs, 1);
	n->base = g->base;
	delta_view_copy(&n->delta, &g->delta);
	n->delta.epoch = g->delta.epoch + 1;
	return n;
}

/* Apply `changes`; with `lists`, changes[c] is listing lists[c]. */
static int index_apply(struct trawl_index *ix, const struct trawl_change *changes,
		       const struct trawl_listing *lists, size_t n, size_t *n_ignored,
		       int is_add_if_missing)
{
	if (n_ignored)
		*n_ignored = 0;
	if (n == 0)
		return 0;
	pthread_mutex_lock(&ix->writer);
	struct plan p;
	struct generation *ng = NULL;
	int rc = 0;
	/* Epochs are 32 bits and every log starts at 0: a rebuild starts a new log. */
	if (ix->current->delta.epoch >= DELTA_ALIVE - 2 && (rc = rebuild_locked(ix)) < 0)
		goto out_no_plan;
	struct generation *g = ix->current; /* stable: only writers replace it */
	if ((rc = plan_make(&p, &g->base->store, changes, lists, n)) < 0)
		goto out;
	rc = -ENOMEM;
	if (!(ng = generation_next(g)))
		goto out;
	/* Every change may set one meta version. */
	rc = delta_reserve(ng->delta.log, p.n_records, p.name_bytes, n);
	if (rc == -EOVERFLOW && (g->delta.n_records || g->delta.n_metas)) {
		/* The log is full: a rebuild empties it (once: then it is empty). */
		generation_put(ng);
		ng = NULL;
		plan_release(&p);
		if ((rc = rebuild_locked(ix)) < 0)
			goto out_no_plan;
		pthread_mutex_unlock(&ix->writer);
		return index_apply(ix, changes, lists, n, n_ignored, is_add_if_missing);
	}
	if (rc < 0)
		goto out;
	size_t most = 1, most_listed = 0;
	for (size_t c = 0; c < n; c++) {
		if (p.first[c + 1] - p.first[c] > most)
			most = p.first[c + 1] - p.first[c];
		if (p.len[c] && lists && lists[c].n_entries > most_listed)
			most_listed = lists[c].n_entries;
	}
	struct applier a = {.g = ng,
			    .s = &g->base->store,
			    .n_base = g->base->store.n_entries,
			    .is_add_if_missing = is_add_if_missing};
	uint64_t listed_slots = 1;
	while (listed_slots < 2 * (uint64_t)most_listed)
		listed_slots *= 2;
	a.chain = malloc(most * sizeof(*a.chain));
	a.listed = lists ? malloc(listed_slots * sizeof(*a.listed)) : NULL;
	a.is_due = lists ? malloc(most_listed ? most_listed : 1) : NULL;
	if (!a.chain || (lists && (!a.listed || !a.is_due))) {
		free(a.chain);
		free(a.listed);
		free(a.is_due);
		rc = -ENOMEM;
		goto out;
	}
	delta_view_adopt_tables(&ng->delta);
	/* Nothing below fails: the changes go in, all of them. */
	size_t ignored = 0;
	for (size_t c = 0; c < n; c++) {
		const uint32_t *base_id = p.base_id + p.first[c];
		size_t k = p.first[c + 1] - p.first[c];
		if (!p.len[c])
			ignored++;
		else if (lists)
			ignored += !apply_list(&a, &lists[c], p.len[c], base_id, k);
		else
			ignored += !apply_one(&a, &changes[c], p.len[c], base_id, k);
	}
	if (n_ignored)
		*n_ignored = ignored;
	free(a.chain);
	free(a.listed);
	free(a.is_due);
	index_publish(ix, ng);
	ng = NULL;
	rc = 0;
out:
	plan_release(&p);
out_no_plan:
	generation_put(ng);
	pthread_mutex_unlock(&ix->writer);
	return rc;
}

int trawl_index_apply(struct trawl_index *ix, const struct trawl_change *changes, size_t n,
		      size_t *n_ignored)
{
	return index_apply(ix, changes, NULL, n, n_ignored, 0);
}

int trawl_index_apply_listings(struct trawl_index *ix, const struct trawl_listing *lists, size_t n,
			       size_t *n_ignored)
{
	/* The paths as changes, for the plan and for finding the directories. */
	struct trawl_change *changes = calloc(n ? n : 1, sizeof(*changes));
	if (!changes)
		return -ENOMEM;
	for (size_t c = 0; c < n; c++)
		changes[c] = (struct trawl_change){
		    .path = lists[c].path, .len = lists[c].len, .op = CHANGE_LIST};
	int rc = index_apply(ix, changes, lists, n, n_ignored, 0);
	free(changes);
	return rc;
}

int trawl_index_add(struct trawl_index *ix, const char *path, size_t len, enum trawl_kind kind)
{
	if (!store_path_is_acceptable(path, len))
		return -EINVAL;
	struct trawl_change c = {
	    .path = path, .len = len, .op = TRAWL_CHANGE_ADD, .kind = (uint8_t)kind};
	return index_apply(ix, &c, NULL, 1, NULL, 1);
}

int trawl_index_remove(struct trawl_index *ix, const char *path, size_t len)
{
	struct trawl_change c = {.path = path, .len = len, .op = TRAWL_CHANGE_REMOVE};
	size_t ignored = 0;
	int rc = index_apply(ix, &c, NULL, 1, &ignored, 0);
	return rc < 0 ? rc : ignored ? -ENOENT : 0;
}
