/* watch.c: inotify, one watch per directory within a budget, on a thread that turns
 * events into "this directory is dirty" and "events were lost". The table of watches
 * maps wd -> path and path -> wd; a directory renamed or removed drops the watches of
 * its whole subtree, and the walk of its new place adds them again. */
#include "watch.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "walk.h"

/* Events that change a directory's listing or its own meta. IN_ATTRIB is kept only for
 * the directory itself (its mode and owner matter; its files' do not). */
#define WATCH_MASK                                                                          \
	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | \
	 IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)
/* Bytes read from the inotify descriptor at once: room for hundreds of events. */
#define WATCH_READ_BYTES ((size_t)64 * 1024)

/* Filesystem-wide fanotify events on directories: entries created, deleted, moved, and
 * directories' own attributes. */
#define FAN_WATCH_MASK \
	(FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO | FAN_ATTRIB | FAN_ONDIR)
/* The largest info record read: header, fsid, handle and a name of NAME_MAX bytes. */
#define FAN_RECORD_MAX_BYTES 512
/* Directory handles resolved to paths, remembered for bursts in one directory. */
#define FAN_CACHE_SLOTS 64

struct fan_fs {
	fsid_t fsid;
	dev_t dev;
	int mount_fd; /* a directory on it, for open_by_handle_at() */
};

struct fan_cached {
	unsigned char handle[sizeof(fsid_t) + sizeof(struct file_handle) + MAX_HANDLE_SZ];
	size_t handle_len; /* 0: empty */
	char *path;
	size_t len;
};

struct entry {
	int wd; /* -1: free */
	char *path;
	size_t len;
};

struct watch {
	int fd;	     /* inotify */
	int stop_fd; /* eventfd that ends the thread */
	pthread_t thread;
	struct watch_callbacks cb;

	pthread_mutex_t lock; /* guards the table and the counters */
	struct entry *entries;
	size_t n_entries, cap_entries, n_live;
	/* Open addressing over entry indexes + 1 (0 = empty, SIZE_MAX = deleted). */
	size_t *by_wd, *by_path;
	size_t n_slots;
	size_t n_filled; /* slots not empty (live or deleted) in the fuller table */
	size_t *free_list;
	size_t n_free;
	struct watch_stats st;

	int fan_fd; /* -1 without fanotify */
	struct fan_fs *fss;
	size_t n_fss;
	char **roots; /* events outside these are not ours */
	size_t n_roots;
	struct fan_cached cache[FAN_CACHE_SLOTS];
};

#define SLOT_EMPTY   0
#define SLOT_DELETED SIZE_MAX

static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t k = 0; k < len; k++)
		h = (h ^ (unsigned char)s[k]) * 1099511628211ULL;
	return h;
}

static uint64_t hash_wd(int wd)
{
	return (uint64_t)(unsigned)wd * 0x9E3779B97F4A7C15ULL;
}

/* The slot of `wd` in by_wd, or of the path in by_path; NULL when absent. */
static size_t *find_wd(struct watch *w, int wd)
{
	if (!w->n_slots)
		return NULL;
	size_t mask = w->n_slots - 1;
	for (size_t k = hash_wd(wd) & mask;; k = (k + 1) & mask) {
		size_t v = w->by_wd[k];
		if (v == SLOT_EMPTY)
			return NULL;
		if (v != SLOT_DELETED && w->entries[v - 1].wd == wd)
			return &w->by_wd[k];
	}
}

static size_t *find_path(struct watch *w, const char *path, size_t len)
{
	if (!w->n_slots)
		return NULL;
	size_t mask = w->n_slots - 1;
	for (size_t k = hash_bytes(path, len) & mask;; k = (k + 1) & mask) {
		size_t v = w->by_path[k];
		if (v == SLOT_EMPTY)
			return NULL;
		if (v != SLOT_DELETED && w->entries[v - 1].len == len &&
		    memcmp(w->entries[v - 1].path, path, len) == 0)
			return &w->by_path[k];
	}
}

/* Put `v` in the first empty or deleted slot of its probe; returns 1 when the slot was
 * empty (one more filled slot), 0 when it reused a deleted one. */
static int put_slot(size_t *table, size_t n_slots, uint64_t h, size_t v)
{
	size_t mask = n_slots - 1;
	size_t k = h & mask;
	while (table[k] != SLOT_EMPTY && table[k] != SLOT_DELETED)
		k = (k + 1) & mask;
	int was_empty = table[k] == SLOT_EMPTY;
	table[k] = v;
	return was_empty;
}

/* Rebuild both indexes with room for twice the live entries (drops deleted slots). */
static int rehash(struct watch *w)
{
	size_t n_slots = 64;
	while (n_slots < (w->n_live + 1) * 4)
		n_slots *= 2;
	size_t *by_wd = calloc(n_slots, sizeof(*by_wd));
	size_t *by_path = calloc(n_slots, sizeof(*by_path));
	if (!by_wd || !by_path) {
		free(by_wd);
		free(by_path);
		return -ENOMEM;
	}
	for (size_t i = 0; i < w->n_entries; i++) {
		struct entry *e = &w->entries[i];
		if (e->wd < 0)
			continue;
		put_slot(by_wd, n_slots, hash_wd(e->wd), i + 1);
		put_slot(by_path, n_slots, hash_bytes(e->path, e->len), i + 1);
	}
	free(w->by_wd);
	free(w->by_path);
	w->by_wd = by_wd;
	w->by_path = by_path;
	w->n_slots = n_slots;
	w->n_filled = w->n_live;
	return 0;
}

static int table_insert(struct watch *w, int wd, const char *path, size_t len)
{
	/* Deleted slots end no probe: rehash before filled slots pass half the table, or
	 * a probe for a missing key would never meet an empty slot. */
	if ((w->n_filled + 1) * 2 > w->n_slots && rehash(w) < 0)
		return -ENOMEM;
	size_t i;
	if (w->n_free) {
		i = w->free_list[--w->n_free];
	} else {
		if (w->n_entries == w->cap_entries) {
			size_t cap = w->cap_entries ? w->cap_entries * 2 : 256;
			struct entry *p = realloc(w->entries, cap * sizeof(*p));
			size_t *f = realloc(w->free_list, cap * sizeof(*f));
			if (p)
				w->entries = p;
			if (f)
				w->free_list = f;
			if (!p || !f)
				return -ENOMEM;
			w->cap_entries = cap;
		}
		i = w->n_entries++;
	}
	char *copy = malloc(len + 1);
	if (!copy) {
		w->entries[i].wd = -1;
		w->free_list[w->n_free++] = i;
		return -ENOMEM;
	}
	memcpy(copy, path, len);
	copy[len] = '\0';
	w->entries[i] = (struct entry){wd, copy, len};
	int filled = put_slot(w->by_wd, w->n_slots, hash_wd(wd), i + 1);
	filled |= put_slot(w->by_path, w->n_slots, hash_bytes(path, len), i + 1);
	w->n_filled += filled;
	w->n_live++;
	return 0;
}

static void table_remove(struct watch *w, size_t i)
{
	struct entry *e = &w->entries[i];
	size_t *s = find_wd(w, e->wd);
	if (s)
		*s = SLOT_DELETED;
	s = find_path(w, e->path, e->len);
	if (s)
		*s = SLOT_DELETED;
	free(e->path);
	e->path = NULL;
	e->wd = -1;
	w->free_list[w->n_free++] = i;
	w->n_live--;
}

/* Whether the directory at `path` lies on a filesystem fanotify marked. */
static int is_fan_covered(struct watch *w, const char *path, size_t len)
{
	if (w->fan_fd < 0)
		return 0;
	if (!w->st.n_fallback_fs)
		return 1;
	char *c = strndup(path, len);
	struct stat st;
	int is_covered = 0;
	if (c && lstat(c, &st) == 0)
		for (size_t k = 0; k < w->n_fss; k++)
			is_covered |= w->fss[k].dev == st.st_dev;
	free(c);
	return is_covered;
}

int watch_add(struct watch *w, const char *path, size_t len)
{
	if (is_fan_covered(w, path, len))
		return 0;
	pthread_mutex_lock(&w->lock);
	int rc = 0;
	if (find_path(w, path, len))
		goto out;
	rc = 1;
	if (w->n_live >= w->st.budget) {
		w->st.n_unwatched++;
		rc = -ENOSPC;
		goto out;
	}
	char buf[4096];
	const char *p = path;
	char *heap = NULL;
	if (len < sizeof(buf)) {
		memcpy(buf, path, len);
		buf[len] = '\0';
		p = buf;
	} else {
		/* inotify_add_watch takes a C string; longer than PATH_MAX fails below. */
		heap = strndup(path, len);
		if (!heap) {
			rc = -ENOMEM;
			goto out;
		}
		p = heap;
	}
	int wd = inotify_add_watch(w->fd, p, WATCH_MASK);
	free(heap);
	if (wd < 0) {
		rc = -errno;
		if (rc == -ENOSPC)
			w->st.n_unwatched++;
		goto out;
	}
	/* The same directory under another name (a rename the table has not seen) comes
	 * back with its old wd: the new name wins. */
	size_t *old = find_wd(w, wd);
	if (old)
		table_remove(w, *old - 1);
	if (table_insert(w, wd, path, len) < 0)
		rc = -ENOMEM;
	w->st.n_watches = w->n_live;
out:
	pthread_mutex_unlock(&w->lock);
	return rc;
}

static int is_at_or_under(const struct entry *e, const char *path, size_t len)
{
	if (e->len < len || memcmp(e->path, path, len) != 0)
		return 0;
	return e->len == len || e->path[len] == '/' || (len == 1 && path[0] == '/');
}

/* Drop the table's entries at and under `path`; the kernel's watches stay until the
 * directories go (IN_IGNORED) or are watched again under their new names. */
static void forget_locked(struct watch *w, const char *path, size_t len)
{
	for (size_t i = 0; i < w->n_entries; i++)
		if (w->entries[i].wd >= 0 && is_at_or_under(&w->entries[i], path, len)) {
			inotify_rm_watch(w->fd, w->entries[i].wd);
			table_remove(w, i);
		}
	w->st.n_watches = w->n_live;
}

void watch_forget(struct watch *w, const char *path, size_t len)
{
	pthread_mutex_lock(&w->lock);
	forget_locked(w, path, len);
	pthread_mutex_unlock(&w->lock);
}

/* Handle one event: report its directory dirty. The path is copied out of the table
 * under the lock and reported outside it, since the owner may call watch_add(). */
static void handle_event(struct watch *w, const struct inotify_event *ev, char **scratch,
			 size_t *scratch_cap)
{
	if (ev->mask & IN_Q_OVERFLOW) {
		pthread_mutex_lock(&w->lock);
		w->st.n_overflows++;
		pthread_mutex_unlock(&w->lock);
		w->cb.overflow(w->cb.ctx);
		return;
	}
	pthread_mutex_lock(&w->lock);
	w->st.n_events++;
	size_t *slot = find_wd(w, ev->wd);
	if (!slot) {
		pthread_mutex_unlock(&w->lock);
		return;
	}
	size_t i = *slot - 1;
	const struct entry *e = &w->entries[i];
	size_t len = e->len;
	if (*scratch_cap < len + 1) {
		char *p = realloc(*scratch, len + 1);
		if (!p) {
			pthread_mutex_unlock(&w->lock);
			w->cb.overflow(w->cb.ctx); /* cannot say which: say everything */
			return;
		}
		*scratch = p;
		*scratch_cap = len + 1;
	}
	if (len && *scratch)
		memcpy(*scratch, e->path, len);
	int is_self = ev->len == 0;
	if (ev->mask & IN_IGNORED) {
		table_remove(w, i);
		w->st.n_watches = w->n_live;
		pthread_mutex_unlock(&w->lock);
		return;
	}
	if ((ev->mask & (IN_MOVED_FROM | IN_DELETE)) && (ev->mask & IN_ISDIR) && !is_self) {
		/* A moved subdirectory's watches (its subtree's too) now name paths that
		 * are gone. A deleted one's subtree was emptied first, and each of those
		 * directories reported its own IN_IGNORED: only its own entry is left. */
		size_t name_len = strlen(ev->name);
		char *child = malloc(len + 1 + name_len);
		if (child) {
			memcpy(child, e->path, len);
			size_t k = len;
			if (!(len == 1 && e->path[0] == '/'))
				child[k++] = '/';
			memcpy(child + k, ev->name, name_len);
			if (ev->mask & IN_MOVED_FROM) {
				forget_locked(w, child, k + name_len);
			} else {
				size_t *c = find_path(w, child, k + name_len);
				if (c)
					table_remove(w, *c - 1);
				w->st.n_watches = w->n_live;
			}
			free(child);
		}
	}
	pthread_mutex_unlock(&w->lock);
	if (is_self && (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF))) {
		/* Its parent reports the change too; nothing to read here. */
		return;
	}
	if (!is_self && (ev->mask & IN_ATTRIB))
		return; /* a file's mode or times: not indexed */
	w->cb.dirty(w->cb.ctx, *scratch, len);
}

/* ---- fanotify ---- */

static int is_under_root(struct watch *w, const char *path, size_t len)
{
	for (size_t k = 0; k < w->n_roots; k++) {
		size_t rl = strlen(w->roots[k]);
		if (len >= rl && memcmp(path, w->roots[k], rl) == 0 &&
		    (len == rl || path[rl] == '/' || rl == 1))
			return 1;
	}
	return 0;
}

static void fan_cache_clear(struct watch *w)
{
	for (size_t k = 0; k < FAN_CACHE_SLOTS; k++) {
		free(w->cache[k].path);
		w->cache[k].path = NULL;
		w->cache[k].handle_len = 0;
	}
}

/* The path of the directory with handle `fh` on the filesystem `fsid`, into *out (a
 * reference into the cache, valid until the next call). Returns 0 or -errno. */
static int fan_resolve(struct watch *w, const fsid_t *fsid, struct file_handle *fh,
		       const char **out, size_t *out_len)
{
	size_t hl = sizeof(*fh) + fh->handle_bytes;
	unsigned char key[sizeof(w->cache[0].handle)];
	size_t kl = sizeof(*fsid) + hl;
	if (kl > sizeof(key))
		return -EINVAL;
	memcpy(key, fsid, sizeof(*fsid));
	memcpy(key + sizeof(*fsid), fh, hl);
	struct fan_cached *c = &w->cache[hash_bytes((const char *)key, kl) % FAN_CACHE_SLOTS];
	if (c->handle_len == kl && memcmp(c->handle, key, kl) == 0) {
		*out = c->path;
		*out_len = c->len;
		return 0;
	}
	int mount_fd = -1;
	for (size_t k = 0; k < w->n_fss; k++)
		if (memcmp(&w->fss[k].fsid, fsid, sizeof(*fsid)) == 0)
			mount_fd = w->fss[k].mount_fd;
	if (mount_fd < 0)
		return -ENOENT;
	int fd = open_by_handle_at(mount_fd, fh, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno; /* ESTALE: the directory is gone; its parent says so */
	char link[64], buf[4096];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, buf, sizeof(buf));
	close(fd);
	if (n <= 0 || (size_t)n >= sizeof(buf) || buf[0] != '/')
		return -ENAMETOOLONG;
	char *p = malloc((size_t)n + 1);
	if (!p)
		return -ENOMEM;
	memcpy(p, buf, (size_t)n);
	p[n] = '\0';
	free(c->path);
	memcpy(c->handle, key, kl);
	c->handle_len = kl;
	c->path = p;
	c->len = (size_t)n;
	*out = p;
	*out_len = (size_t)n;
	return 0;
}

/* Report the directory one event names, or for a directory's own attributes, that
 * directory. `scratch` holds a joined path between calls. */
static void fan_report(struct watch *w, uint64_t mask, const struct fanotify_event_info_fid *fid,
		       size_t rec_len, char **scratch)
{
	struct file_handle *fh = (struct file_handle *)(void *)fid->handle;
	size_t head = sizeof(*fid) + sizeof(*fh);
	if (fh->handle_bytes > rec_len - head)
		return;
	const char *name = (const char *)fh->f_handle + fh->handle_bytes;
	const char *dir = NULL;
	size_t dir_len = 0;
	if (fan_resolve(w, (const fsid_t *)(const void *)&fid->fsid, fh, &dir, &dir_len) < 0)
		return;
	if (!dir)
		return;
	size_t name_len = strlen(name);
	int is_self = name_len == 1 && name[0] == '.';
	if ((mask & FAN_ATTRIB) && !is_self) {
		if (!(mask & FAN_ONDIR))
			return; /* a file's mode or times: not indexed */
		/* A directory's own mode and owner are kept in its own entry. */
		char *joined = realloc(*scratch, dir_len + 2 + name_len);
		if (!joined)
			return;
		*scratch = joined;
		memcpy(joined, dir, dir_len);
		size_t k = dir_len;
		if (dir_len != 1)
			joined[k++] = '/';
		memcpy(joined + k, name, name_len + 1); /* with its NUL */
		dir = joined;
		dir_len = k + name_len;
	}
	if (is_under_root(w, dir, dir_len))
		w->cb.dirty(w->cb.ctx, dir, dir_len);
}

/* Events are packed back to back with names of any length, so a record may sit at any
 * alignment: each is copied into aligned storage before its fields are read. */
static void fan_handle_events(struct watch *w, const char *buf, size_t n)
{
	char *scratch = NULL;
	size_t at = 0;
	while (n - at >= sizeof(struct fanotify_event_metadata)) {
		struct fanotify_event_metadata m;
		memcpy(&m, buf + at, sizeof(m));
		if (m.event_len < sizeof(m) || m.event_len > n - at)
			break;
		const char *ev = buf + at;
		at += m.event_len;
		if (m.vers != FANOTIFY_METADATA_VERSION)
			continue;
		if (m.mask & FAN_Q_OVERFLOW) {
			pthread_mutex_lock(&w->lock);
			w->st.n_overflows++;
			pthread_mutex_unlock(&w->lock);
			w->cb.overflow(w->cb.ctx);
			continue;
		}
		pthread_mutex_lock(&w->lock);
		w->st.n_events++;
		pthread_mutex_unlock(&w->lock);
		if ((m.mask & FAN_MOVED_FROM) && (m.mask & FAN_ONDIR))
			fan_cache_clear(w); /* cached paths below it are stale now */
		size_t off = m.metadata_len;
		while (off + sizeof(struct fanotify_event_info_header) <= m.event_len) {
			struct fanotify_event_info_header h;
			memcpy(&h, ev + off, sizeof(h));
			if (h.len < sizeof(h) || h.len > m.event_len - off)
				break;
			if (h.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME &&
			    h.len >= sizeof(struct fanotify_event_info_fid) +
					 sizeof(struct file_handle) &&
			    h.len <= FAN_RECORD_MAX_BYTES) {
				_Alignas(8) unsigned char rec[FAN_RECORD_MAX_BYTES + 1];
				memcpy(rec, ev + off, h.len);
				rec[h.len] = '\0'; /* the name ends inside the record; make sure */
				fan_report(w, m.mask,
					   (const struct fanotify_event_info_fid *)(void *)rec,
					   h.len, &scratch);
			}
			off += h.len;
		}
	}
	free(scratch);
}

/* Mark the filesystem of `dir` (once per filesystem). Returns 0 or -errno. */
static int fan_mark(struct watch *w, const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct statfs sfs;
	struct stat st;
	if (fstatfs(fd, &sfs) != 0 || fstat(fd, &st) != 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	for (size_t k = 0; k < w->n_fss; k++)
		if (w->fss[k].dev == st.st_dev) {
			close(fd);
			return 0;
		}
	if (fanotify_mark(w->fan_fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_WATCH_MASK, fd,
			  NULL) != 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	struct fan_fs *p = realloc(w->fss, (w->n_fss + 1) * sizeof(*p));
	if (!p) {
		close(fd);
		return -ENOMEM;
	}
	w->fss = p;
	w->fss[w->n_fss++] = (struct fan_fs){.fsid = sfs.f_fsid, .dev = st.st_dev, .mount_fd = fd};
	return 0;
}

static int is_pseudo_fs(const char *type)
{
	for (const char *const *t = walk_default_prune_fs; *t; t++)
		if (strcmp(*t, type) == 0)
			return 1;
	return 0;
}

/* Mark the roots' filesystems and those mounted below them. A filesystem that refuses
 * (no file handles, a btrfs subvolume) is counted: its directories get inotify. */
static void fan_mark_all(struct watch *w)
{
	for (size_t k = 0; k < w->n_roots; k++)
		if (fan_mark(w, w->roots[k]) < 0)
			w->st.n_fallback_fs++;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return;
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		/* id parent major:minor root mountpoint options... - type source ... */
		char mp[4096], type[256];
		const char *sep = strstr(line, " - ");
		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 ||
		    sscanf(sep + 3, "%255s", type) != 1 || is_pseudo_fs(type))
			continue;
		/* Mount points escape spaces and the like as octal; such names are rare
		 * enough to leave to inotify. */
		if (strchr(mp, '\\') || !is_under_root(w, mp, strlen(mp)))
			continue;
		if (fan_mark(w, mp) < 0)
			w->st.n_fallback_fs++;
	}
	free(line);
	fclose(f);
}

static void release_fan(struct watch *w)
{
	if (w->fan_fd >= 0)
		close(w->fan_fd);
	w->fan_fd = -1;
	for (size_t k = 0; k < w->n_fss; k++)
		close(w->fss[k].mount_fd);
	free(w->fss);
	w->fss = NULL;
	w->n_fss = 0;
	fan_cache_clear(w);
	for (size_t k = 0; k < w->n_roots; k++)
		free(w->roots[k]);
	free(w->roots);
	w->roots = NULL;
	w->n_roots = 0;
}

static void *watch_main(void *arg)
{
	struct watch *w = arg;
	char *buf = malloc(WATCH_READ_BYTES);
	char *scratch = NULL;
	size_t scratch_cap = 0;
	if (!buf)
		return NULL;
	struct pollfd fds[3] = {{.fd = w->fd, .events = POLLIN},
				{.fd = w->stop_fd, .events = POLLIN},
				{.fd = w->fan_fd, .events = POLLIN}};
	for (;;) {
		if (poll(fds, w->fan_fd >= 0 ? 3 : 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fds[1].revents)
			break;
		if (w->fan_fd >= 0 && fds[2].revents) {
			ssize_t n = read(w->fan_fd, buf, WATCH_READ_BYTES);
			if (n > 0)
				fan_handle_events(w, buf, (size_t)n);
			else if (n < 0 && errno != EAGAIN && errno != EINTR)
				w->cb.overflow(w->cb.ctx);
		}
		if (!fds[0].revents)
			continue;
		ssize_t n = read(w->fd, buf, WATCH_READ_BYTES);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			w->cb.overflow(w->cb.ctx);
			break;
		}
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
			handle_event(w, ev, &scratch, &scratch_cap);
			p += sizeof(*ev) + ev->len;
		}
	}
	free(scratch);
	free(buf);
	return NULL;
}

static uint64_t read_max_user_watches(void)
{
	FILE *f = fopen("/proc/sys/fs/inotify/max_user_watches", "re");
	unsigned long long v = 8192;
	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 8192;
		fclose(f);
	}
	return v;
}

int watch_start(const struct watch_options *opts, const struct watch_callbacks *cb,
		struct watch **out)
{
	*out = NULL;
	struct watch *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->cb = *cb;
	w->stop_fd = -1;
	w->fan_fd = -1;
	pthread_mutex_init(&w->lock, NULL);
	int rc;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		rc = -errno;
		goto err;
	}
	w->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (w->stop_fd < 0) {
		rc = -errno;
		goto err;
	}
	unsigned share = opts->share_percent ? opts->share_percent : WATCH_DEFAULT_SHARE_PERCENT;
	w->st.backend = WATCH_INOTIFY;
	w->st.budget = read_max_user_watches() * share / 100;
	for (const char *const *r = opts->roots; r && *r; r++) {
		char **p = realloc(w->roots, (w->n_roots + 1) * sizeof(*p));
		if (!p) {
			rc = -ENOMEM;
			goto err;
		}
		w->roots = p;
		if (!(w->roots[w->n_roots] = strdup(*r))) {
			rc = -ENOMEM;
			goto err;
		}
		w->n_roots++;
	}
	if (opts->backend == WATCH_NONE || opts->backend == WATCH_FANOTIFY) {
		w->fan_fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK |
					      FAN_REPORT_DFID_NAME,
					  O_RDONLY | O_CLOEXEC);
		if (w->fan_fd < 0 && opts->backend == WATCH_FANOTIFY) {
			rc = -errno;
			goto err;
		}
		if (w->fan_fd >= 0) {
			w->st.backend = WATCH_FANOTIFY;
			fan_mark_all(w);
			if (!w->n_fss) {
				/* Not one filesystem took a mark: inotify does it all. */
				close(w->fan_fd);
				w->fan_fd = -1;
				w->st.backend = WATCH_INOTIFY;
				if (opts->backend == WATCH_FANOTIFY) {
					rc = -ENOTSUP;
					goto err;
				}
			}
		}
	}
	rc = rehash(w);
	if (rc < 0)
		goto err;
	rc = -pthread_create(&w->thread, NULL, watch_main, w);
	if (rc < 0)
		goto err;
	*out = w;
	return 0;
err:
	release_fan(w);
	if (w->fd >= 0)
		close(w->fd);
	if (w->stop_fd >= 0)
		close(w->stop_fd);
	free(w->by_wd);
	free(w->by_path);
	pthread_mutex_destroy(&w->lock);
	free(w);
	return rc;
}

void watch_stats(struct watch *w, struct watch_stats *st)
{
	pthread_mutex_lock(&w->lock);
	*st = w->st;
	pthread_mutex_unlock(&w->lock);
}

void watch_stop(struct watch *w)
{
	if (!w)
		return;
	uint64_t one = 1;
	if (write(w->stop_fd, &one, sizeof(one)) == sizeof(one))
		pthread_join(w->thread, NULL);
	else
		pthread_cancel(w->thread);
	release_fan(w);
	close(w->fd);
	close(w->stop_fd);
	for (size_t i = 0; i < w->n_entries; i++)
		free(w->entries[i].path);
	free(w->entries);
	free(w->free_list);
	free(w->by_wd);
	free(w->by_path);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

const char *watch_backend_name(enum watch_backend b)
{
	return b == WATCH_INOTIFY ? "inotify" : b == WATCH_FANOTIFY ? "fanotify" : "none";
}
