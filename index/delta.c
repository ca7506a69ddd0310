/* delta.c: the append-only log of changes since a base: segmented record and meta
 * arrays, the name arena, and the three tables readers probe while the writer fills
 * them. */
#include "delta.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

#define SLOT_EMPTY UINT64_MAX
/* A new log's tables; they are replaced by twice larger ones as they pass half full. */
#define DELTA_TABLE_FIRST_SLOTS 64
/* Name chunks start small (most deltas are a few names) and double up to this. */
#define DELTA_CHUNK_FIRST_BYTES 4096
#define DELTA_CHUNK_MAX_BYTES	(1u << 20)

/* ---- tables ---- */

static struct delta_table *table_new(uint64_t n_slots)
{
	struct delta_table *t = malloc(sizeof(*t) + n_slots * sizeof(t->slots[0]));
	if (!t)
		return NULL;
	atomic_init(&t->refs, 1);
	t->n_used = 0;
	t->mask = n_slots - 1;
	for (uint64_t k = 0; k < n_slots; k++)
		atomic_init(&t->slots[k], SLOT_EMPTY);
	return t;
}

static struct delta_table *table_ref(struct delta_table *t)
{
	atomic_fetch_add(&t->refs, 1);
	return t;
}

static void table_put_ref(struct delta_table *t)
{
	if (t && atomic_fetch_sub(&t->refs, 1) == 1)
		free(t);
}

static uint64_t table_home(const struct delta_table *t, uint32_t key)
{
	return (((uint64_t)key * 0x9e3779b97f4a7c15ull) >> 29) & t->mask;
}

static uint64_t slot_load(const struct delta_table *t, uint64_t k)
{
	/* The table is only read here; the cast drops const for the atomic load. */
	return atomic_load_explicit((_Atomic uint64_t *)&t->slots[k], memory_order_acquire);
}

/* The value of `key` in a table of unique keys, or NODE_NONE. */
static uint32_t table_get(const struct delta_table *t, uint32_t key)
{
	for (uint64_t k = table_home(t, key);; k = (k + 1) & t->mask) {
		uint64_t slot = slot_load(t, k);
		if (slot == SLOT_EMPTY)
			return NODE_NONE;
		if ((uint32_t)(slot >> 32) == key)
			return (uint32_t)slot;
	}
}

/* Set `key` to `value`: the writer, in a table with room (delta_reserve()). With
 * `is_multi` a new slot is always used (several values per key). */
static void table_set(struct delta_table *t, uint32_t key, uint32_t value, int is_multi)
{
	uint64_t packed = (uint64_t)key << 32 | value;
	for (uint64_t k = table_home(t, key);; k = (k + 1) & t->mask) {
		uint64_t slot = atomic_load_explicit(&t->slots[k], memory_order_relaxed);
		if (slot == SLOT_EMPTY)
			t->n_used++;
		else if (is_multi || (uint32_t)(slot >> 32) != key)
			continue;
		/* Release: whatever `value` points to is complete before a reader finds it. */
		atomic_store_explicit(&t->slots[k], packed, memory_order_release);
		return;
	}
}

/* Make sure `*tp` has room for `extra` more keys, replacing it by a larger copy. */
static int table_reserve(struct delta_table **tp, size_t extra, int is_multi)
{
	struct delta_table *t = *tp;
	uint64_t need = (uint64_t)t->n_used + extra, n_slots = t->mask + 1;
	if (need * 2 <= n_slots)
		return 0;
	while (need * 2 > n_slots)
		n_slots *= 2;
	struct delta_table *n = table_new(n_slots);
	if (!n)
		return -ENOMEM;
	/* Slot order keeps, for each key, the order in which its values were added. */
	for (uint64_t k = 0; k <= t->mask; k++) {
		uint64_t slot = atomic_load_explicit(&t->slots[k], memory_order_relaxed);
		if (slot != SLOT_EMPTY)
			table_set(n, (uint32_t)(slot >> 32), (uint32_t)slot, is_multi);
	}
	*tp = n;
	table_put_ref(t); /* the views that hold it keep it */
	return 0;
}

/* ---- the log ---- */

static struct delta_meta *meta_item(const struct delta_log *l, uint32_t m)
{
	return delta_segment_item((void *const *)l->metas, sizeof(struct delta_meta), m);
}

struct delta_log *delta_log_new(uint32_t n_base)
{
	struct delta_log *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	atomic_init(&l->refs, 1);
	l->n_base = n_base;
	l->names = table_new(DELTA_TABLE_FIRST_SLOTS);
	l->kids = table_new(DELTA_TABLE_FIRST_SLOTS);
	l->meta_of = table_new(DELTA_TABLE_FIRST_SLOTS);
	if (!l->names || !l->kids || !l->meta_of) {
		delta_log_put(l);
		return NULL;
	}
	return l;
}

void delta_log_put(struct delta_log *l)
{
	if (!l || atomic_fetch_sub(&l->refs, 1) != 1)
		return;
	for (int k = 0; k < DELTA_SEGMENTS; k++) {
		free(l->records[k]);
		free(l->metas[k]);
	}
	for (size_t i = 0; i < l->n_chunks; i++)
		free(l->chunks[i]);
	free(l->chunks);
	table_put_ref(l->names);
	table_put_ref(l->kids);
	table_put_ref(l->meta_of);
	free(l);
}

void delta_view_init(struct delta_view *v, struct delta_log *l, uint32_t epoch)
{
	atomic_fetch_add(&l->refs, 1);
	v->log = l;
	v->n_records = l->n_records;
	v->n_metas = l->n_metas;
	v->epoch = epoch;
	v->names = table_ref(l->names);
	v->kids = table_ref(l->kids);
	v->meta_of = table_ref(l->meta_of);
	v->n_live = 0;
	v->name_bytes = 0;
	v->n_access_changes = 0;
}

void delta_view_copy(struct delta_view *v, const struct delta_view *from)
{
	*v = *from;
	atomic_fetch_add(&v->log->refs, 1);
	table_ref(v->names);
	table_ref(v->kids);
	table_ref(v->meta_of);
}

void delta_view_release(struct delta_view *v)
{
	if (v->log) {
		table_put_ref(v->names);
		table_put_ref(v->kids);
		table_put_ref(v->meta_of);
		delta_log_put(v->log);
	}
	memset(v, 0, sizeof(*v));
}

static uint32_t name_hash(uint32_t parent, const char *name, size_t len)
{
	return (uint32_t)hash_child(parent, name, len);
}

/* The slot of table `t` for (parent, name), or SLOT_EMPTY's index when there is none:
 * returns the slot's position and its content in *slot_out. Records a slot points to
 * were complete before it was stored, seen by the view or not. */
static uint64_t names_find(const struct delta_log *l, const struct delta_table *t, uint32_t key,
			   uint32_t parent, const char *name, size_t len, uint64_t *slot_out)
{
	for (uint64_t k = table_home(t, key);; k = (k + 1) & t->mask) {
		uint64_t slot = slot_load(t, k);
		*slot_out = slot;
		if (slot == SLOT_EMPTY)
			return k;
		if ((uint32_t)(slot >> 32) != key)
			continue;
		const struct delta_record *rec = delta_record(l, (uint32_t)slot);
		if (rec->parent == parent && rec->name_len == len &&
		    memcmp(rec->name, name, len) == 0)
			return k;
	}
}

uint32_t delta_child(const struct delta_view *v, uint32_t parent, const char *name, size_t len)
{
	uint64_t slot;
	names_find(v->log, v->names, name_hash(parent, name, len), parent, name, len, &slot);
	if (slot == SLOT_EMPTY)
		return NODE_NONE;
	/* Newest first. At most one record of a parent and name is live at a time, and it
	 * was appended after the others were removed: once one the view sees is dead, so
	 * are all before it. */
	for (uint32_t r = (uint32_t)slot; r != NODE_NONE; r = delta_record(v->log, r)->prev_same)
		if (r < v->n_records)
			return delta_is_live(v, r) ? r : NODE_NONE;
	return NODE_NONE;
}

/* `r` or the first live record before it among its siblings, or NODE_NONE. Records the
 * view does not see are passed over: their links were complete before they were found. */
static uint32_t first_live_from(const struct delta_view *v, uint32_t r)
{
	while (r != NODE_NONE && !delta_is_live(v, r))
		r = delta_record(v->log, r)->prev_sibling;
	return r;
}

uint32_t delta_first_child(const struct delta_view *v, uint32_t parent)
{
	return first_live_from(v, table_get(v->kids, parent));
}

uint32_t delta_next_child(const struct delta_view *v, uint32_t r)
{
	return first_live_from(v, delta_record(v->log, r)->prev_sibling);
}

int delta_has_children(const struct delta_view *v, uint32_t parent)
{
	return table_get(v->kids, parent) != NODE_NONE;
}

int delta_meta(const struct delta_view *v, uint32_t node, struct trawl_dir_meta *out)
{
	uint32_t m = table_get(v->meta_of, node);
	while (m != NODE_NONE && m >= v->n_metas)
		m = meta_item(v->log, m)->prev;
	if (m == NODE_NONE)
		return 0;
	*out = meta_item(v->log, m)->meta;
	return 1;
}

/* ---- the writer ---- */

/* Allocate segments until `*cap` items fit `need`. */
static int segments_reserve(void **segments, size_t item_bytes, uint64_t *cap, uint64_t need)
{
	while (*cap < need) {
		unsigned k = 0;
		while (((uint64_t)DELTA_SEGMENT0 << (k + 1)) - DELTA_SEGMENT0 <= *cap)
			k++;
		void *seg = malloc(((size_t)DELTA_SEGMENT0 << k) * item_bytes);
		if (!seg)
			return -ENOMEM;
		segments[k] = seg;
		*cap = ((uint64_t)DELTA_SEGMENT0 << (k + 1)) - DELTA_SEGMENT0;
	}
	return 0;
}

static int chunk_reserve(struct delta_log *l, size_t bytes)
{
	if (l->chunk_cap - l->chunk_used >= bytes)
		return 0;
	if (l->n_chunks == l->cap_chunks) {
		size_t cap = l->cap_chunks ? l->cap_chunks * 2 : 16;
		char **chunks = realloc(l->chunks, cap * sizeof(*chunks));
		if (!chunks)
			return -ENOMEM;
		l->chunks = chunks;
		l->cap_chunks = cap;
	}
	size_t size = l->chunk_cap ? l->chunk_cap * 2 : DELTA_CHUNK_FIRST_BYTES;
	if (size > DELTA_CHUNK_MAX_BYTES)
		size = DELTA_CHUNK_MAX_BYTES;
	if (size < bytes)
		size = bytes;
	char *chunk = malloc(size);
	if (!chunk)
		return -ENOMEM;
	l->chunks[l->n_chunks++] = chunk;
	l->chunk = chunk;
	l->chunk_used = 0;
	l->chunk_cap = size;
	return 0;
}

int delta_reserve(struct delta_log *l, size_t records, size_t name_bytes, size_t metas)
{
	uint64_t need_records = (uint64_t)l->n_records + records;
	uint64_t need_metas = (uint64_t)l->n_metas + metas;
	/* Nodes are n_base + record, and NODE_NONE must stay free. */
	if (l->n_base + need_records >= NODE_NONE || need_metas >= NODE_NONE)
		return -EOVERFLOW;
	int rc = segments_reserve((void **)l->records, sizeof(struct delta_record), &l->cap_records,
				  need_records);
	if (rc == 0)
		rc = segments_reserve((void **)l->metas, sizeof(struct delta_meta), &l->cap_metas,
				      need_metas);
	if (rc == 0)
		rc = chunk_reserve(l, name_bytes);
	if (rc == 0)
		rc = table_reserve(&l->names, records, 1);
	if (rc == 0)
		rc = table_reserve(&l->kids, records, 0);
	if (rc == 0)
		rc = table_reserve(&l->meta_of, metas, 0);
	return rc;
}

static void adopt(struct delta_table **mine, struct delta_table *current)
{
	if (*mine != current) {
		table_put_ref(*mine);
		*mine = table_ref(current);
	}
}

void delta_view_adopt_tables(struct delta_view *v)
{
	adopt(&v->names, v->log->names);
	adopt(&v->kids, v->log->kids);
	adopt(&v->meta_of, v->log->meta_of);
}

uint32_t delta_name_key(uint32_t parent, const char *name, size_t len)
{
	return name_hash(parent, name, len);
}

void delta_prefetch(const struct delta_view *v, uint32_t key)
{
	const struct delta_table *t = v->log->names;
	__builtin_prefetch(&t->slots[table_home(t, key)]);
}

uint32_t delta_find_key(const struct delta_view *v, uint32_t key, uint32_t parent, const char *name,
			size_t len, struct delta_spot *spot)
{
	const struct delta_log *l = v->log;
	spot->key = key;
	spot->pos = names_find(l, l->names, key, parent, name, len, &spot->slot);
	/* The writer's view sees every record: only the newest can be live. */
	if (spot->slot == SLOT_EMPTY || !delta_is_live(v, (uint32_t)spot->slot))
		return NODE_NONE;
	return (uint32_t)spot->slot;
}

uint32_t delta_find(const struct delta_view *v, uint32_t parent, const char *name, size_t len,
		    struct delta_spot *spot)
{
	return delta_find_key(v, name_hash(parent, name, len), parent, name, len, spot);
}

uint32_t delta_append_found(struct delta_view *v, const struct delta_spot *spot, uint32_t parent,
			    const char *name, size_t len, uint8_t kind)
{
	struct delta_log *l = v->log;
	uint32_t r = l->n_records++;
	struct delta_record *rec = delta_record(l, r);
	char *copy = l->chunk + l->chunk_used;
	if (len)
		memcpy(copy, name, len);
	l->chunk_used += len;
	rec->name = copy;
	rec->name_len = (uint32_t)len;
	rec->parent = parent;
	rec->kind = kind;
	rec->prev_sibling = table_get(l->kids, parent);
	atomic_init(&rec->died, DELTA_ALIVE);
	rec->prev_same = spot->slot == SLOT_EMPTY ? NODE_NONE : (uint32_t)spot->slot;
	/* The record is complete: now it may be found. */
	if (spot->slot == SLOT_EMPTY)
		l->names->n_used++;
	atomic_store_explicit(&l->names->slots[spot->pos], (uint64_t)spot->key << 32 | r,
			      memory_order_release);
	table_set(l->kids, parent, r, 0);
	v->n_records = l->n_records;
	v->n_live++;
	v->name_bytes += len;
	return r;
}

uint32_t delta_append(struct delta_view *v, uint32_t parent, const char *name, size_t len,
		      uint8_t kind)
{
	struct delta_spot spot;
	delta_find(v, parent, name, len, &spot);
	return delta_append_found(v, &spot, parent, name, len, kind);
}

void delta_remove(struct delta_view *v, uint32_t r)
{
	/* Views of earlier epochs read either value as "live": relaxed is enough. */
	atomic_store_explicit(&delta_record(v->log, r)->died, v->epoch, memory_order_relaxed);
	v->n_live--;
}

void delta_set_meta(struct delta_view *v, uint32_t node, const struct trawl_dir_meta *meta)
{
	struct delta_log *l = v->log;
	uint32_t m = l->n_metas++;
	struct delta_meta *version = meta_item(l, m);
	version->meta = *meta;
	version->prev = table_get(l->meta_of, node);
	table_set(l->meta_of, node, m, 0);
	v->n_metas = l->n_metas;
}

void delta_parents_in(const struct delta_view *v, uint32_t lo, uint32_t hi,
		      void (*fn)(void *ctx, uint32_t node), void *ctx)
{
	const struct delta_table *t = v->kids;
	for (uint64_t k = 0; k <= t->mask; k++) {
		uint64_t slot = slot_load(t, k);
		uint32_t node = (uint32_t)(slot >> 32);
		if (slot != SLOT_EMPTY && node >= lo && node < hi)
			fn(ctx, node);
	}
}

size_t delta_memory_bytes(const struct delta_view *v)
{
	return (size_t)v->n_records * sizeof(struct delta_record) +
	       (size_t)v->n_metas * sizeof(struct delta_meta) + v->name_bytes +
	       (size_t)(v->names->mask + v->kids->mask + v->meta_of->mask + 3) * sizeof(uint64_t);
}
