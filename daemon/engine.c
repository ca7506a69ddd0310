/* engine.c: owns the daemon's index. One thread walks (or reads the list file), turns
 * each directory listing into changes against what the index holds, applies them in
 * batches, folds the delta into a new base when it grows, and saves snapshots. */
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "frecency.h"
#include "watch.h"

/* Listings are applied in batches of about this many entries: large enough that
 * publishing a generation is rare, small enough that a query sees a walk's progress
 * within ENGINE_BATCH_MAX_MS. */
#define ENGINE_BATCH_MAX_CHANGES 16384
#define ENGINE_BATCH_MAX_MS	 250
/* The delta is folded into a new base once it holds more than this many changes or
 * more than the base has entries: searching a delta costs a scan, so it must stay small
 * next to the base, and doubling keeps the first walk's total rebuild work linear. */
#define ENGINE_REBUILD_MIN_CHANGES 65536
/* After a rescan, a delta this large relative to the base is folded in at once rather
 * than left for later. */
#define ENGINE_REBUILD_AFTER_WALK_DIVISOR 100
/* During a first walk, no rebuild before it has run this long (see maybe_rebuild()): a
 * rebuild at 1 s made a walk of a million entries 0.4 s longer (1.3 s then; 0.75 s
 * since listings are applied whole, when two cores are free). Meanwhile a search scans
 * the delta: 70-250 ms at a million records, until the rebuild after the walk (0.7 s)
 * brings it back to 1-35 ms. */
#define ENGINE_FIRST_REBUILD_MS 2000
/* How long dirty directories gather before they are read: a burst of events in one
 * directory (an unpacked archive) then costs one read, and freshness stays well within
 * a frame's worth of milliseconds. */
#define ENGINE_COALESCE_MS 5
/* The walker's window for directories changed just before they were read (walk.h). */
#define ENGINE_RACY_NS (2 * 1000000000LL)

enum walk_state { WALK_IDLE, WALK_WALKING, WALK_RESCANNING };

struct engine {
	struct engine_config cfg;
	char **roots; /* owned copy of cfg.roots */
	size_t n_roots;
	/* Directories the index holds only as the roots' ancestors (/, /home for a root
	 * /home/me): structure, not results. NULL-ended. */
	char **hidden;
	size_t n_hidden;
	char *snapshot_path;

	pthread_mutex_t lock; /* guards cur, the request flags and the status fields */
	pthread_cond_t wake;
	struct engine_ref *cur;
	int is_rescan_asked, is_full_asked;
	_Atomic int stop;

	pthread_t thread;
	int has_thread;

	struct walk_stats stats; /* of the walk running now, or the last one */
	enum walk_state state;
	int is_ready;
	int is_snapshot_loaded;
	int64_t walk_started_ms, walk_ended_ms;
	int64_t snapshot_saved_at; /* unix seconds, 0 when never */
	int last_save_error;	   /* -errno of the last failed save, 0 */
	uint64_t n_directories;	   /* reached by the last complete walk */
	uint64_t changes_since_save;
	int64_t last_rebuild_ms, last_rebuild_end_ms; /* the walk thread's last rebuild */
	uint64_t n_walks;

	struct frecency picks;

	struct watch *watch;	/* NULL when not watching */
	struct name_set *dirty; /* directories to read again; guarded by lock */
	uint64_t n_dirty_reads; /* directories read again for events */
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- references ---- */

struct engine_ref *engine_acquire(struct engine *e)
{
	pthread_mutex_lock(&e->lock);
	struct engine_ref *r = e->cur;
	atomic_fetch_add(&r->refs, 1);
	pthread_mutex_unlock(&e->lock);
	return r;
}

void engine_release(struct engine_ref *r)
{
	if (r && atomic_fetch_sub(&r->refs, 1) == 1) {
		trawl_index_free(r->ix);
		free(r);
	}
}

static struct engine_ref *ref_new(struct trawl_index *ix)
{
	struct engine_ref *r = malloc(sizeof(*r));
	if (!r)
		return NULL;
	atomic_init(&r->refs, 1);
	r->ix = ix;
	return r;
}

/* Publish `ix` as the current index; queries holding the old one finish with it. */
static int publish(struct engine *e, struct trawl_index *ix)
{
	struct engine_ref *r = ref_new(ix);
	if (!r)
		return -ENOMEM;
	pthread_mutex_lock(&e->lock);
	struct engine_ref *old = e->cur;
	e->cur = r;
	pthread_mutex_unlock(&e->lock);
	engine_release(old);
	return 0;
}

/* ---- batches of listings ---- */

/* Directory listings waiting to be applied, copied out of the walker's (which it frees
 * once on_dir() returns). Paths and names share one arena that may move while the batch
 * grows: the pointers are set from the offsets when it is applied. */
struct batch {
	struct trawl_listing *lists;
	size_t *path_offsets, *first_entry; /* per listing */
	size_t n, cap;
	struct trawl_entry *entries;
	size_t *name_offsets; /* per entry */
	size_t n_entries, cap_entries;
	char *bytes;
	size_t bytes_len, bytes_cap;
	int64_t started_ms;
};

static void batch_release(struct batch *b)
{
	free(b->lists);
	free(b->path_offsets);
	free(b->first_entry);
	free(b->entries);
	free(b->name_offsets);
	free(b->bytes);
	memset(b, 0, sizeof(*b));
}

/* A capacity of at least `need` items, doubling from `cap`. */
static size_t grown_cap(size_t cap, size_t need)
{
	size_t n = cap ? cap : 256;
	while (n < need)
		n *= 2;
	return n;
}

/* Room for `n_lists` listings of `n_entries` entries in all, those queued included. */
static int batch_reserve(struct batch *b, size_t n_lists, size_t n_entries)
{
	if (n_lists > b->cap) {
		size_t cap = grown_cap(b->cap, n_lists);
		struct trawl_listing *lists = realloc(b->lists, cap * sizeof(*lists));
		if (lists)
			b->lists = lists;
		size_t *paths = realloc(b->path_offsets, cap * sizeof(*paths));
		if (paths)
			b->path_offsets = paths;
		size_t *firsts = realloc(b->first_entry, cap * sizeof(*firsts));
		if (firsts)
			b->first_entry = firsts;
		if (!lists || !paths || !firsts)
			return -ENOMEM;
		b->cap = cap;
	}
	if (n_entries > b->cap_entries) {
		size_t cap = grown_cap(b->cap_entries, n_entries);
		struct trawl_entry *entries = realloc(b->entries, cap * sizeof(*entries));
		if (entries)
			b->entries = entries;
		size_t *names = realloc(b->name_offsets, cap * sizeof(*names));
		if (names)
			b->name_offsets = names;
		if (!entries || !names)
			return -ENOMEM;
		b->cap_entries = cap;
	}
	return 0;
}

/* Copy `len` bytes into the arena; returns their offset, or SIZE_MAX when out of memory. */
static size_t batch_copy(struct batch *b, const char *bytes, size_t len)
{
	if (b->bytes_cap - b->bytes_len < len) {
		size_t cap = b->bytes_cap ? b->bytes_cap : 1 << 16;
		while (cap - b->bytes_len < len)
			cap *= 2;
		char *p = realloc(b->bytes, cap);
		if (!p)
			return SIZE_MAX;
		b->bytes = p;
		b->bytes_cap = cap;
	}
	size_t at = b->bytes_len;
	if (len)
		memcpy(b->bytes + at, bytes, len);
	b->bytes_len += len;
	return at;
}

/* Queue the listing of directory `d`. */
static int batch_push(struct batch *b, const struct walk_dir *d)
{
	if (batch_reserve(b, b->n + 1, b->n_entries + d->n_children) < 0)
		return -ENOMEM;
	size_t at = batch_copy(b, d->path, d->path_len);
	if (at == SIZE_MAX)
		return -ENOMEM;
	for (size_t k = 0; k < d->n_children; k++) {
		const struct walk_child *c = &d->children[k];
		size_t name_at = batch_copy(b, c->name, c->name_len);
		if (name_at == SIZE_MAX)
			return -ENOMEM;
		b->name_offsets[b->n_entries + k] = name_at;
		b->entries[b->n_entries + k] =
		    (struct trawl_entry){.len = c->name_len, .kind = c->kind};
	}
	if (b->n == 0)
		b->started_ms = now_ms();
	b->path_offsets[b->n] = at;
	b->first_entry[b->n] = b->n_entries;
	b->lists[b->n] =
	    (struct trawl_listing){.len = d->path_len, .meta = d->meta, .n_entries = d->n_children};
	b->n++;
	b->n_entries += d->n_children;
	return 0;
}

/* ---- the walk's view of one directory ---- */

/* A set of byte strings with a kind each: the names a directory held before (to diff its
 * new listing against), or the paths of dirty directories. Open addressing on a FNV-1a
 * hash; the strings in an arena. */
struct name_set {
	struct name_slot {
		uint32_t off, len;
		uint8_t kind, is_seen;
	} * slots;
	size_t n_slots, n;
	char *names;
	size_t names_len, names_cap;
};

static uint64_t fnv1a(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t k = 0; k < len; k++)
		h = (h ^ (unsigned char)s[k]) * 1099511628211ULL;
	return h;
}

static struct name_slot *set_find(struct name_set *o, const char *name, size_t len)
{
	if (!o->n_slots)
		return NULL;
	size_t mask = o->n_slots - 1;
	for (size_t k = fnv1a(name, len) & mask;; k = (k + 1) & mask) {
		struct name_slot *c = &o->slots[k];
		if (c->len == 0)
			return NULL;
		if (c->len == len && memcmp(o->names + c->off, name, len) == 0)
			return c;
	}
}

static int set_grow(struct name_set *o)
{
	size_t n_slots = o->n_slots ? o->n_slots * 2 : 64;
	struct name_slot *slots = calloc(n_slots, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t k = 0; k < o->n_slots; k++) {
		struct name_slot c = o->slots[k];
		if (!c.len)
			continue;
		size_t j = fnv1a(o->names + c.off, c.len) & (n_slots - 1);
		while (slots[j].len)
			j = (j + 1) & (n_slots - 1);
		slots[j] = c;
	}
	free(o->slots);
	o->slots = slots;
	o->n_slots = n_slots;
	return 0;
}

static int set_add(void *ctx, const char *name, size_t len, unsigned kind)
{
	struct name_set *o = ctx;
	if (len == 0 || len > UINT32_MAX)
		return 0;
	if ((o->n + 1) * 2 > o->n_slots && set_grow(o) < 0)
		return -ENOMEM;
	if (o->names_cap - o->names_len < len) {
		size_t cap = o->names_cap ? o->names_cap : 4096;
		while (cap - o->names_len < len)
			cap *= 2;
		char *p = realloc(o->names, cap);
		if (!p)
			return -ENOMEM;
		o->names = p;
		o->names_cap = cap;
	}
	memcpy(o->names + o->names_len, name, len);
	size_t j = fnv1a(name, len) & (o->n_slots - 1);
	while (o->slots[j].len)
		j = (j + 1) & (o->n_slots - 1);
	o->slots[j] = (struct name_slot){(uint32_t)o->names_len, (uint32_t)len, (uint8_t)kind, 0};
	o->names_len += len;
	o->n++;
	return 0;
}

static void set_reset(struct name_set *o)
{
	if (o->n_slots)
		memset(o->slots, 0, o->n_slots * sizeof(*o->slots));
	o->n = 0;
	o->names_len = 0;
}

static void set_release(struct name_set *o)
{
	free(o->slots);
	free(o->names);
	memset(o, 0, sizeof(*o));
}

struct walk_ctx {
	struct engine *e;
	struct trawl_index *ix;
	struct batch batch;
	struct name_set old;
	uint64_t n_changes;
	uint8_t *is_root_seen;		/* per configured root; NULL outside full walks */
	struct name_set *new_dirs;	/* reading dirty directories: new subdirectories */
	int is_live;			/* serving events, not walking for the first time */
	const struct walk_prune *prune; /* to keep pruned ones out of new_dirs */
};

static void mark_dirty(struct engine *e, const char *path, size_t len);

static int is_pruned(const struct walk_prune *p, const char *path, size_t len, const char *name,
		     size_t name_len)
{
	for (const char *const *n = p->names; n && *n; n++)
		if (strlen(*n) == name_len && memcmp(*n, name, name_len) == 0)
			return 1;
	for (const char *const *q = p->paths; q && *q; q++)
		if (strlen(*q) == len && memcmp(*q, path, len) == 0)
			return 1;
	return 0;
}

static int maybe_rebuild(struct engine *e, struct trawl_index *ix)
{
	struct trawl_index_stats st;
	trawl_index_stats(ix, &st);
	uint64_t pending = st.n_delta + st.n_tombstones;
	if (pending <= ENGINE_REBUILD_MIN_CHANGES || pending <= st.n_base)
		return 0;
	/* A first walk that ends within two seconds folds everything in once at its end:
	 * the rebuilds along the way cost more than the slow searches they would save. A
	 * longer one rebuilds at most a third of the time, so walking goes on at speed. */
	int64_t now = now_ms();
	pthread_mutex_lock(&e->lock);
	int is_early = !e->is_ready && (now - e->walk_started_ms < ENGINE_FIRST_REBUILD_MS ||
					now - e->last_rebuild_end_ms < 2 * e->last_rebuild_ms);
	pthread_mutex_unlock(&e->lock);
	if (is_early)
		return 0;
	int rc = trawl_index_rebuild(ix);
	if (rc < 0)
		fprintf(stderr, "trawld: rebuild: %s\n", strerror(-rc));
	int64_t end = now_ms();
	pthread_mutex_lock(&e->lock);
	e->last_rebuild_ms = end - now;
	e->last_rebuild_end_ms = end;
	pthread_mutex_unlock(&e->lock);
	return rc;
}

static int flush(struct walk_ctx *w)
{
	struct batch *b = &w->batch;
	if (!b->n)
		return 0;
	for (size_t k = 0; k < b->n; k++) {
		b->lists[k].path = b->bytes + b->path_offsets[k];
		b->lists[k].entries = b->entries + b->first_entry[k];
	}
	for (size_t k = 0; k < b->n_entries; k++)
		b->entries[k].name = b->bytes + b->name_offsets[k];
	size_t ignored = 0;
	int rc = trawl_index_apply_listings(w->ix, b->lists, b->n, &ignored);
	if (rc < 0)
		return rc;
	w->n_changes += b->n - ignored;
	b->n = 0;
	b->n_entries = 0;
	b->bytes_len = 0;
	return maybe_rebuild(w->e, w->ix) == -ENOMEM ? -ENOMEM : 0;
}

/* Apply one change by path at once, after the listings queued before it. */
static int apply_now(struct walk_ctx *w, const struct trawl_change *c)
{
	int rc = flush(w);
	size_t ignored = 0;
	if (rc == 0)
		rc = trawl_index_apply(w->ix, c, 1, &ignored);
	if (rc == 0)
		w->n_changes += 1 - ignored;
	return rc;
}

static int is_same_meta(const struct trawl_dir_meta *a, const struct trawl_dir_meta *b)
{
	return a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns && a->mode == b->mode &&
	       a->uid == b->uid && a->gid == b->gid;
}

/* Reading dirty directories: the subdirectories of `d` the index did not hold as
 * directories go to new_dirs, to be walked whole. */
static int note_new_dirs(struct walk_ctx *w, const struct walk_dir *d)
{
	set_reset(&w->old);
	int rc = trawl_index_children(w->ix, d->path, d->path_len, set_add, &w->old);
	if (rc < 0 && rc != -ENOENT && rc != -ENOTDIR)
		return rc;
	char *child = NULL;
	size_t cap = 0;
	rc = 0;
	for (size_t k = 0; k < d->n_children && rc == 0; k++) {
		const struct walk_child *c = &d->children[k];
		if (c->kind != TRAWL_KIND_DIR)
			continue;
		const struct name_slot *o = set_find(&w->old, c->name, c->name_len);
		if (o && o->kind == TRAWL_KIND_DIR)
			continue;
		int is_root_dir = d->path_len == 1;
		size_t len = d->path_len + !is_root_dir + c->name_len;
		if (len > cap) {
			char *p = realloc(child, len);
			if (!p) {
				rc = -ENOMEM;
				break;
			}
			child = p;
			cap = len;
		}
		memcpy(child, d->path, d->path_len);
		if (!is_root_dir)
			child[d->path_len] = '/';
		memcpy(child + len - c->name_len, c->name, c->name_len);
		if (!is_pruned(w->prune, child, len, c->name, c->name_len) &&
		    set_add(w->new_dirs, child, len, TRAWL_KIND_DIR) < 0)
			rc = -ENOMEM;
	}
	free(child);
	return rc;
}

static int on_dir(void *ctx, const struct walk_dir *d)
{
	struct walk_ctx *w = ctx;
	struct engine *e = w->e;
	for (size_t k = 0; w->is_root_seen && k < e->n_roots; k++)
		if (strlen(e->roots[k]) == d->path_len &&
		    memcmp(e->roots[k], d->path, d->path_len) == 0)
			w->is_root_seen[k] = 1;
	if (e->watch) {
		/* A directory first watched after it was read may have changed in
		 * between: outside the first walk (which a rescan follows), read it again. */
		int added = watch_add(e->watch, d->path, d->path_len);
		if (added == 1 && w->is_live)
			mark_dirty(e, d->path, d->path_len);
	}

	/* An unchanged directory has the meta the walker just compared (a chmod or chown
	 * moves the ctime) and the entries it had: nothing to apply. */
	if (!d->is_unchanged) {
		int rc = w->new_dirs ? note_new_dirs(w, d) : 0;
		if (rc == 0)
			rc = batch_push(&w->batch, d);
		if (rc < 0)
			return rc;
	}

	if (w->batch.n + w->batch.n_entries >= ENGINE_BATCH_MAX_CHANGES ||
	    (w->batch.n && now_ms() - w->batch.started_ms >= ENGINE_BATCH_MAX_MS))
		return flush(w);
	return 0;
}

static int on_lookup(void *ctx, const char *path, size_t len, struct trawl_dir_meta *meta)
{
	struct walk_ctx *w = ctx;
	return trawl_index_dir_meta(w->ix, path, len, meta);
}

/* The walker's hints are the index's: each subdirectory's node, passed back when the walk
 * asks for its own subdirectories, spares resolving its path from the root (most of a
 * rescan's time in the index). The index verifies a hint before it takes it. */
static int on_subdirs(void *ctx, const char *path, size_t len, const struct trawl_dir_hint *hint,
		      int (*emit)(void *arg, const char *name, size_t len,
				  const struct trawl_dir_meta *known,
				  const struct trawl_dir_hint *hint),
		      void *arg)
{
	struct walk_ctx *w = ctx;
	int rc = trawl_index_child_dirs(w->ix, path, len, hint, emit, arg);
	return rc == -ENOENT || rc == -ENOTDIR ? 0 : rc;
}

/* ---- walks, list files, snapshots ---- */

static void set_state(struct engine *e, enum walk_state s)
{
	pthread_mutex_lock(&e->lock);
	e->state = s;
	if (s != WALK_IDLE) {
		e->walk_started_ms = now_ms();
		e->walk_ended_ms = 0;
	} else {
		e->walk_ended_ms = now_ms();
	}
	pthread_mutex_unlock(&e->lock);
}

static void reset_stats(struct walk_stats *s)
{
	atomic_store(&s->dirs_read, 0);
	atomic_store(&s->dirs_unchanged, 0);
	atomic_store(&s->entries, 0);
	atomic_store(&s->vanished, 0);
	atomic_store(&s->denied, 0);
	atomic_store(&s->errors, 0);
	atomic_store(&s->pruned, 0);
}

/* Who may see a root depends on its ancestors' modes too (trawl_visibility_new()), and
 * nothing walks or watches those: each walk queues their mode and owner (times left out,
 * so that an ancestor's churn changes nothing). */
static int push_hidden_modes(struct walk_ctx *w)
{
	const struct engine *e = w->e;
	for (size_t k = 0; k < e->n_hidden; k++) {
		struct stat st;
		size_t len = strlen(e->hidden[k]);
		if (!len || lstat(e->hidden[k], &st) != 0 || !S_ISDIR(st.st_mode))
			continue;
		struct trawl_dir_meta meta = {
		    .mode = st.st_mode, .uid = st.st_uid, .gid = st.st_gid};
		struct trawl_dir_meta known;
		if (trawl_index_dir_meta(w->ix, e->hidden[k], len, &known) == 0 &&
		    is_same_meta(&known, &meta))
			continue;
		struct trawl_change c = {.path = e->hidden[k],
					 .len = len,
					 .op = TRAWL_CHANGE_ADD,
					 .kind = TRAWL_KIND_DIR,
					 .meta = meta};
		int rc = apply_now(w, &c);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int run_walk(struct engine *e, struct trawl_index *ix, int is_incremental,
		    struct walk_stats *stats, uint64_t *n_changes)
{
	struct walk_ctx w = {.e = e, .ix = ix};
	w.is_root_seen = calloc(e->n_roots ? e->n_roots : 1, 1);
	if (!w.is_root_seen)
		return -ENOMEM;
	struct walk_options opts = {
	    .roots = (const char *const *)e->roots,
	    .prune = e->cfg.prune,
	    .is_cross_fs = e->cfg.is_cross_fs,
	    .is_uring_disabled = e->cfg.is_uring_disabled,
	    .is_incremental = is_incremental,
	    .threads = e->cfg.threads,
	    .stop = &e->stop,
	};
	struct walk_callbacks cb = {
	    .ctx = &w, .dir = on_dir, .lookup = on_lookup, .subdirs = on_subdirs};
	reset_stats(stats);
	int rc = e->cfg.is_system ? push_hidden_modes(&w) : 0;
	if (rc == 0)
		rc = walk_run(&opts, &cb, stats);
	if (rc == 0)
		rc = flush(&w);
	/* A root that is gone takes its entries with it. One that is still a directory
	 * but could not be read (out of descriptors, say) keeps them, as any directory
	 * the walk cannot read does: else one failed open would empty the index. */
	for (size_t k = 0; rc == 0 && k < e->n_roots; k++) {
		struct stat st;
		if (w.is_root_seen[k])
			continue;
		if (lstat(e->roots[k], &st) == 0 ? S_ISDIR(st.st_mode)
						 : errno != ENOENT && errno != ENOTDIR) {
			fprintf(stderr,
				"trawld: walk: cannot read root '%s'; keeping its entries\n",
				e->roots[k]);
			continue;
		}
		struct trawl_change c = {
		    .path = e->roots[k], .len = strlen(e->roots[k]), .op = TRAWL_CHANGE_REMOVE};
		size_t ignored = 0;
		rc = trawl_index_apply(ix, &c, 1, &ignored);
		w.n_changes += 1 - ignored;
	}
	*n_changes = w.n_changes;
	batch_release(&w.batch);
	set_release(&w.old);
	free(w.is_root_seen);
	return rc;
}

/* ---- directories made dirty by events ---- */

static void mark_dirty(struct engine *e, const char *path, size_t len)
{
	pthread_mutex_lock(&e->lock);
	if (!set_find(e->dirty, path, len) && set_add(e->dirty, path, len, 0) < 0) {
		/* Out of memory for one more path: read everything again instead. */
		e->is_rescan_asked = 1;
	}
	pthread_cond_signal(&e->wake);
	pthread_mutex_unlock(&e->lock);
}

static void on_watch_dirty(void *ctx, const char *path, size_t len)
{
	mark_dirty(ctx, path, len);
}

static void on_watch_overflow(void *ctx)
{
	struct engine *e = ctx;
	fprintf(stderr, "trawld: change events were lost; rescanning\n");
	engine_request_rescan(e, 0);
}

struct listing {
	struct walk_child *children;
	size_t *offsets; /* of each child's name in `names` */
	size_t n, cap;
	char *names;
	size_t names_len, names_cap;
};

static int listing_add(struct listing *l, const char *name, size_t len, uint8_t kind)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct walk_child *c = realloc(l->children, cap * sizeof(*c));
		if (!c)
			return -ENOMEM;
		l->children = c;
		size_t *o = realloc(l->offsets, cap * sizeof(*o));
		if (!o)
			return -ENOMEM;
		l->offsets = o;
		l->cap = cap;
	}
	if (l->names_cap - l->names_len < len) {
		size_t cap = l->names_cap ? l->names_cap : 4096;
		while (cap - l->names_len < len)
			cap *= 2;
		char *p = realloc(l->names, cap);
		if (!p)
			return -ENOMEM;
		l->names = p;
		l->names_cap = cap;
	}
	if (len)
		memcpy(l->names + l->names_len, name, len);
	/* Names are pointed at once the listing is complete: the arena may still move. */
	l->offsets[l->n] = l->names_len;
	l->children[l->n++] = (struct walk_child){.name_len = (uint32_t)len, .kind = kind};
	l->names_len += len;
	return 0;
}

/* Read the directory at `path` again and diff it into the index, as a walk would. A
 * directory that is gone is removed with its subtree. */
static int reread_dir(struct walk_ctx *w, const char *path, size_t len)
{
	char *cpath = strndup(path, len);
	if (!cpath)
		return -ENOMEM;
	int fd = open(cpath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	free(cpath);
	if (fd < 0) {
		int err = errno;
		if (err == ENOENT || err == ENOTDIR || err == ELOOP) {
			struct trawl_dir_meta m;
			struct trawl_change c = {
			    .path = path, .len = len, .op = TRAWL_CHANGE_REMOVE};
			if (trawl_index_dir_meta(w->ix, path, len, &m) == 0)
				return apply_now(w, &c);
		}
		return 0; /* unreadable: what the index holds stays, as in a walk */
	}
	struct stat st;
	DIR *dir = fstat(fd, &st) == 0 ? fdopendir(fd) : NULL;
	if (!dir) {
		close(fd);
		return 0;
	}
	struct listing l = {0};
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(dir)) != NULL) {
		const char *n = de->d_name;
		if (n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2])))
			continue;
		uint8_t kind = TRAWL_KIND_FILE;
		unsigned char t = de->d_type;
		if (t == DT_UNKNOWN) {
			struct stat cst;
			if (fstatat(fd, n, &cst, AT_SYMLINK_NOFOLLOW) == 0)
				t = S_ISDIR(cst.st_mode)   ? DT_DIR
				    : S_ISLNK(cst.st_mode) ? DT_LNK
							   : DT_REG;
		}
		if (t == DT_DIR)
			kind = TRAWL_KIND_DIR;
		else if (t == DT_LNK)
			kind = TRAWL_KIND_LINK;
		rc = listing_add(&l, n, strlen(n), kind);
	}
	closedir(dir);
	for (size_t k = 0; k < l.n; k++)
		l.children[k].name = l.names + l.offsets[k];
	if (rc == 0) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		int64_t ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
		/* As the walker does: a directory changed this recently may change again
		 * without its times moving; the next rescan must read it. */
		if ((int64_t)now.tv_sec * 1000000000 + now.tv_nsec - ctime_ns < ENGINE_RACY_NS)
			ctime_ns = WALK_CTIME_RACY;
		struct walk_dir d = {
		    .path = path,
		    .path_len = len,
		    .meta = {.mtime_ns =
				 (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
			     .ctime_ns = ctime_ns,
			     .mode = st.st_mode,
			     .uid = st.st_uid,
			     .gid = st.st_gid},
		    .children = l.children,
		    .n_children = l.n,
		};
		rc = on_dir(w, &d);
	}
	free(l.children);
	free(l.offsets);
	free(l.names);
	return rc;
}

/* Read every dirty directory again, then walk the subdirectories that are new. */
static int process_dirty(struct engine *e, uint64_t *n_changes)
{
	struct name_set *fresh = calloc(1, sizeof(*fresh));
	if (!fresh)
		return -ENOMEM;
	pthread_mutex_lock(&e->lock);
	struct name_set *dirty = e->dirty;
	e->dirty = fresh;
	pthread_mutex_unlock(&e->lock);

	struct name_set new_dirs = {0};
	struct engine_ref *r = engine_acquire(e);
	struct walk_ctx w = {
	    .e = e, .ix = r->ix, .new_dirs = &new_dirs, .prune = &e->cfg.prune, .is_live = 1};
	int rc = 0;
	uint64_t n_read = 0;
	for (size_t k = 0; rc == 0 && k < dirty->n_slots; k++) {
		const struct name_slot *sl = &dirty->slots[k];
		if (sl->len) {
			rc = reread_dir(&w, dirty->names + sl->off, sl->len);
			n_read++;
		}
	}
	if (rc == 0 && new_dirs.n) {
		/* New directories: walked whole, since nothing under them is known. */
		const char **roots = calloc(new_dirs.n + 1, sizeof(*roots));
		char *arena = NULL;
		if (!roots || !(arena = malloc(new_dirs.names_len + new_dirs.n))) {
			rc = -ENOMEM;
		} else {
			size_t n = 0, at = 0;
			for (size_t k = 0; k < new_dirs.n_slots; k++) {
				const struct name_slot *sl = &new_dirs.slots[k];
				if (!sl->len)
					continue;
				memcpy(arena + at, new_dirs.names + sl->off, sl->len);
				arena[at + sl->len] = '\0';
				roots[n++] = arena + at;
				at += sl->len + 1;
			}
			struct walk_stats ws = {0};
			struct walk_options opts = {
			    .roots = roots,
			    .prune = e->cfg.prune,
			    .is_cross_fs = e->cfg.is_cross_fs,
			    .is_uring_disabled = e->cfg.is_uring_disabled,
			    .threads = 1,
			    .stop = &e->stop,
			};
			struct walk_callbacks cb = {.ctx = &w, .dir = on_dir};
			w.new_dirs = NULL; /* the walk goes below them itself */
			rc = walk_run(&opts, &cb, &ws);
		}
		free(roots);
		free(arena);
	}
	if (rc == 0)
		rc = flush(&w);
	*n_changes = w.n_changes;
	engine_release(r);
	batch_release(&w.batch);
	set_release(&w.old);
	set_release(&new_dirs);
	set_release(dirty);
	free(dirty);
	pthread_mutex_lock(&e->lock);
	e->n_dirty_reads += n_read;
	pthread_mutex_unlock(&e->lock);
	return rc;
}

/* Read the list file into a new index and publish it. */
static int run_list(struct engine *e, uint64_t *n_changes)
{
	int fd = open(e->cfg.from_list, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int rc = -errno;
		fprintf(stderr, "trawld: open '%s': %s\n", e->cfg.from_list, strerror(-rc));
		return rc;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	size_t len = (size_t)st.st_size;
	const char *buf = "";
	void *map = NULL;
	if (len) {
		map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			int rc = -errno;
			close(fd);
			fprintf(stderr, "trawld: mmap '%s': %s\n", e->cfg.from_list, strerror(-rc));
			return rc;
		}
		buf = map;
	}
	close(fd);
	char sep = memchr(buf, '\0', len) ? '\0' : '\n';
	struct trawl_index *ix = NULL;
	size_t rejected = 0;
	int rc = trawl_index_build_from_list(buf, len, sep, e->cfg.threads, &ix, &rejected);
	if (map)
		munmap(map, len);
	if (rc < 0) {
		fprintf(stderr, "trawld: build from '%s': %s\n", e->cfg.from_list, strerror(-rc));
		return rc;
	}
	if (rejected)
		fprintf(stderr, "trawld: '%s': %zu paths left out (relative or malformed)\n",
			e->cfg.from_list, rejected);
	struct trawl_index_stats ist;
	trawl_index_stats(ix, &ist);
	atomic_store(&e->stats.entries, ist.n_entries);
	rc = publish(e, ix);
	if (rc < 0) {
		trawl_index_free(ix);
		return rc;
	}
	*n_changes = ist.n_entries + 1;
	return 0;
}

static void save_snapshot(struct engine *e, struct trawl_index *ix)
{
	int rc = trawl_index_save(ix, e->snapshot_path);
	pthread_mutex_lock(&e->lock);
	e->last_save_error = rc;
	if (rc == 0) {
		e->snapshot_saved_at = (int64_t)time(NULL);
		e->changes_since_save = 0;
	}
	pthread_mutex_unlock(&e->lock);
	if (rc < 0)
		fprintf(stderr, "trawld: save snapshot '%s': %s\n", e->snapshot_path,
			strerror(-rc));
}

static void save_picks(struct engine *e)
{
	int rc = frecency_save(&e->picks);
	if (rc < 0)
		fprintf(stderr, "trawld: save picks '%s': %s\n", e->picks.file, strerror(-rc));
}

/* One walk (or list read), then the rebuild and save it calls for. A catch-up rescan
 * right after a full walk keeps its counters to itself, so that status goes on showing
 * the walk's. */
static void do_walk(struct engine *e, int is_full, int is_catch_up)
{
	struct engine_ref *r = engine_acquire(e);
	uint64_t n_changes = 0;
	struct walk_stats catch_up = {0};
	struct walk_stats *stats = is_catch_up ? &catch_up : &e->stats;
	if (!is_catch_up)
		set_state(e, e->is_ready ? WALK_RESCANNING : WALK_WALKING);
	int rc = e->cfg.from_list ? run_list(e, &n_changes)
				  : run_walk(e, r->ix, !is_full, stats, &n_changes);
	engine_release(r);
	if (!is_catch_up)
		set_state(e, WALK_IDLE);
	if (rc < 0) {
		if (rc != -ECANCELED)
			fprintf(stderr, "trawld: walk: %s\n", strerror(-rc));
		return;
	}
	r = engine_acquire(e);
	struct trawl_index_stats st;
	trawl_index_stats(r->ix, &st);
	pthread_mutex_lock(&e->lock);
	e->is_ready = 1;
	e->n_walks++;
	e->n_directories = atomic_load(&stats->dirs_read) + atomic_load(&stats->dirs_unchanged);
	e->changes_since_save += n_changes;
	uint64_t unsaved = e->changes_since_save;
	pthread_mutex_unlock(&e->lock);
	uint64_t pending = st.n_delta + st.n_tombstones;
	if (pending && pending * ENGINE_REBUILD_AFTER_WALK_DIVISOR > st.n_base)
		trawl_index_rebuild(r->ix);
	if (unsaved || !e->snapshot_saved_at)
		save_snapshot(e, r->ix);
	engine_release(r);
}

static void *walk_thread(void *arg)
{
	struct engine *e = arg;
	int is_walk_due = 1, is_full = !e->is_snapshot_loaded;
	while (!atomic_load(&e->stop)) {
		if (is_walk_due) {
			do_walk(e, is_full, 0);
			is_walk_due = 0;
			/* Directories changed while a full walk read the others were watched
			 * only after it had read them: one incremental rescan catches them. */
			if (is_full && e->watch && !e->cfg.from_list)
				do_walk(e, 0, 1);
		}
		uint64_t n_changes = 0;
		int rc = process_dirty(e, &n_changes);
		if (rc < 0 && rc != -ECANCELED)
			fprintf(stderr, "trawld: reading changed directories: %s\n", strerror(-rc));
		save_picks(e);
		pthread_mutex_lock(&e->lock);
		e->changes_since_save += n_changes;
		/* Sleep until asked, until something changed, or until the rescan period is
		 * over. */
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += e->cfg.rescan_interval_s;
		while (!e->is_rescan_asked && !atomic_load(&e->stop) && !e->dirty->n &&
		       !atomic_load(&e->picks.is_dirty)) {
			if (!e->cfg.rescan_interval_s) {
				pthread_cond_wait(&e->wake, &e->lock);
			} else if (pthread_cond_timedwait(&e->wake, &e->lock, &until) ==
				   ETIMEDOUT) {
				e->is_rescan_asked = 1;
				break;
			}
		}
		if (e->is_rescan_asked) {
			is_walk_due = 1;
			is_full = e->is_full_asked;
			e->is_rescan_asked = 0;
			e->is_full_asked = 0;
		}
		int has_dirty = e->dirty->n > 0;
		pthread_mutex_unlock(&e->lock);
		if (!is_walk_due && has_dirty) {
			struct timespec gather = {0, ENGINE_COALESCE_MS * 1000000L};
			nanosleep(&gather, NULL);
		}
	}
	return NULL;
}

void engine_request_rescan(struct engine *e, int is_full)
{
	pthread_mutex_lock(&e->lock);
	e->is_rescan_asked = 1;
	e->is_full_asked |= is_full;
	pthread_cond_signal(&e->wake);
	pthread_mutex_unlock(&e->lock);
}

/* ---- start and stop ---- */

/* A name for the snapshot of this configuration: roots (or list file) hashed, so that
 * a daemon started with other roots never answers from the wrong snapshot. */
static char *snapshot_name(const struct engine *e)
{
	uint64_t h = fnv1a(e->cfg.from_list ? "list" : "walk", 4);
	if (e->cfg.from_list)
		h ^= fnv1a(e->cfg.from_list, strlen(e->cfg.from_list)) * 31;
	for (char *const *r = e->roots; r && *r; r++)
		h = h * 1099511628211ULL ^ fnv1a(*r, strlen(*r));
	h ^= (uint64_t)e->cfg.is_cross_fs << 63;
	char *out = NULL;
	if (asprintf(&out, "%s/index-%016llx", e->cfg.state_dir, (unsigned long long)h) < 0)
		return NULL;
	return out;
}

static int make_state_dir(const char *dir)
{
	char path[4096];
	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return -errno;
	struct stat st;
	if (stat(path, &st) != 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* A save killed midway leaves its temporary file, "<name>.tmp.<pid>" beside the snapshot
 * (trawl_index_save()) or the picks: remove those of writers that are gone, else every
 * crash during a save would keep a snapshot's worth of disk. Our own pid's is stale too,
 * since nothing of ours has saved yet; a live process's is left alone. */
static void remove_stale_temps(const struct engine *e)
{
	const char *snapshot = strrchr(e->snapshot_path, '/') + 1;
	DIR *dir = opendir(e->cfg.state_dir);
	if (!dir)
		return;
	struct dirent *de;
	while ((de = readdir(dir)) != NULL) {
		const char *tmp = strstr(de->d_name, ".tmp.");
		size_t stem_len = tmp ? (size_t)(tmp - de->d_name) : 0;
		int is_ours = tmp && ((stem_len == strlen(snapshot) &&
				       memcmp(de->d_name, snapshot, stem_len) == 0) ||
				      (stem_len == 5 && memcmp(de->d_name, "picks", 5) == 0));
		if (!is_ours)
			continue;
		char *end;
		errno = 0;
		long pid = strtol(tmp + 5, &end, 10);
		if (errno || *end || end == tmp + 5 || pid <= 0 || pid > INT32_MAX)
			continue;
		if (pid != getpid() && (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
			continue;
		if (unlinkat(dirfd(dir), de->d_name, 0) == 0)
			fprintf(stderr,
				"trawld: removed '%s/%s', left by a save that did not end\n",
				e->cfg.state_dir, de->d_name);
	}
	closedir(dir);
}

static int is_at_or_under_root(const struct engine *e, const char *path, size_t len)
{
	for (char *const *r = e->roots; r && *r; r++) {
		size_t rl = strlen(*r);
		if (len >= rl && memcmp(path, *r, rl) == 0 &&
		    (len == rl || path[rl] == '/' || rl == 1))
			return 1;
	}
	return 0;
}

/* Collect the roots' ancestors that no root covers. */
static int find_hidden(struct engine *e)
{
	e->hidden = calloc(1, sizeof(*e->hidden));
	if (!e->hidden)
		return -ENOMEM;
	for (char *const *root = e->roots; root && *root; root++) {
		const char *r = *root;
		for (size_t len = 1; r[len - 1]; len++) {
			/* "/" and each prefix ending just before a '/' */
			size_t n = len == 1 ? 1 : (r[len] == '/' ? len : 0);
			if (!n || is_at_or_under_root(e, r, n))
				continue;
			int is_known = 0;
			for (size_t j = 0; j < e->n_hidden; j++)
				is_known |= e->hidden[j] && strncmp(e->hidden[j], r, n) == 0 &&
					    !e->hidden[j][n];
			if (is_known)
				continue;
			char **p = realloc(e->hidden, (e->n_hidden + 2) * sizeof(*p));
			if (!p)
				return -ENOMEM;
			e->hidden = p;
			if (!(e->hidden[e->n_hidden] = strndup(r, n)))
				return -ENOMEM;
			e->hidden[++e->n_hidden] = NULL;
		}
	}
	return 0;
}

size_t engine_hidden(struct engine *e, const char *const **paths)
{
	*paths = (const char *const *)e->hidden;
	return e->n_hidden;
}

static void engine_free(struct engine *e)
{
	if (!e)
		return;
	engine_release(e->cur);
	if (e->dirty) {
		set_release(e->dirty);
		free(e->dirty);
	}
	for (size_t k = 0; k < e->n_roots; k++)
		free(e->roots[k]);
	free(e->roots);
	for (size_t k = 0; k < e->n_hidden; k++)
		free(e->hidden[k]);
	free(e->hidden);
	free(e->snapshot_path);
	frecency_release(&e->picks);
	pthread_mutex_destroy(&e->lock);
	pthread_cond_destroy(&e->wake);
	free(e);
}

int engine_start(const struct engine_config *cfg, struct engine **out)
{
	*out = NULL;
	struct engine *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->cfg = *cfg;
	pthread_mutex_init(&e->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&e->wake, &ca);
	pthread_condattr_destroy(&ca);
	char *picks = NULL;
	int rc = -ENOMEM;

	for (const char *const *r = cfg->roots; r && *r; r++)
		e->n_roots++;
	e->roots = calloc(e->n_roots + 1, sizeof(*e->roots));
	if (!e->roots)
		goto err;
	for (size_t k = 0; cfg->roots && cfg->roots[k]; k++)
		if (!(e->roots[k] = strdup(cfg->roots[k])))
			goto err;
	e->cfg.roots = (const char *const *)e->roots;
	if (find_hidden(e) < 0)
		goto err;

	rc = make_state_dir(cfg->state_dir);
	if (rc < 0) {
		fprintf(stderr, "trawld: state directory '%s': %s\n", cfg->state_dir,
			strerror(-rc));
		goto err;
	}
	rc = -ENOMEM;
	if (!(e->snapshot_path = snapshot_name(e)) ||
	    asprintf(&picks, "%s/picks", cfg->state_dir) < 0) {
		picks = NULL;
		goto err;
	}
	rc = frecency_init(&e->picks, picks);
	free(picks);
	if (rc < 0)
		goto err;
	rc = -ENOMEM;
	if (!(e->dirty = calloc(1, sizeof(*e->dirty))))
		goto err;

	struct trawl_index *ix = NULL;
	remove_stale_temps(e);
	rc = trawl_index_load(e->snapshot_path, cfg->threads, &ix);
	if (rc == 0) {
		struct stat st;
		e->is_snapshot_loaded = 1;
		e->is_ready = 1;
		if (stat(e->snapshot_path, &st) == 0)
			e->snapshot_saved_at = (int64_t)st.st_mtime;
	} else {
		if (rc != -ENOENT)
			fprintf(stderr, "trawld: snapshot '%s' not used (%s); walking again\n",
				e->snapshot_path,
				rc == -EINVAL ? "corrupt, truncated or from another version"
					      : strerror(-rc));
		rc = trawl_index_new_empty(cfg->threads, &ix);
		if (rc < 0)
			goto err;
	}
	e->cur = ref_new(ix);
	if (!e->cur) {
		trawl_index_free(ix);
		rc = -ENOMEM;
		goto err;
	}
	if (!cfg->from_list && cfg->watch_backend != WATCH_OFF) {
		struct watch_options wo = {.backend = cfg->watch_backend,
					   .share_percent = cfg->watch_share_percent,
					   .roots = cfg->roots};
		struct watch_callbacks wc = {
		    .ctx = e, .dirty = on_watch_dirty, .overflow = on_watch_overflow};
		rc = watch_start(&wo, &wc, &e->watch);
		if (rc < 0)
			fprintf(stderr, "trawld: watching for changes: %s; rescanning every %u s\n",
				strerror(-rc), cfg->rescan_interval_s);
	}
	rc = -pthread_create(&e->thread, NULL, walk_thread, e);
	if (rc < 0)
		goto err;
	e->has_thread = 1;
	*out = e;
	return 0;
err:
	engine_free(e);
	return rc;
}

void engine_stop(struct engine *e)
{
	if (!e)
		return;
	atomic_store(&e->stop, 1);
	pthread_mutex_lock(&e->lock);
	pthread_cond_signal(&e->wake);
	pthread_mutex_unlock(&e->lock);
	if (e->has_thread)
		pthread_join(e->thread, NULL);
	watch_stop(e->watch);
	e->watch = NULL;
	/* Whatever a cancelled walk applied is worth keeping: save it. */
	if (e->changes_since_save || e->state != WALK_IDLE) {
		struct engine_ref *r = engine_acquire(e);
		struct trawl_index_stats st;
		trawl_index_stats(r->ix, &st);
		if (st.n_entries || e->snapshot_saved_at)
			save_snapshot(e, r->ix);
		engine_release(r);
	}
	save_picks(e);
	engine_free(e);
}

/* ---- status, picks ---- */

static const char *state_name(enum walk_state s)
{
	return s == WALK_WALKING ? "walking" : s == WALK_RESCANNING ? "rescanning" : "idle";
}

json_t *engine_status(struct engine *e)
{
	struct engine_ref *r = engine_acquire(e);
	struct trawl_index_stats st;
	trawl_index_stats(r->ix, &st);
	engine_release(r);

	pthread_mutex_lock(&e->lock);
	int64_t end = e->walk_ended_ms ? e->walk_ended_ms : now_ms();
	int64_t elapsed = e->walk_started_ms ? end - e->walk_started_ms : 0;
	uint64_t seen = atomic_load(&e->stats.entries);
	json_t *walk = json_pack(
	    "{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s}", "state", state_name(e->state),
	    "dirs_read", (json_int_t)atomic_load(&e->stats.dirs_read), "dirs_unchanged",
	    (json_int_t)atomic_load(&e->stats.dirs_unchanged), "entries_seen", (json_int_t)seen,
	    "errors",
	    (json_int_t)(atomic_load(&e->stats.errors) + atomic_load(&e->stats.vanished) +
			 atomic_load(&e->stats.denied)),
	    "vanished", (json_int_t)atomic_load(&e->stats.vanished), "denied",
	    (json_int_t)atomic_load(&e->stats.denied), "pruned",
	    (json_int_t)atomic_load(&e->stats.pruned), "elapsed_ms", (json_int_t)elapsed,
	    "entries_per_s", (json_int_t)(elapsed > 0 ? seen * 1000 / (uint64_t)elapsed : 0),
	    "walks", (json_int_t)e->n_walks, "backend",
	    e->cfg.from_list		      ? "list"
	    : atomic_load(&e->stats.is_uring) ? "io_uring"
					      : "plain");
	json_t *roots = json_array();
	for (size_t k = 0; roots && k < e->n_roots; k++)
		json_array_append_new(roots, json_string(e->roots[k]));
	uint64_t memory_bytes = st.store_bytes + st.postings_bytes + st.delta_bytes;
	json_t *index =
	    json_pack("{s:I,s:I,s:I,s:I,s:I}", "base", (json_int_t)st.n_base, "delta",
		      (json_int_t)st.n_delta, "tombstones", (json_int_t)st.n_tombstones, "names",
		      (json_int_t)st.n_names, "memory_bytes", (json_int_t)memory_bytes);
	json_t *snap =
	    json_pack("{s:s,s:b,s:I}", "path", e->snapshot_path, "loaded", e->is_snapshot_loaded,
		      "saved_at", (json_int_t)e->snapshot_saved_at);
	if (snap && e->last_save_error)
		json_object_set_new(snap, "error", json_string(strerror(-e->last_save_error)));
	struct watch_stats ws = {0};
	if (e->watch)
		watch_stats(e->watch, &ws);
	json_t *watch = json_pack(
	    "{s:s,s:I,s:I,s:I,s:I,s:I,s:I}", "backend", watch_backend_name(ws.backend), "watches",
	    (json_int_t)ws.n_watches, "budget", (json_int_t)ws.budget, "unwatched",
	    (json_int_t)ws.n_unwatched, "events", (json_int_t)ws.n_events, "overflows",
	    (json_int_t)ws.n_overflows, "dirty_reads", (json_int_t)e->n_dirty_reads);
	/* The roots' ancestors are entries of the index but not of the user's tree. */
	uint64_t entries = st.n_entries > e->n_hidden ? st.n_entries - e->n_hidden : 0;
	json_t *obj =
	    json_pack("{s:b,s:I,s:I,s:o*,s:o*,s:o*,s:o*,s:o*,s:I}", "ready", e->is_ready, "entries",
		      (json_int_t)entries, "directories", (json_int_t)e->n_directories, "roots",
		      roots, "walk", walk, "index", index, "snapshot", snap, "watch", watch,
		      "picks", (json_int_t)frecency_count(&e->picks));
	pthread_mutex_unlock(&e->lock);
	return obj;
}

int engine_pick(struct engine *e, const char *path, size_t len)
{
	int rc = frecency_pick(&e->picks, path, len, time(NULL));
	/* The walk thread saves it: an fsync has no place on the server's loop. */
	pthread_mutex_lock(&e->lock);
	pthread_cond_signal(&e->wake);
	pthread_mutex_unlock(&e->lock);
	return rc;
}

size_t engine_pick_count(struct engine *e)
{
	return frecency_count(&e->picks);
}

int32_t engine_frecency_bonus(struct engine *e, const char *path, size_t len)
{
	return frecency_bonus(&e->picks, path, len, time(NULL));
}
