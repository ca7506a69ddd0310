/* walk.c: the walk: pending directories as a tree of small reference-counted nodes,
 * reader threads that open, stat and read them in batches (walk_io.c), and the caller's
 * thread, which receives every listing in an order where parents come first. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "walk_internal.h"

/* A directory to read, or read and still needed by its descendants. Nodes form a tree
 * through `parent`: a pending directory costs its name and a few words, not its path. */
struct node {
	struct node *parent;   /* NULL for a root */
	_Atomic uint32_t refs; /* 1 until it has been handled, plus 1 per live child node */
	int anchor_fd;	       /* >= 0: this directory, held open for its descendants' opens
				  and stats */
	char *anchor_path;     /* an anchor's absolute path, so that paths below are built
				  from it instead of from every ancestor's name */
	uint32_t root;	       /* index of its root in the options */
	uint32_t path_len;     /* bytes of its absolute path */
	uint32_t name_len;
	/* Incremental walks: what the caller knew of it, given with its name. */
	int has_known;
	int64_t known_mtime_ns, known_ctime_ns;
	int has_hint; /* `hint` came with its name, to pass back to the subdirs callback */
	struct trawl_dir_hint hint;
	char name[]; /* NUL-terminated; a root's is its whole path */
};

/* A listing on its way to the caller's thread: one allocation holding the walk_dir, its
 * children, its path and the children's names. */
struct result {
	struct result *next;
	size_t bytes;
	struct walk_dir dir;
};

struct walk {
	const struct walk_options *opts;
	const struct walk_callbacks *cb;
	struct walk_stats *stats;
	struct walk_prune_table prune;
	uint64_t *root_devs; /* each root's device, set when the root is opened */
	uint32_t max_anchors;
	_Atomic uint32_t n_anchors;
	_Atomic int abort_code; /* 0, or what walk_run() returns: the walk is ending */

	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t has_work, has_result, has_room;
	struct node **pending; /* a stack: depth first keeps it and the open anchors small */
	size_t n_pending, pending_cap;
	unsigned n_busy; /* workers handling a batch, which may push more work */
	int is_done;	 /* nothing pending, nobody busy: no result will come */
	struct result *head, *tail;
	size_t queued_bytes;
};

/* One directory of a worker's batch. */
struct item {
	struct node *node;
	size_t path_off; /* its absolute path, in worker.paths */
	size_t rel_off;	 /* where the path relative to `dfd` starts */
	int dfd;	 /* an anchor's fd, or AT_FDCWD for a root */
	int is_long;	 /* the relative path is too long for one open */
	int is_anchor_due;
	int fd;	 /* >= 0 once opened */
	int err; /* 0, or the -errno that ended its handling */
	int has_stat;
	int is_pruned;
	int is_unchanged;
	struct statx stx;
};

/* One entry of the listing being read; names live in worker.names. */
struct kid {
	uint32_t name_off;
	uint32_t name_len;
	uint8_t kind; /* a TRAWL_KIND_*, or 0 for unknown (then dropped if it cannot be stat'ed) */
};

struct worker {
	struct walk *w;
	struct walk_io io;
	pthread_t thread;
	int is_started;
	struct item items[WALK_BATCH_DIRS];
	size_t n_items;
	int closes[WALK_BATCH_DIRS]; /* fds read last round, closed along with this round's I/O */
	size_t n_closes;
	struct walk_io_req reqs[2 * WALK_URING_ENTRIES];
	struct statx unknown_stx[WALK_URING_ENTRIES];
	char *paths; /* the batch's absolute paths, each NUL-terminated */
	size_t paths_len, paths_cap;
	char *dents; /* getdents64 buffer */
	struct kid *kids;
	size_t n_kids, kids_cap;
	char *names;
	size_t names_len, names_cap;
	char *child; /* a child's path, for the prune table */
	size_t child_cap;
	struct node **fresh; /* child nodes created, to push at once */
	size_t n_fresh, fresh_cap;
	unsigned ring_stat_batches; /* incremental: batches left whose stats use the ring */
};

static void stat_add(_Atomic uint64_t *counter, uint64_t n)
{
	atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

static int is_aborted(struct walk *w)
{
	return atomic_load_explicit(&w->abort_code, memory_order_relaxed) != 0;
}

/* End the walk with `code` (the first code wins). Call with w->lock held. */
static void abort_locked(struct walk *w, int code)
{
	int expected = 0;
	atomic_compare_exchange_strong(&w->abort_code, &expected, code);
	pthread_cond_broadcast(&w->has_work);
	pthread_cond_broadcast(&w->has_result);
	pthread_cond_broadcast(&w->has_room);
}

static void walk_abort(struct walk *w, int code)
{
	pthread_mutex_lock(&w->lock);
	abort_locked(w, code);
	pthread_mutex_unlock(&w->lock);
}

static int is_stop_requested(const struct walk *w)
{
	return w->opts->stop && atomic_load(w->opts->stop);
}

/* Make room for `need` elements of `size` bytes in the array whose pointer is at `array`
 * (a T **; the pointer is copied through memcpy, as T * and void * share a
 * representation). Returns 0 or -ENOMEM (the array untouched). */
static int grow(void *array, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 64;
	while (n < need)
		n *= 2;
	void *old;
	memcpy(&old, array, sizeof(old));
	void *grown = realloc(old, n * size);
	if (!grown)
		return -ENOMEM;
	memcpy(array, &grown, sizeof(grown));
	*cap = n;
	return 0;
}

/* ---------------------------------------------------------------------------------------
 * Nodes
 */

static struct node *node_new(struct node *parent, uint32_t root, const char *name, size_t len)
{
	struct node *n = malloc(sizeof(*n) + len + 1);
	if (!n)
		return NULL;
	n->parent = parent;
	atomic_init(&n->refs, 1);
	n->anchor_fd = -1;
	n->anchor_path = NULL;
	n->root = root;
	n->has_known = 0;
	n->has_hint = 0;
	n->name_len = (uint32_t)len;
	memcpy(n->name, name, len);
	n->name[len] = '\0';
	if (parent) {
		atomic_fetch_add(&parent->refs, 1);
		n->path_len = parent->path_len + (parent->path_len > 1) + (uint32_t)len;
	} else {
		n->path_len = (uint32_t)len;
	}
	return n;
}

/* Drop a reference; the last one frees the node, closes its anchor and drops the
 * reference it held on its parent. */
static void node_put(struct walk *w, struct node *n)
{
	while (n && atomic_fetch_sub(&n->refs, 1) == 1) {
		struct node *parent = n->parent;
		if (n->anchor_fd >= 0) {
			close(n->anchor_fd);
			atomic_fetch_sub(&w->n_anchors, 1);
		}
		free(n->anchor_path);
		free(n);
		n = parent;
	}
}

/* ---------------------------------------------------------------------------------------
 * The queues between threads
 */

/* Take up to WALK_BATCH_DIRS pending directories into wk->items. 0 means the walk is over
 * (complete or aborted). */
static size_t take_batch(struct worker *wk)
{
	struct walk *w = wk->w;
	size_t n = 0;
	pthread_mutex_lock(&w->lock);
	for (;;) {
		if (is_stop_requested(w))
			abort_locked(w, -ECANCELED);
		if (is_aborted(w))
			break;
		if (w->n_pending) {
			n = w->n_pending < WALK_BATCH_DIRS ? w->n_pending : WALK_BATCH_DIRS;
			for (size_t i = 0; i < n; i++)
				wk->items[i].node = w->pending[--w->n_pending];
			w->n_busy++;
			break;
		}
		if (w->n_busy == 0) {
			w->is_done = 1;
			pthread_cond_broadcast(&w->has_work);
			pthread_cond_broadcast(&w->has_result);
			break;
		}
		pthread_cond_wait(&w->has_work, &w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return n;
}

static void finish_batch(struct walk *w)
{
	pthread_mutex_lock(&w->lock);
	if (--w->n_busy == 0 && w->n_pending == 0)
		pthread_cond_broadcast(&w->has_work);
	pthread_mutex_unlock(&w->lock);
}

/* Push the child nodes in wk->fresh, first names on top. */
static void push_fresh(struct worker *wk)
{
	struct walk *w = wk->w;
	if (!wk->n_fresh)
		return;
	pthread_mutex_lock(&w->lock);
	if (grow(&w->pending, &w->pending_cap, w->n_pending + wk->n_fresh, sizeof(*w->pending)) <
	    0) {
		abort_locked(w, -ENOMEM);
		pthread_mutex_unlock(&w->lock);
		for (size_t i = 0; i < wk->n_fresh; i++)
			node_put(w, wk->fresh[i]);
		wk->n_fresh = 0;
		return;
	}
	for (size_t i = wk->n_fresh; i-- > 0;)
		w->pending[w->n_pending++] = wk->fresh[i];
	pthread_cond_broadcast(&w->has_work);
	pthread_mutex_unlock(&w->lock);
	wk->n_fresh = 0;
}

/* Hand a listing to the caller's thread, waiting while the queue is full. */
static void send_result(struct walk *w, struct result *r)
{
	pthread_mutex_lock(&w->lock);
	while (w->head && w->queued_bytes + r->bytes > WALK_QUEUE_MAX_BYTES && !is_aborted(w))
		pthread_cond_wait(&w->has_room, &w->lock);
	if (is_aborted(w)) {
		pthread_mutex_unlock(&w->lock);
		free(r);
		return;
	}
	r->next = NULL;
	if (w->tail)
		w->tail->next = r;
	else
		w->head = r;
	w->tail = r;
	w->queued_bytes += r->bytes;
	pthread_cond_signal(&w->has_result);
	pthread_mutex_unlock(&w->lock);
}

/* The caller's side: call cb->dir for each listing until the walk is over. */
static void consume(struct walk *w)
{
	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->head && !w->is_done && !is_aborted(w)) {
			/* Wake now and then to notice opts->stop while workers are busy. */
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += 100 * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&w->has_result, &w->lock, &until);
			if (is_stop_requested(w))
				abort_locked(w, -ECANCELED);
		}
		if (is_aborted(w) || !w->head)
			break;
		struct result *r = w->head;
		w->head = r->next;
		if (!w->head)
			w->tail = NULL;
		w->queued_bytes -= r->bytes;
		pthread_cond_broadcast(&w->has_room);
		pthread_mutex_unlock(&w->lock);
		int rc = w->cb->dir(w->cb->ctx, &r->dir);
		free(r);
		pthread_mutex_lock(&w->lock);
		if (rc)
			abort_locked(w, rc);
		else if (is_stop_requested(w)) /* readers that keep up never let it wait */
			abort_locked(w, -ECANCELED);
	}
	pthread_mutex_unlock(&w->lock);
}

/* ---------------------------------------------------------------------------------------
 * Paths
 */

/* Write the item's absolute path into wk->paths and find the anchor to open it from. */
static int build_path(struct worker *wk, struct item *it)
{
	struct node *n = it->node;
	if (grow(&wk->paths, &wk->paths_cap, wk->paths_len + n->path_len + 1, 1) < 0)
		return -ENOMEM;
	it->path_off = wk->paths_len;
	char *p = wk->paths + it->path_off;
	wk->paths_len += n->path_len + 1;
	p[n->path_len] = '\0';
	struct node *anchor = NULL;
	unsigned depth = 0; /* components below the anchor */
	size_t pos = n->path_len;
	for (struct node *c = n; c; c = c->parent) {
		if (c != n && c->anchor_fd >= 0) {
			anchor = c;
			memcpy(p, c->anchor_path ? c->anchor_path : c->name, c->path_len);
			break;
		}
		depth++;
		if (!c->parent) {
			memcpy(p, c->name, c->name_len);
			break;
		}
		pos -= c->name_len;
		memcpy(p + pos, c->name, c->name_len);
		p[--pos] = '/';
	}
	it->dfd = AT_FDCWD;
	it->rel_off = 0;
	if (anchor) {
		it->dfd = anchor->anchor_fd;
		it->rel_off = anchor->path_len + (anchor->path_len > 1);
	}
	size_t rel_len = n->path_len - it->rel_off;
	it->is_long = rel_len >= PATH_MAX;
	it->is_anchor_due =
	    !n->parent || depth >= WALK_ANCHOR_DEPTH || rel_len >= WALK_ANCHOR_BYTES;
	return 0;
}

static const char *item_path(const struct worker *wk, const struct item *it)
{
	return wk->paths + it->path_off;
}

static struct open_how open_how_for(const struct item *it)
{
	/* Below a root, no component may be a symlink: a directory swapped for a link
	 * after it was listed must not lead the walk elsewhere. Above a root, links are
	 * the caller's business. */
	struct open_how how = {
	    .flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
	    .resolve = it->node->parent ? RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS : 0,
	};
	return how;
}

/* Open a directory whose path from `dfd` exceeds PATH_MAX, one piece of less than
 * PATH_MAX at a time, holding at most two fds. Returns the fd or -errno. */
static int open_in_hops(int dfd, const char *rel, size_t len, struct open_how how)
{
	char piece[PATH_MAX];
	int fd = dfd;
	for (size_t pos = 0; pos < len;) {
		size_t take = len - pos;
		int is_last = take < PATH_MAX;
		if (!is_last) {
			take = PATH_MAX - 1;
			while (take > 0 && rel[pos + take] != '/')
				take--;
		}
		int nfd = -ENAMETOOLONG;
		if (take > 0) {
			memcpy(piece, rel + pos, take);
			piece[take] = '\0';
			struct open_how step = how;
			if (!is_last)
				step.flags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
			nfd = walk_io_open(fd, piece, &step);
		}
		if (fd != dfd)
			close(fd);
		if (nfd < 0)
			return nfd;
		fd = nfd;
		pos += take + 1;
	}
	return fd;
}

/* ---------------------------------------------------------------------------------------
 * Listings
 */

static void count_failure(struct walk *w, int err)
{
	if (err == -ENOENT || err == -ENOTDIR)
		stat_add(&w->stats->vanished, 1);
	else if (err == -EACCES || err == -EPERM)
		stat_add(&w->stats->denied, 1);
	else if (err != -ECANCELED)
		stat_add(&w->stats->errors, 1);
}

static uint8_t kind_of_mode(uint32_t mode)
{
	return S_ISDIR(mode) ? TRAWL_KIND_DIR : S_ISLNK(mode) ? TRAWL_KIND_LINK : TRAWL_KIND_FILE;
}

static int add_kid(struct worker *wk, const char *name, size_t len, uint8_t kind)
{
	if (grow(&wk->kids, &wk->kids_cap, wk->n_kids + 1, sizeof(*wk->kids)) < 0 ||
	    grow(&wk->names, &wk->names_cap, wk->names_len + len + 1, 1) < 0)
		return -ENOMEM;
	wk->kids[wk->n_kids++] = (struct kid){(uint32_t)wk->names_len, (uint32_t)len, kind};
	memcpy(wk->names + wk->names_len, name, len + 1);
	wk->names_len += len + 1;
	return 0;
}

/* Read the directory open at `fd` into wk->kids. d_type tells most kinds; the rest are
 * stat'ed in batches. */
static int read_listing(struct worker *wk, int fd)
{
	wk->n_kids = 0;
	wk->names_len = 0;
	size_t n_unknown = 0;
	for (;;) {
		long got = syscall(SYS_getdents64, fd, wk->dents, WALK_GETDENTS_BYTES);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			break;
		for (long off = 0; off < got;) {
			const struct dirent64 *d = (const void *)(wk->dents + off);
			off += d->d_reclen;
			const char *nm = d->d_name;
			if (nm[0] == '.' && (nm[1] == '\0' || (nm[1] == '.' && nm[2] == '\0')))
				continue;
			uint8_t kind = d->d_type == DT_DIR	 ? TRAWL_KIND_DIR
				       : d->d_type == DT_LNK	 ? TRAWL_KIND_LINK
				       : d->d_type == DT_UNKNOWN ? 0
								 : TRAWL_KIND_FILE;
			n_unknown += kind == 0;
			if (add_kid(wk, nm, strlen(nm), kind) < 0)
				return -ENOMEM;
		}
		if (is_aborted(wk->w))
			return -ECANCELED;
	}
	for (size_t i = 0; n_unknown > 0 && i < wk->n_kids;) {
		size_t n = 0;
		size_t first = i;
		for (; i < wk->n_kids && n < WALK_URING_ENTRIES; i++) {
			if (wk->kids[i].kind)
				continue;
			wk->reqs[n] = (struct walk_io_req){.op = WALK_IO_STAT,
							   .dfd = fd,
							   .path = wk->names + wk->kids[i].name_off,
							   .stx = &wk->unknown_stx[n]};
			n++;
		}
		walk_io_run(&wk->io, wk->reqs, n);
		n_unknown -= n;
		size_t k = 0;
		for (size_t j = first; j < i; j++) {
			if (wk->kids[j].kind)
				continue;
			int res = wk->reqs[k].res;
			/* Gone since it was listed: leave it out. */
			wk->kids[j].kind = res == -ENOENT ? 0
					   : res < 0	  ? TRAWL_KIND_FILE
						     : kind_of_mode(wk->unknown_stx[k].stx_mode);
			k++;
		}
	}
	return 0;
}

static int64_t ns_of(struct statx_timestamp t)
{
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static struct trawl_dir_meta meta_of(const struct statx *stx)
{
	struct trawl_dir_meta m = {
	    .mtime_ns = ns_of(stx->stx_mtime),
	    .ctime_ns = ns_of(stx->stx_ctime),
	    .mode = stx->stx_mode,
	    .uid = stx->stx_uid,
	    .gid = stx->stx_gid,
	};
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	if (m.ctime_ns > (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec - WALK_RACY_NS)
		m.ctime_ns = WALK_CTIME_RACY;
	return m;
}

/* Queue the listing in wk->kids (none when unchanged) for the caller. */
static int send_listing(struct worker *wk, const struct item *it, int is_unchanged)
{
	struct walk *w = wk->w;
	size_t n = 0;
	for (size_t i = 0; i < wk->n_kids && !is_unchanged; i++)
		n += wk->kids[i].kind != 0;
	size_t path_len = it->node->path_len;
	size_t names_len = is_unchanged ? 0 : wk->names_len;
	size_t bytes =
	    sizeof(struct result) + n * sizeof(struct walk_child) + path_len + 1 + names_len;
	struct result *r = malloc(bytes);
	if (!r)
		return -ENOMEM;
	struct walk_child *children = (struct walk_child *)(r + 1);
	char *path = (char *)(children + n);
	char *names = path + path_len + 1;
	memcpy(path, item_path(wk, it), path_len + 1);
	if (names_len)
		memcpy(names, wk->names, names_len);
	size_t k = 0;
	for (size_t i = 0; i < wk->n_kids && !is_unchanged; i++) {
		const struct kid *c = &wk->kids[i];
		if (c->kind)
			children[k++] =
			    (struct walk_child){names + c->name_off, c->name_len, c->kind};
	}
	r->bytes = bytes;
	r->dir = (struct walk_dir){
	    .path = path,
	    .path_len = path_len,
	    .meta = meta_of(&it->stx),
	    .is_unchanged = is_unchanged,
	    .children = children,
	    .n_children = n,
	};
	stat_add(is_unchanged ? &w->stats->dirs_unchanged : &w->stats->dirs_read, 1);
	stat_add(&w->stats->entries, n);
	send_result(w, r);
	return 0;
}

/* Make a node for the subdirectory `name` of the item, unless the prune rules keep the
 * walk out of it. */
static int add_subdir(struct worker *wk, const struct item *it, const char *name, size_t len,
		      const struct trawl_dir_meta *known, const struct trawl_dir_hint *hint)
{
	struct walk *w = wk->w;
	struct node *parent = it->node;
	if (walk_prune_table_has_name(&w->prune, name, len)) {
		stat_add(&w->stats->pruned, 1);
		return 0;
	}
	if (w->prune.n_paths) {
		size_t plen = parent->path_len;
		if (grow(&wk->child, &wk->child_cap, plen + len + 2, 1) < 0)
			return -ENOMEM;
		memcpy(wk->child, item_path(wk, it), plen);
		if (plen > 1)
			wk->child[plen++] = '/';
		memcpy(wk->child + plen, name, len);
		if (walk_prune_table_has_path(&w->prune, wk->child, plen + len)) {
			stat_add(&w->stats->pruned, 1);
			return 0;
		}
	}
	if (grow(&wk->fresh, &wk->fresh_cap, wk->n_fresh + 1, sizeof(*wk->fresh)) < 0)
		return -ENOMEM;
	struct node *n = node_new(parent, parent->root, name, len);
	if (!n)
		return -ENOMEM;
	if (known) {
		n->has_known = 1;
		n->known_mtime_ns = known->mtime_ns;
		n->known_ctime_ns = known->ctime_ns;
	}
	if (hint) {
		n->has_hint = 1;
		n->hint = *hint;
	}
	wk->fresh[wk->n_fresh++] = n;
	return 0;
}

struct emit_arg {
	struct worker *wk;
	const struct item *it;
};

/* walk_callbacks.subdirs' `emit`: one subdirectory the caller knew. */
static int emit_subdir(void *arg, const char *name, size_t len, const struct trawl_dir_meta *known,
		       const struct trawl_dir_hint *hint)
{
	struct emit_arg *a = arg;
	if (len == 0 || len > NAME_MAX || memchr(name, '/', len) || memchr(name, '\0', len) ||
	    (name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.')))) {
		stat_add(&a->wk->w->stats->errors, 1);
		return 0;
	}
	return add_subdir(a->wk, a->it, name, len, known, hint);
}

/* Keep the item's fd as an anchor for its descendants, or close it with the next round. */
static void keep_or_close(struct worker *wk, struct item *it)
{
	struct walk *w = wk->w;
	if (it->fd < 0)
		return;
	struct node *n = it->node;
	if (it->is_anchor_due && (!n->parent || atomic_load(&w->n_anchors) < w->max_anchors) &&
	    (!n->parent || (n->anchor_path = strdup(item_path(wk, it))))) {
		n->anchor_fd = it->fd;
		atomic_fetch_add(&w->n_anchors, 1);
	} else {
		wk->closes[wk->n_closes++] = it->fd;
	}
	it->fd = -1;
}

/* An unchanged directory with WALK_STAT_ANCHOR_MIN_SUBDIRS known subdirectories or more
 * becomes an anchor (an O_PATH fd), so that each of them is stat'ed by its name alone
 * rather than by a path the kernel walks from the last anchor, component by component. */
static void anchor_for_subdirs(struct worker *wk, struct item *it)
{
	struct walk *w = wk->w;
	struct node *n = it->node;
	if (n->anchor_fd >= 0 || it->is_long || wk->n_fresh < WALK_STAT_ANCHOR_MIN_SUBDIRS ||
	    atomic_load(&w->n_anchors) >= w->max_anchors)
		return;
	struct open_how how = open_how_for(it);
	how.flags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	int fd = walk_io_open(it->dfd, item_path(wk, it) + it->rel_off, &how);
	if (fd < 0)
		return; /* gone or swapped: its subdirectories are stat'ed by path and fail */
	n->anchor_path = strdup(item_path(wk, it));
	if (!n->anchor_path) {
		close(fd);
		return;
	}
	n->anchor_fd = fd;
	atomic_fetch_add(&w->n_anchors, 1);
}

/* Everything after the I/O of the batch, for one directory. */
static int finish_item(struct worker *wk, struct item *it)
{
	struct walk *w = wk->w;
	struct node *n = it->node;
	if (it->err) {
		count_failure(w, it->err);
		return 0;
	}
	if (it->is_pruned) {
		stat_add(&w->stats->pruned, 1);
		return 0;
	}
	int rc;
	if (it->is_unchanged) {
		wk->n_kids = 0;
		rc = send_listing(wk, it, 1);
		keep_or_close(wk, it);
		struct emit_arg arg = {wk, it};
		if (rc == 0)
			rc = w->cb->subdirs(w->cb->ctx, item_path(wk, it), n->path_len,
					    n->has_hint ? &n->hint : NULL, emit_subdir, &arg);
		/* Before the subdirectories are pushed: other readers see the anchor. */
		if (rc == 0)
			anchor_for_subdirs(wk, it);
		push_fresh(wk);
		return rc;
	}
	rc = read_listing(wk, it->fd);
	if (rc < 0) {
		count_failure(w, rc);
		return rc == -ENOMEM || rc == -ECANCELED ? rc : 0;
	}
	rc = send_listing(wk, it, 0);
	keep_or_close(wk, it);
	for (size_t i = 0; rc == 0 && i < wk->n_kids; i++) {
		const struct kid *c = &wk->kids[i];
		if (c->kind == TRAWL_KIND_DIR)
			rc = add_subdir(wk, it, wk->names + c->name_off, c->name_len, NULL, NULL);
	}
	push_fresh(wk);
	return rc;
}

/* The stat of an item is in: check it is a directory the walk may enter. */
static void check_stat(struct worker *wk, struct item *it)
{
	struct walk *w = wk->w;
	if (!S_ISDIR(it->stx.stx_mode)) {
		/* What open(O_DIRECTORY | O_NOFOLLOW) says of a file or a symlink. */
		it->err = -ENOTDIR;
		return;
	}
	uint64_t dev = makedev(it->stx.stx_dev_major, it->stx.stx_dev_minor);
	if (!it->node->parent) {
		w->root_devs[it->node->root] = dev;
		return;
	}
	uint64_t root_dev = w->root_devs[it->node->root];
	if (dev != root_dev && (!w->opts->is_cross_fs || walk_prune_table_has_dev(&w->prune, dev)))
		it->is_pruned = 1;
}

/* Queue the closes of last round's fds into the next run of I/O. */
static size_t queue_closes(struct worker *wk, size_t nr)
{
	for (size_t i = 0; i < wk->n_closes; i++)
		wk->reqs[nr++] = (struct walk_io_req){.op = WALK_IO_CLOSE, .dfd = wk->closes[i]};
	wk->n_closes = 0;
	return nr;
}

/* Whether the caller knows stat'ed directory `it` with the times it has now: then it
 * need not be read again. */
static int is_known_unchanged(struct worker *wk, struct item *it)
{
	const struct walk_callbacks *cb = wk->w->cb;
	const struct node *n = it->node;
	struct trawl_dir_meta known;
	if (n->has_known) {
		known.mtime_ns = n->known_mtime_ns;
		known.ctime_ns = n->known_ctime_ns;
	} else if (cb->lookup(cb->ctx, item_path(wk, it), n->path_len, &known) < 0) {
		return 0;
	}
	return known.mtime_ns == ns_of(it->stx.stx_mtime) &&
	       known.ctime_ns == ns_of(it->stx.stx_ctime);
}

/* Times the calling thread has slept (voluntary context switches): a stat that had to
 * wait for the disk sleeps; one answered from the cache, even when preempted, does not. */
static long thread_sleeps(void)
{
	struct rusage ru;
	return getrusage(RUSAGE_THREAD, &ru) == 0 ? ru.ru_nvcsw : 0;
}

/* Run the batch's stats by path in wk->reqs[0, n): on this thread while the cache
 * answers them, through the ring for a while after they waited for the disk
 * (WALK_SYNC_STAT_MAX_SLEEPS). */
static void run_stats(struct worker *wk, size_t n)
{
	if (wk->io.is_uring && wk->ring_stat_batches > 0) {
		wk->ring_stat_batches--;
		walk_io_run(&wk->io, wk->reqs, n);
		return;
	}
	long slept = wk->io.is_uring ? thread_sleeps() : 0;
	walk_io_run_here(wk->reqs, n);
	if (wk->io.is_uring && thread_sleeps() - slept >= WALK_SYNC_STAT_MAX_SLEEPS)
		wk->ring_stat_batches = WALK_RING_STAT_BATCHES;
}

static void handle_batch(struct worker *wk, size_t n_items)
{
	struct walk *w = wk->w;
	int is_incremental = w->opts->is_incremental;
	wk->paths_len = 0;
	for (size_t i = 0; i < n_items; i++) {
		struct item *it = &wk->items[i];
		struct node *n = it->node;
		*it = (struct item){.node = n, .fd = -1};
		if (build_path(wk, it) < 0)
			it->err = -ENOMEM;
	}

	/* Incremental: stat by path first, and open only what changed (and what
	 * descendants will need as an anchor). */
	size_t nr = 0;
	if (is_incremental) {
		for (size_t i = 0; i < n_items; i++) {
			struct item *it = &wk->items[i];
			if (it->err || it->is_long)
				continue;
			wk->reqs[nr++] =
			    (struct walk_io_req){.op = WALK_IO_STAT,
						 .dfd = it->dfd,
						 .path = item_path(wk, it) + it->rel_off,
						 .stx = &it->stx};
		}
		run_stats(wk, nr);
		size_t k = 0;
		for (size_t i = 0; i < n_items; i++) {
			struct item *it = &wk->items[i];
			if (it->err || it->is_long)
				continue;
			it->err = wk->reqs[k++].res;
			if (it->err)
				continue;
			it->has_stat = 1;
			check_stat(wk, it);
			if (!it->err && !it->is_pruned)
				it->is_unchanged = is_known_unchanged(wk, it);
		}
		nr = 0;
	}

	nr = queue_closes(wk, nr);
	size_t first_open = nr;
	for (size_t i = 0; i < n_items; i++) {
		struct item *it = &wk->items[i];
		if (it->err || it->is_pruned || (it->is_unchanged && !it->is_anchor_due))
			continue;
		const char *rel = item_path(wk, it) + it->rel_off;
		struct open_how how = open_how_for(it);
		if (it->is_long) {
			int fd = open_in_hops(it->dfd, rel, it->node->path_len - it->rel_off, how);
			it->err = fd < 0 ? fd : 0;
			it->fd = fd < 0 ? -1 : fd;
			continue;
		}
		wk->reqs[nr++] = (struct walk_io_req){
		    .op = WALK_IO_OPEN, .dfd = it->dfd, .path = rel, .how = how};
	}
	walk_io_run(&wk->io, wk->reqs, nr);
	size_t k = first_open;
	for (size_t i = 0; i < n_items; i++) {
		struct item *it = &wk->items[i];
		if (it->err || it->is_pruned || (it->is_unchanged && !it->is_anchor_due) ||
		    it->is_long)
			continue;
		int res = wk->reqs[k++].res;
		it->fd = res < 0 ? -1 : res;
		it->err = res < 0 ? res : 0;
	}

	/* Full walks stat the open directory: the stat precedes the read, so a change
	 * racing the read leaves newer times than the listing and the next incremental
	 * walk reads it again. */
	nr = 0;
	for (size_t i = 0; i < n_items; i++) {
		struct item *it = &wk->items[i];
		if (it->fd >= 0 && !it->has_stat)
			wk->reqs[nr++] = (struct walk_io_req){
			    .op = WALK_IO_STAT, .dfd = it->fd, .path = "", .stx = &it->stx};
	}
	walk_io_run(&wk->io, wk->reqs, nr);
	k = 0;
	for (size_t i = 0; i < n_items; i++) {
		struct item *it = &wk->items[i];
		if (it->fd < 0 || it->has_stat)
			continue;
		it->err = wk->reqs[k++].res;
		if (it->err)
			continue;
		it->has_stat = 1;
		check_stat(wk, it);
		if (it->is_long && is_incremental && !it->err && !it->is_pruned)
			it->is_unchanged = is_known_unchanged(wk, it);
	}

	for (size_t i = 0; i < n_items; i++) {
		struct item *it = &wk->items[i];
		int rc = is_aborted(w) ? 0 : finish_item(wk, it);
		if (rc < 0 && rc != -ECANCELED)
			walk_abort(w, rc);
		if (it->fd >= 0)
			wk->closes[wk->n_closes++] = it->fd;
		node_put(w, it->node);
	}
}

static void *worker_main(void *arg)
{
	struct worker *wk = arg;
	size_t n;
	while ((n = take_batch(wk)) > 0) {
		handle_batch(wk, n);
		finish_batch(wk->w);
	}
	size_t nr = queue_closes(wk, 0);
	walk_io_run(&wk->io, wk->reqs, nr);
	return NULL;
}

/* ---------------------------------------------------------------------------------------
 * walk_run
 */

static void worker_release(struct worker *wk)
{
	walk_io_release(&wk->io);
	free(wk->paths);
	free(wk->dents);
	free(wk->kids);
	free(wk->names);
	free(wk->child);
	free(wk->fresh);
}

/* Set up the workers' I/O: rings for all, or plain syscalls for all. */
static int setup_io(struct worker *wks, unsigned n, int is_uring)
{
	for (unsigned i = 0; i < n && is_uring; i++) {
		if (walk_io_init(&wks[i].io, 1) < 0) {
			for (unsigned j = 0; j < i; j++)
				walk_io_release(&wks[j].io);
			is_uring = 0;
		}
	}
	for (unsigned i = 0; i < n && !is_uring; i++)
		walk_io_init(&wks[i].io, 0);
	return is_uring;
}

static uint32_t anchor_budget(void)
{
	struct rlimit rl;
	uint64_t budget = WALK_MAX_ANCHORS;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur / 4 < budget)
		budget = rl.rlim_cur / 4;
	return (uint32_t)budget;
}

/* WALK_DEFAULT_THREADS, fewer when descriptors are short: a reader holds up to two
 * batches of directories open and a ring, and the old default of 2 stands at worst. */
static unsigned default_workers(void)
{
	struct rlimit rl;
	uint64_t n = WALK_DEFAULT_THREADS;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur / (2 * WALK_BATCH_DIRS + 1) < n)
		n = rl.rlim_cur / (2 * WALK_BATCH_DIRS + 1);
	return n < 2 ? 2 : (unsigned)n;
}

static int add_roots(struct walk *w)
{
	size_t n = 0;
	for (const char *const *r = w->opts->roots; *r; r++)
		n++;
	w->root_devs = calloc(n + 1, sizeof(*w->root_devs));
	w->pending = calloc(n + 1, sizeof(*w->pending));
	if (!w->root_devs || !w->pending)
		return -ENOMEM;
	w->pending_cap = n + 1;
	/* Pushed last first, so that roots are walked in the order given. */
	for (size_t i = n; i-- > 0;) {
		const char *root = w->opts->roots[i];
		size_t len = strlen(root);
		while (len > 1 && root[len - 1] == '/')
			len--;
		struct node *node = node_new(NULL, (uint32_t)i, root, len);
		if (!node)
			return -ENOMEM;
		w->pending[w->n_pending++] = node;
	}
	return 0;
}

int walk_run(const struct walk_options *opts, const struct walk_callbacks *cb,
	     struct walk_stats *stats)
{
	if (!opts || !opts->roots || !cb || !cb->dir || !stats ||
	    (opts->is_incremental && (!cb->lookup || !cb->subdirs)))
		return -EINVAL;
	for (const char *const *r = opts->roots; *r; r++) {
		if ((*r)[0] != '/')
			return -EINVAL;
	}
	atomic_store(&stats->dirs_read, 0);
	atomic_store(&stats->dirs_unchanged, 0);
	atomic_store(&stats->entries, 0);
	atomic_store(&stats->vanished, 0);
	atomic_store(&stats->denied, 0);
	atomic_store(&stats->errors, 0);
	atomic_store(&stats->pruned, 0);
	atomic_store(&stats->is_uring, 0);

	struct walk *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->opts = opts;
	w->cb = cb;
	w->stats = stats;
	w->max_anchors = anchor_budget();
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->has_work, NULL);
	pthread_cond_init(&w->has_result, NULL);
	pthread_cond_init(&w->has_room, NULL);
	unsigned n_workers = opts->threads ? opts->threads : default_workers();
	struct worker *wks = calloc(n_workers, sizeof(*wks));
	int rc =
	    wks ? walk_prune_table_init(&w->prune, &opts->prune, "/proc/self/mountinfo") : -ENOMEM;
	if (rc == 0)
		rc = add_roots(w);
	for (unsigned i = 0; rc == 0 && i < n_workers; i++) {
		wks[i].w = w;
		wks[i].dents = malloc(WALK_GETDENTS_BYTES);
		if (!wks[i].dents)
			rc = -ENOMEM;
	}
	if (rc < 0)
		goto out;
	atomic_store(&stats->is_uring, setup_io(wks, n_workers, !opts->is_uring_disabled));

	unsigned n_started = 0;
	for (unsigned i = 0; i < n_workers; i++) {
		int err = pthread_create(&wks[i].thread, NULL, worker_main, &wks[i]);
		if (err && n_started == 0) {
			rc = -err;
			break;
		}
		wks[i].is_started = !err;
		n_started += !err;
	}
	if (n_started)
		consume(w);
	else
		walk_abort(w, rc);
	for (unsigned i = 0; i < n_workers; i++) {
		if (wks[i].is_started)
			pthread_join(wks[i].thread, NULL);
	}
	rc = atomic_load(&w->abort_code);
out:
	for (size_t i = 0; i < w->n_pending; i++)
		node_put(w, w->pending[i]);
	while (w->head) {
		struct result *r = w->head;
		w->head = r->next;
		free(r);
	}
	for (unsigned i = 0; wks && i < n_workers; i++)
		worker_release(&wks[i]);
	free(wks);
	free(w->pending);
	free(w->root_devs);
	walk_prune_table_release(&w->prune);
	pthread_cond_destroy(&w->has_room);
	pthread_cond_destroy(&w->has_result);
	pthread_cond_destroy(&w->has_work);
	pthread_mutex_destroy(&w->lock);
	free(w);
	return rc;
}
