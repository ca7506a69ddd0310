/* store.c: building the entry store from a list of paths, and rebuilding paths. The
 * list becomes a temporary tree (the previous path's nodes serve the components it
 * shares, a name past a sorted directory's last child is new, a hash of (parent, name)
 * finds the rest), then a depth-first walk with children in byte order assigns the
 * final ids while a second thread interns the names. */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fold.h"
#include "trawl_index.h"

#define NIL UINT32_MAX

/* One node of the temporary tree. */
struct tnode {
	const char *name;
	uint32_t name_len;
	uint32_t parent;
	uint32_t first_child; /* the newest child: children are listed newest first */
	uint32_t next_sibling;
	uint32_t n_children;
	uint8_t kind;
	uint8_t is_sorted; /* children came in ascending byte order: the newest is the largest */
	uint8_t is_hashed; /* children are in the hash table */
};

/* A directory's children are found by scanning its list while it has fewer than this
 * many; from this many on, in the hash table. Most directories stay below it, and
 * scanning a short list costs less than the cache misses of a large table. */
#define BUILDER_SCAN_CHILDREN 8

struct builder {
	struct tnode *nodes;
	uint32_t root;
	uint32_t n_nodes, cap_nodes;
	uint32_t *slots; /* open addressing: node index or NIL, keyed by (parent, name) */
	size_t n_slots;	 /* a power of two */
	size_t n_hashed; /* nodes in the table */
};

/* Byte order, shorter first on a common prefix: -1, 0 or 1. */
static int cmp_bytes(const char *a, size_t na, const char *b, size_t nb)
{
	int c = memcmp(a, b, na < nb ? na : nb);
	if (c)
		return c < 0 ? -1 : 1;
	return (na > nb) - (na < nb);
}

static void builder_hash_insert(struct builder *b, uint32_t i)
{
	const struct tnode *t = &b->nodes[i];
	size_t mask = b->n_slots - 1;
	size_t k = hash_child(t->parent, t->name, t->name_len) & mask;
	while (b->slots[k] != NIL)
		k = (k + 1) & mask;
	b->slots[k] = i;
	b->n_hashed++;
}

/* Make room for `more` nodes in the table, which is kept under half full. */
static int builder_reserve_slots(struct builder *b, size_t more)
{
	if ((b->n_hashed + more) * 2 < b->n_slots)
		return 0;
	size_t n = b->n_slots ? b->n_slots : 1u << 16;
	while ((b->n_hashed + more) * 2 >= n)
		n *= 2;
	uint32_t *slots = malloc(n * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	memset(slots, 0xff, n * sizeof(*slots));
	free(b->slots);
	b->slots = slots;
	b->n_slots = n;
	b->n_hashed = 0;
	for (uint32_t i = 0; i < b->n_nodes; i++) {
		uint32_t p = b->nodes[i].parent;
		if (p != NIL && b->nodes[p].is_hashed)
			builder_hash_insert(b, i);
	}
	return 0;
}

/* Put the children of `parent` in the table: from now on they are looked up there. */
static int builder_hash_children(struct builder *b, uint32_t parent)
{
	int rc = builder_reserve_slots(b, b->nodes[parent].n_children);
	if (rc < 0)
		return rc;
	b->nodes[parent].is_hashed = 1;
	for (uint32_t k = b->nodes[parent].first_child; k != NIL; k = b->nodes[k].next_sibling)
		builder_hash_insert(b, k);
	return 0;
}

/* The existing child `name` of `parent` into *out, or NIL. A directory with many
 * children gets its children hashed here, the first time one is looked for. */
static int builder_find(struct builder *b, uint32_t parent, const char *name, size_t len,
			uint32_t *out)
{
	*out = NIL;
	if (parent == NIL) {
		/* The only root is node 0. */
		const struct tnode *t = &b->nodes[0];
		if (b->n_nodes && t->name_len == len && memcmp(t->name, name, len) == 0)
			*out = 0;
		return 0;
	}
	if (b->nodes[parent].n_children < BUILDER_SCAN_CHILDREN) {
		for (uint32_t k = b->nodes[parent].first_child; k != NIL;
		     k = b->nodes[k].next_sibling) {
			const struct tnode *t = &b->nodes[k];
			if (t->name_len == len && memcmp(t->name, name, len) == 0) {
				*out = k;
				break;
			}
		}
		return 0;
	}
	if (!b->nodes[parent].is_hashed) {
		int rc = builder_hash_children(b, parent);
		if (rc < 0)
			return rc;
	}
	size_t mask = b->n_slots - 1;
	for (size_t k = hash_child(parent, name, len) & mask; b->slots[k] != NIL;
	     k = (k + 1) & mask) {
		/* A used slot always indexes an existing node. */
		const struct tnode *t = &b->nodes[b->slots[k]];
		// NOLINTNEXTLINE(clang-analyzer-core.NullDereference)
		if (t->parent == parent && t->name_len == len && memcmp(t->name, name, len) == 0) {
			*out = b->slots[k];
			break;
		}
	}
	return 0;
}

/* A new node `name` under `parent` (NIL for the root), first in its parent's list. */
static int builder_new_node(struct builder *b, uint32_t parent, const char *name, size_t len,
			    uint8_t kind, uint32_t *out)
{
	if (b->n_nodes == b->cap_nodes) {
		if (b->cap_nodes >= UINT32_MAX / 2)
			return -EOVERFLOW;
		uint32_t cap = b->cap_nodes ? b->cap_nodes * 2 : 1024;
		struct tnode *nodes = realloc(b->nodes, (size_t)cap * sizeof(*nodes));
		if (!nodes)
			return -ENOMEM;
		b->nodes = nodes;
		b->cap_nodes = cap;
	}
	uint32_t i = b->n_nodes++;
	b->nodes[i] = (struct tnode){name, (uint32_t)len, parent, NIL, NIL, 0, kind, 1, 0};
	if (parent != NIL) {
		struct tnode *p = &b->nodes[parent];
		b->nodes[i].next_sibling = p->first_child;
		p->first_child = i;
		p->n_children++;
	}
	*out = i;
	return 0;
}

/* Find the child `name` of `parent`, creating it; its index goes to *out. */
static int builder_child(struct builder *b, uint32_t parent, const char *name, size_t len,
			 uint8_t kind, uint32_t *out)
{
	/* A name after a sorted directory's largest child is new: sorted input (the
	 * common case) never looks children up. */
	int is_after_newest = 1, rc;
	if (parent != NIL) {
		uint32_t newest = b->nodes[parent].first_child;
		is_after_newest = newest == NIL || cmp_bytes(name, len, b->nodes[newest].name,
							     b->nodes[newest].name_len) > 0;
	}
	if (parent == NIL || !is_after_newest || !b->nodes[parent].is_sorted) {
		uint32_t found;
		if ((rc = builder_find(b, parent, name, len, &found)) < 0)
			return rc;
		if (found != NIL) {
			/* A path listed as a file that turns out to have children is a
			 * directory; an explicit directory stays one. */
			if (kind == TRAWL_KIND_DIR)
				b->nodes[found].kind = TRAWL_KIND_DIR;
			*out = found;
			return 0;
		}
	}
	if (parent != NIL && b->nodes[parent].is_hashed && (rc = builder_reserve_slots(b, 1)) < 0)
		return rc;
	uint32_t i;
	if ((rc = builder_new_node(b, parent, name, len, kind, &i)) < 0)
		return rc;
	if (parent != NIL) {
		struct tnode *p = &b->nodes[parent];
		p->is_sorted &= is_after_newest;
		if (p->is_hashed)
			builder_hash_insert(b, i);
	}
	*out = i;
	return 0;
}

/* Whether a path from a list is one we index: absolute, no empty, "." or ".."
 * components. A trailing '/' is allowed (and marks a directory). */
int store_path_is_acceptable(const char *p, size_t len)
{
	if (len == 0 || p[0] != '/')
		return 0;
	for (size_t i = 1; i < len;) {
		const char *slash = memchr(p + i, '/', len - i);
		size_t end = slash ? (size_t)(slash - p) : len;
		size_t n = end - i;
		if (n == 0 || (n == 1 && p[i] == '.') || (n == 2 && p[i] == '.' && p[i + 1] == '.'))
			return 0;
		i = end + 1;
	}
	return 1;
}

/* The previous path and its nodes, root first: sorted input shares most of them. */
struct chain {
	uint32_t *node;
	uint32_t *end; /* where each component of the previous path ends in it */
	size_t depth, cap;
	const char *prev;
	size_t prev_len;
};

static int chain_reserve(struct chain *c, size_t depth)
{
	if (depth <= c->cap)
		return 0;
	size_t cap = c->cap ? c->cap * 2 : 64;
	while (cap < depth)
		cap *= 2;
	uint32_t *node = realloc(c->node, cap * sizeof(*node));
	if (node)
		c->node = node;
	uint32_t *end = realloc(c->end, cap * sizeof(*end));
	if (end)
		c->end = end;
	if (!node || !end)
		return -ENOMEM;
	c->cap = cap;
	return 0;
}

/* The length of the common prefix of a and b, a word at a time while they agree. */
static size_t common_prefix(const char *a, size_t na, const char *b, size_t nb)
{
	size_t n = na < nb ? na : nb, i = 0;
	for (uint64_t x, y; i + sizeof(x) <= n; i += sizeof(x)) {
		memcpy(&x, a + i, sizeof(x));
		memcpy(&y, b + i, sizeof(y));
		if (x != y)
			break;
	}
	while (i < n && a[i] == b[i])
		i++;
	return i;
}

/* How many leading components p (len bytes) shares with the previous path: those that
 * end inside the bytes the two have in common, or where both end with them. */
static size_t chain_shared(const struct chain *c, const char *p, size_t len)
{
	size_t lcp = common_prefix(c->prev, c->prev_len, p, len), d = 0;
	while (d < c->depth &&
	       (c->end[d] < lcp || (c->end[d] == lcp && (lcp == len || p[lcp] == '/'))))
		d++;
	return d;
}

static int insert_path(struct builder *b, struct chain *c, uint32_t root, const char *p, size_t len,
		       uint8_t leaf_kind)
{
	if (len > 1 && p[len - 1] == '/') {
		leaf_kind = TRAWL_KIND_DIR;
		len--;
	}
	/* Shared components are the previous path's nodes. Only the last can change kind:
	 * the previous path's leaf may be a directory of this one (a file listed before
	 * its children turns out to be a directory; an explicit one stays one). */
	size_t depth = chain_shared(c, p, len), i = depth ? c->end[depth - 1] + 1 : 1;
	if (depth && (i <= len || leaf_kind == TRAWL_KIND_DIR))
		b->nodes[c->node[depth - 1]].kind = TRAWL_KIND_DIR;
	uint32_t parent = depth ? c->node[depth - 1] : root;
	for (; i < len; depth++) {
		const char *slash = memchr(p + i, '/', len - i);
		size_t end = slash ? (size_t)(slash - p) : len;
		uint8_t kind = slash ? TRAWL_KIND_DIR : leaf_kind;
		int rc = chain_reserve(c, depth + 1);
		if (rc < 0)
			return rc;
		if ((rc = builder_child(b, parent, p + i, end - i, kind, &parent)) < 0)
			return rc;
		c->node[depth] = parent;
		c->end[depth] = (uint32_t)end;
		i = end + 1;
	}
	c->depth = depth;
	c->prev = p;
	c->prev_len = len;
	return 0;
}

static int cmp_tnode_name(const void *a, const void *b, void *arg)
{
	const struct tnode *nodes = arg;
	const struct tnode *x = &nodes[*(const uint32_t *)a], *y = &nodes[*(const uint32_t *)b];
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int c = memcmp(x->name, y->name, n);
	if (c)
		return c;
	return (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

/* Assign final ids in depth-first pre-order, children in byte order of their names.
 * Iterative: trees can be deeper than the C stack. order[] receives node indices by id. */
static int assign_ids(struct builder *b, uint32_t root, uint32_t *order, uint32_t *new_parent)
{
	uint32_t *stack = malloc((size_t)b->n_nodes * sizeof(*stack));
	uint32_t *kids = malloc((size_t)b->n_nodes * sizeof(*kids));
	uint32_t *id_of = malloc((size_t)b->n_nodes * sizeof(*id_of));
	if (!stack || !kids || !id_of) {
		free(stack);
		free(kids);
		free(id_of);
		return -ENOMEM;
	}
	size_t top = 0;
	uint32_t next_id = 0;
	stack[top++] = root;
	while (top) {
		uint32_t node = stack[--top];
		uint32_t id = next_id++;
		order[id] = node;
		id_of[node] = id;
		uint32_t p = b->nodes[node].parent;
		new_parent[id] = p == NIL ? STORE_NO_PARENT : id_of[p];
		/* Push children in reverse byte order so the smallest is visited first. */
		size_t n = 0;
		for (uint32_t k = b->nodes[node].first_child; k != NIL;
		     k = b->nodes[k].next_sibling)
			kids[n++] = k;
		qsort_r(kids, n, sizeof(*kids), cmp_tnode_name, b->nodes);
		while (n)
			stack[top++] = kids[--n];
	}
	free(stack);
	free(kids);
	free(id_of);
	return 0;
}

/* Names and their loose folds while they are being ordered. */
struct name_ref {
	const char **name;
	const uint32_t *len;
	const char *folded;	       /* "/" + fold of each name, in first-seen order */
	const uint32_t *folded_offset; /* n + 1 */
};

/* Name order: by loose fold, then by original bytes. Names sharing a folded prefix
 * are then a contiguous range of ids, and a name is found by binary search. Snapshots
 * keep this order: changing it must bump SNAPSHOT_FORMAT_VERSION in snapshot.c. */
static int cmp_name_ref(const void *a, const void *b, void *arg)
{
	const struct name_ref *r = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	int c = cmp_bytes(
	    r->folded + r->folded_offset[x], r->folded_offset[x + 1] - r->folded_offset[x],
	    r->folded + r->folded_offset[y], r->folded_offset[y + 1] - r->folded_offset[y]);
	return c ? c : cmp_bytes(r->name[x], r->len[x], r->name[y], r->len[y]);
}

/* A name being put in name order: the first 8 bytes of its fold after the '/',
 * big-endian and zero-padded, so that ordering prefixes orders folds as far as they
 * go (no fold holds a NUL), with no cache miss; equal prefixes are compared in full. */
struct name_rank {
	uint64_t prefix;
	uint32_t name;
};

static uint64_t fold_prefix(const char *fold, size_t len)
{
	uint64_t p = 0;
	for (size_t i = 0; i < sizeof(p); i++)
		p = p << 8 | (i < len ? (unsigned char)fold[i] : 0);
	return p;
}

static int cmp_name_rank(const void *a, const void *b, void *arg)
{
	const struct name_rank *x = a, *y = b;
	if (x->prefix != y->prefix)
		return x->prefix < y->prefix ? -1 : 1;
	return cmp_name_ref(&x->name, &y->name, arg);
}

/* The "/" + loose fold of each of n names, appended into one arena. */
static int fold_all(const char *const *name, const uint32_t *len, uint32_t n,
		    struct store_folded *f)
{
	size_t cap = 1024, at = 0;
	struct fold_buf fb;
	fold_buf_init(&fb);
	f->bytes = malloc(cap);
	f->offset = malloc(((size_t)n + 1) * sizeof(*f->offset));
	int rc = -ENOMEM;
	if (!f->bytes || !f->offset)
		goto out;
	for (uint32_t k = 0; k < n; k++) {
		f->offset[k] = (uint32_t)at;
		long m;
		while ((m = fold_loose_bytes(&fb, name[k], len[k], f->bytes + at + 1,
					     cap - at - 1)) >= 0 &&
		       at + 1 + (size_t)m > cap) {
			size_t bigger = 2 * cap + (size_t)m + 1;
			char *p = realloc(f->bytes, bigger);
			if (!p)
				goto out;
			f->bytes = p;
			cap = bigger;
		}
		if (m < 0)
			goto out;
		f->bytes[at] = '/';
		at += 1 + (size_t)m;
		if (at > UINT32_MAX) {
			rc = -EOVERFLOW;
			goto out;
		}
		/* Keep room for the next name's '/' so the write above stays in bounds. */
		if (cap - at < 2) {
			char *p = realloc(f->bytes, cap * 2);
			if (!p)
				goto out;
			f->bytes = p;
			cap *= 2;
		}
	}
	f->offset[n] = (uint32_t)at;
	rc = 0;
out:
	fold_buf_release(&fb);
	return rc;
}

void store_folded_release(struct store_folded *f)
{
	free(f->bytes);
	free(f->offset);
	f->bytes = NULL;
	f->offset = NULL;
}

/* Interning a node is a chain of cache misses: its slot, the name the slot holds, that
 * name's bytes. Each is fetched ahead of need, one stage of INTERN_AHEAD nodes further
 * for each link; the slots of the nodes ahead wait in a ring of INTERN_RING. */
#define INTERN_AHEAD 8
#define INTERN_RING  32 /* a power of two, over 3 * INTERN_AHEAD */

static void intern_prefetch(const struct builder *b, uint32_t node, const uint32_t *slots,
			    size_t n_slots, const char *const *first, const uint32_t *first_len,
			    size_t *ring)
{
	/* The first nodes have no stages before them: start the ring full. */
	for (uint32_t i = node ? node + 3 * INTERN_AHEAD : 0;
	     i <= node + 3 * INTERN_AHEAD && i < b->n_nodes; i++) {
		const struct tnode *t = &b->nodes[i];
		ring[i % INTERN_RING] = hash_bytes(t->name, t->name_len, HASH_SEED) & (n_slots - 1);
		__builtin_prefetch(&slots[ring[i % INTERN_RING]]);
	}
	uint32_t i = node + 2 * INTERN_AHEAD;
	if (i < b->n_nodes && slots[ring[i % INTERN_RING]] != NIL) {
		__builtin_prefetch(&first[slots[ring[i % INTERN_RING]]]);
		__builtin_prefetch(&first_len[slots[ring[i % INTERN_RING]]]);
	}
	i = node + INTERN_AHEAD;
	if (i < b->n_nodes && slots[ring[i % INTERN_RING]] != NIL)
		__builtin_prefetch(first[slots[ring[i % INTERN_RING]]]);
}

/* Distinct names: a hash of name bytes finds them; they are then numbered in name
 * order (see cmp_name_ref), and their folds handed back in that order. The name of each
 * builder node goes to name_of_node[]. */
static int intern_names(struct store *s, const struct builder *b, uint32_t *name_of_node,
			struct store_folded *folded)
{
	size_t n_slots = 1024;
	while (n_slots < (size_t)b->n_nodes * 2)
		n_slots *= 2;
	uint32_t *slots = malloc(n_slots * sizeof(*slots));
	const char **first = malloc((size_t)b->n_nodes * sizeof(*first));
	uint32_t *first_len = malloc((size_t)b->n_nodes * sizeof(*first_len));
	struct store_folded unordered = {0};
	struct name_rank *ranks = NULL;
	int rc = -ENOMEM;
	if (!slots || !first || !first_len)
		goto out;
	memset(slots, 0xff, n_slots * sizeof(*slots));
	uint32_t n_names = 0;
	size_t bytes = 0;
	size_t ring[INTERN_RING];
	for (uint32_t node = 0; node < b->n_nodes; node++) {
		intern_prefetch(b, node, slots, n_slots, first, first_len, ring);
		const struct tnode *t = &b->nodes[node];
		size_t k = ring[node % INTERN_RING];
		for (; slots[k] != NIL; k = (k + 1) & (n_slots - 1))
			if (first_len[slots[k]] == t->name_len &&
			    memcmp(first[slots[k]], t->name, t->name_len) == 0)
				break;
		if (slots[k] == NIL) {
			slots[k] = n_names;
			first[n_names] = t->name;
			first_len[n_names] = t->name_len;
			bytes += t->name_len;
			n_names++;
		}
		name_of_node[node] = slots[k];
	}
	s->n_names = n_names;
	if (bytes > UINT32_MAX) {
		rc = -EOVERFLOW;
		goto out;
	}
	if ((rc = fold_all(first, first_len, n_names, &unordered)) < 0)
		goto out;
	rc = -ENOMEM;
	free(slots);
	slots = NULL;
	if (!(ranks = malloc(((size_t)n_names + 1) * sizeof(*ranks))))
		goto out;
	for (uint32_t k = 0; k < n_names; k++) {
		const char *f = unordered.bytes + unordered.offset[k] + 1;
		ranks[k] = (struct name_rank){
		    fold_prefix(f, unordered.offset[k + 1] - unordered.offset[k] - 1), k};
	}
	struct name_ref refs = {first, first_len, unordered.bytes, unordered.offset};
	qsort_r(ranks, n_names, sizeof(*ranks), cmp_name_rank, &refs);
	s->name_offset = malloc(((size_t)n_names + 1) * sizeof(*s->name_offset));
	s->name_bytes = malloc(bytes + 1);
	folded->bytes = malloc((size_t)unordered.offset[n_names] + 1);
	folded->offset = malloc(((size_t)n_names + 1) * sizeof(*folded->offset));
	if (!s->name_offset || !s->name_bytes || !folded->bytes || !folded->offset)
		goto out;
	size_t at = 0, fat = 0;
	for (uint32_t k = 0; k < n_names; k++) {
		uint32_t old = ranks[k].name;
		s->name_offset[k] = (uint32_t)at;
		memcpy(s->name_bytes + at, first[old], first_len[old]);
		at += first_len[old];
		size_t fl = unordered.offset[old + 1] - unordered.offset[old];
		folded->offset[k] = (uint32_t)fat;
		memcpy(folded->bytes + fat, unordered.bytes + unordered.offset[old], fl);
		fat += fl;
	}
	s->name_offset[n_names] = (uint32_t)at;
	s->name_bytes_len = at;
	folded->offset[n_names] = (uint32_t)fat;
	/* first_len has been read for the last time: it becomes the old -> new map. */
	uint32_t *renumber = first_len;
	for (uint32_t k = 0; k < n_names; k++)
		renumber[ranks[k].name] = k;
	for (uint32_t node = 0; node < b->n_nodes; node++)
		name_of_node[node] = renumber[name_of_node[node]];
	rc = 0;
out:
	free(slots);
	free(ranks);
	free(first);
	free(first_len);
	store_folded_release(&unordered);
	if (rc < 0)
		store_folded_release(folded);
	return rc;
}

/* The directories and their subtree ends, from the kinds and parents. Only directories
 * have children (the builder makes sure of it), so a directory's subtree ends where the
 * next entry that is not its descendant starts: computed bottom-up from the parents, each
 * entry's end raising its parent's. */
static int index_subtrees(struct store *s)
{
	uint32_t n = s->n_entries, n_dirs = 0;
	size_t words = store_words(n);
	/* One word more than needed: malloc(0) may return NULL, and an empty store is no
	 * error. */
	s->dir_bits = calloc(words + 1, sizeof(*s->dir_bits));
	s->dir_rank = malloc((words + 1) * sizeof(*s->dir_rank));
	if (!s->dir_bits || !s->dir_rank)
		return -ENOMEM;
	for (uint32_t id = 0; id < n; id++) {
		if (id % 64 == 0)
			s->dir_rank[id / 64] = n_dirs;
		if (s->kind[id] == TRAWL_KIND_DIR) {
			s->dir_bits[id / 64] |= 1ull << (id % 64);
			n_dirs++;
		}
	}
	s->n_dirs = n_dirs;
	if (!(s->dir_end = malloc(((size_t)n_dirs + 1) * sizeof(*s->dir_end))))
		return -ENOMEM;
	for (uint32_t id = 0, r = 0; id < n; id++)
		if (s->kind[id] == TRAWL_KIND_DIR)
			s->dir_end[r++] = id + 1;
	for (uint32_t id = n; id-- > 0;) {
		uint32_t p = s->parent[id], end = store_subtree_end(s, id);
		if (p == STORE_NO_PARENT)
			continue;
		uint32_t *p_end = &s->dir_end[store_dir_rank(s, p)];
		if (end > *p_end)
			*p_end = end;
	}
	return 0;
}

static int index_name_entries(struct store *s)
{
	s->name_entries_offset = calloc((size_t)s->n_names + 1, sizeof(uint32_t));
	/* One more than needed: malloc(0) may return NULL, and an empty store is no error. */
	s->name_entries = malloc(((size_t)s->n_entries + 1) * sizeof(uint32_t));
	if (!s->name_entries_offset || !s->name_entries)
		return -ENOMEM;
	for (uint32_t id = 0; id < s->n_entries; id++)
		s->name_entries_offset[s->name_id[id] + 1]++;
	for (uint32_t k = 0; k < s->n_names; k++)
		s->name_entries_offset[k + 1] += s->name_entries_offset[k];
	/* Fill with a moving cursor per name (reusing the offsets, then shifting back). */
	for (uint32_t id = 0; id < s->n_entries; id++)
		s->name_entries[s->name_entries_offset[s->name_id[id]]++] = id;
	for (uint32_t k = s->n_names; k > 0; k--)
		s->name_entries_offset[k] = s->name_entries_offset[k - 1];
	s->name_entries_offset[0] = 0;
	return 0;
}

struct store_builder {
	struct builder b;
	struct chain c;
};

struct store_builder *store_builder_new(void)
{
	struct store_builder *sb = calloc(1, sizeof(*sb));
	if (sb && builder_child(&sb->b, NIL, "/", 1, TRAWL_KIND_DIR, &sb->b.root) < 0) {
		store_builder_free(sb);
		return NULL;
	}
	return sb;
}

void store_builder_free(struct store_builder *sb)
{
	if (!sb)
		return;
	free(sb->b.nodes);
	free(sb->b.slots);
	free(sb->c.node);
	free(sb->c.end);
	free(sb);
}

int store_builder_add(struct store_builder *sb, const char *path, size_t len, unsigned kind)
{
	if (!store_path_is_acceptable(path, len))
		return -EINVAL;
	return insert_path(&sb->b, &sb->c, sb->b.root, path, len, (uint8_t)kind);
}

int store_builder_append(struct store_builder *sb, uint32_t parent, const char *name, size_t len,
			 unsigned kind, uint32_t *out)
{
	if (parent >= sb->b.n_nodes || sb->b.nodes[parent].kind != TRAWL_KIND_DIR ||
	    len > UINT32_MAX)
		return -EINVAL;
	return builder_new_node(&sb->b, parent, name, len, (uint8_t)kind, out);
}

uint32_t store_builder_count(const struct store_builder *sb)
{
	return sb->b.n_nodes;
}

/* Interning names needs the nodes, not their ids: it runs beside assign_ids(). */
struct intern_job {
	struct store *s;
	const struct builder *b;
	uint32_t *name_of_node;
	struct store_folded *folded;
	int rc;
};

static void *intern_job_run(void *arg)
{
	struct intern_job *j = arg;
	j->rc = intern_names(j->s, j->b, j->name_of_node, j->folded);
	return NULL;
}

int store_builder_finish(struct store_builder *sb, struct store *s, struct store_folded *folded,
			 uint32_t *node_of_id)
{
	struct builder *b = &sb->b;
	/* Read once: the threads below share b and s, and the analyzer then forgets. */
	const uint32_t n_nodes = b->n_nodes;
	memset(s, 0, sizeof(*s));
	s->n_entries = n_nodes;
	uint32_t *order = malloc((size_t)n_nodes * sizeof(*order));
	s->parent = malloc((size_t)n_nodes * sizeof(*s->parent));
	s->name_id = malloc((size_t)n_nodes * sizeof(*s->name_id));
	s->kind = malloc(n_nodes);
	int rc = -ENOMEM;
	if (!order || !s->parent || !s->name_id || !s->kind)
		goto out;
	/* The hash table is not needed any more: give its memory back first. */
	free(b->slots);
	b->slots = NULL;
	b->n_slots = 0;
	b->n_hashed = 0;
	/* s->name_id holds each node's name until the ids are known. */
	struct intern_job job = {s, b, s->name_id, folded, 0};
	pthread_t thread;
	int is_threaded = pthread_create(&thread, NULL, intern_job_run, &job) == 0;
	rc = assign_ids(b, b->root, order, s->parent);
	if (is_threaded)
		pthread_join(thread, NULL);
	else
		intern_job_run(&job);
	if (rc == 0)
		rc = job.rc;
	if (rc < 0)
		goto out;
	if (node_of_id)
		memcpy(node_of_id, order, (size_t)n_nodes * sizeof(*order));
	/* Kinds and names by node become kinds and names by id, the names in place in
	 * order[], which then swaps in. */
	for (uint32_t id = 0; id < n_nodes; id++) {
		uint32_t node = order[id];
		s->kind[id] = b->nodes[node].kind;
		order[id] = s->name_id[node];
	}
	uint32_t *name_id = order;
	order = s->name_id;
	s->name_id = name_id;
	if ((rc = index_subtrees(s)) == 0)
		rc = index_name_entries(s);
out:
	free(order);
	if (rc < 0) {
		store_release(s);
		store_folded_release(folded);
	}
	return rc;
}

int store_build_from_list(struct store *s, const char *buf, size_t len, char sep,
			  size_t *n_rejected, struct store_folded *folded)
{
	*n_rejected = 0;
	struct store_builder *sb = store_builder_new();
	if (!sb)
		return -ENOMEM;
	int rc = 0;
	for (size_t i = 0; i < len && rc >= 0;) {
		const char *end = memchr(buf + i, sep, len - i);
		size_t n = end ? (size_t)(end - (buf + i)) : len - i;
		if (n > 0) {
			rc = store_builder_add(sb, buf + i, n, TRAWL_KIND_FILE);
			if (rc == -EINVAL) {
				(*n_rejected)++;
				rc = 0;
			}
		}
		i += n + 1;
	}
	if (rc >= 0)
		rc = store_builder_finish(sb, s, folded, NULL);
	store_builder_free(sb);
	return rc;
}

void name_folder_init(struct name_folder *nf)
{
	fold_buf_init(&nf->fb);
	nf->buf = NULL;
	nf->cap = 0;
}

void name_folder_release(struct name_folder *nf)
{
	fold_buf_release(&nf->fb);
	free(nf->buf);
	name_folder_init(nf);
}

const char *name_folder_fold(struct name_folder *nf, const char *name, size_t len, size_t *out_len)
{
	for (;;) {
		long n = fold_loose_bytes(&nf->fb, name, len, nf->buf, nf->cap);
		if (n < 0)
			return NULL;
		if ((size_t)n <= nf->cap) {
			*out_len = (size_t)n;
			return nf->buf ? nf->buf : "";
		}
		char *p = realloc(nf->buf, (size_t)n * 2);
		if (!p)
			return NULL;
		nf->buf = p;
		nf->cap = (size_t)n * 2;
	}
}

/* The loose fold of name k (see name_folder_fold). */
static const char *name_fold(const struct store *s, struct name_folder *nf, uint32_t k, size_t *len)
{
	return name_folder_fold(nf, s->name_bytes + s->name_offset[k],
				s->name_offset[k + 1] - s->name_offset[k], len);
}

/* Compare name k with (fold, bytes) in name order; -2 when folding failed. */
static int name_cmp(const struct store *s, struct name_folder *nf, uint32_t k, const char *key,
		    size_t key_len, const char *name, size_t len)
{
	size_t fl;
	const char *f = name_fold(s, nf, k, &fl);
	if (!f)
		return -2;
	int c = cmp_bytes(f, fl, key, key_len);
	return c ? c
		 : cmp_bytes(s->name_bytes + s->name_offset[k],
			     s->name_offset[k + 1] - s->name_offset[k], name, len);
}

/* The id of name `name` into *out, UINT32_MAX when there is none. Returns 0 or -ENOMEM. */
static int find_name(const struct store *s, struct name_folder *nf, const char *name, size_t len,
		     uint32_t *out)
{
	/* The key's fold is kept apart: nf's buffer is reused for every name compared. */
	struct name_folder kf;
	name_folder_init(&kf);
	size_t key_len;
	const char *key = name_folder_fold(&kf, name, len, &key_len);
	int rc = key ? 0 : -ENOMEM;
	uint32_t lo = 0, hi = s->n_names;
	while (key && lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = name_cmp(s, nf, mid, key, key_len, name, len);
		if (c == -2) {
			rc = -ENOMEM;
			break;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*out = UINT32_MAX;
	if (rc == 0 && lo < s->n_names) {
		int c = name_cmp(s, nf, lo, key, key_len, name, len);
		if (c == -2)
			rc = -ENOMEM;
		else if (c == 0)
			*out = lo;
	}
	name_folder_release(&kf);
	return rc;
}

void store_prefix_range(const struct store *s, struct name_folder *nf, const char *prefix,
			size_t len, uint32_t *lo_out, uint32_t *hi_out)
{
	/* lo: the first name whose fold is >= prefix; hi: the first whose fold's first
	 * len bytes are > prefix. A failed fold sorts low: it cannot make the range skip a
	 * name, only widen it, and the matcher checks every name it yields. */
	uint32_t lo = 0, hi = s->n_names;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		size_t fl = 0;
		const char *f = name_fold(s, nf, mid, &fl);
		if (f && cmp_bytes(f, fl, prefix, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	uint32_t a = lo, b = s->n_names;
	while (a < b) {
		uint32_t mid = a + (b - a) / 2;
		size_t fl = 0;
		const char *f = name_fold(s, nf, mid, &fl);
		if (f && memcmp(f, prefix, fl < len ? fl : len) <= 0)
			a = mid + 1;
		else
			b = mid;
	}
	*lo_out = lo;
	*hi_out = a;
}

/* Children compared directly before the name order is searched: most directories have
 * fewer, and comparing bytes costs less than folding names for a binary search. */
#define STORE_CHILD_SCAN 32

int store_child(const struct store *s, struct name_folder *nf, uint32_t parent, const char *name,
		size_t len, uint32_t *out)
{
	*out = STORE_NO_PARENT;
	/* Children follow each other subtree by subtree, in byte order of their names. */
	uint32_t end = store_subtree_end(s, parent), c = parent + 1;
	for (int k = 0; c < end && k < STORE_CHILD_SCAN; k++, c = store_subtree_end(s, c)) {
		size_t n;
		const char *child = store_name(s, c, &n);
		int cmp = cmp_bytes(child, n, name, len);
		if (cmp == 0)
			*out = c;
		if (cmp >= 0)
			return 0;
	}
	if (c >= end)
		return 0;
	uint32_t k;
	int rc = find_name(s, nf, name, len, &k);
	if (rc < 0 || k == UINT32_MAX)
		return rc;
	/* Entries of this name are in id order; the child lies in the parent's range. */
	const uint32_t *e = s->name_entries + s->name_entries_offset[k];
	uint32_t n = s->name_entries_offset[k + 1] - s->name_entries_offset[k];
	uint32_t a = 0, b = n;
	while (a < b) {
		uint32_t mid = a + (b - a) / 2;
		if (e[mid] < c)
			a = mid + 1;
		else
			b = mid;
	}
	for (; a < n && e[a] < end; a++)
		if (s->parent[e[a]] == parent) {
			*out = e[a];
			break;
		}
	return 0;
}

uint32_t store_lookup(const struct store *s, const char *path, size_t len)
{
	if (s->n_entries == 0 || !store_path_is_acceptable(path, len))
		return STORE_NO_PARENT;
	struct name_folder nf;
	name_folder_init(&nf);
	uint32_t id = 0; /* the root, "/" */
	for (size_t i = 1; i < len && id != STORE_NO_PARENT;) {
		const char *slash = memchr(path + i, '/', len - i);
		size_t end = slash ? (size_t)(slash - path) : len;
		if (store_child(s, &nf, id, path + i, end - i, &id) < 0)
			id = STORE_NO_PARENT;
		i = end + 1;
	}
	name_folder_release(&nf);
	return id;
}

void store_release(struct store *s)
{
	free(s->parent);
	free(s->name_id);
	free(s->kind);
	free(s->dir_bits);
	free(s->dir_rank);
	free(s->dir_end);
	free(s->name_offset);
	free(s->name_bytes);
	free(s->name_entries_offset);
	free(s->name_entries);
	memset(s, 0, sizeof(*s));
}

size_t store_memory_bytes(const struct store *s)
{
	/* Per entry: parent, name id, kind and its place in name_entries. */
	return (size_t)s->n_entries * (3 * sizeof(uint32_t) + 1) +
	       store_words(s->n_entries) * (sizeof(uint64_t) + sizeof(uint32_t)) +
	       (size_t)s->n_dirs * sizeof(uint32_t) +
	       ((size_t)s->n_names + 1) * 2 * sizeof(uint32_t) + s->name_bytes_len;
}

/* Whether a '/' goes between the path of `p` and a child's name: not after a root
 * whose path already ends in '/' (the filesystem root). */
static int needs_separator(const struct store *s, uint32_t p)
{
	size_t n;
	const char *name = store_name(s, p, &n);
	return !(s->parent[p] == STORE_NO_PARENT && n && name[n - 1] == '/');
}

size_t store_path(const struct store *s, uint32_t id, char *buf, size_t cap)
{
	/* Measure first, then fill from the end: no recursion, no second buffer. */
	size_t len = 0;
	for (uint32_t e = id;; e = s->parent[e]) {
		size_t n;
		store_name(s, e, &n);
		len += n;
		uint32_t p = s->parent[e];
		if (p == STORE_NO_PARENT)
			break;
		len += needs_separator(s, p);
	}
	if (len > cap)
		return len;
	size_t at = len;
	for (uint32_t e = id;; e = s->parent[e]) {
		size_t n;
		const char *name = store_name(s, e, &n);
		at -= n;
		memcpy(buf + at, name, n);
		uint32_t p = s->parent[e];
		if (p == STORE_NO_PARENT)
			break;
		if (needs_separator(s, p))
			buf[--at] = '/';
	}
	return len;
}
