/* walk_internal.h: what the walker's own files share and nobody else sees: its tunables,
 * the batched I/O backends (walk_io.c) and the prune tables (walk_prune.c). */
#ifndef TRAWL_WALK_INTERNAL_H
#define TRAWL_WALK_INTERNAL_H

#include <fcntl.h>
#include <linux/openat2.h>
#include <liburing.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "walk.h"

/* Directories one worker opens, stats and reads per round. One io_uring_enter() then
 * carries 32 opens (and 32 closes of the previous round), which amortises the syscall;
 * it is also the bound on the directory fds a worker holds at once. */
#define WALK_BATCH_DIRS 32

/* Submission queue entries per worker ring. A round needs at most 2 per directory in
 * flight (an open or a stat, and the close of the previous round's fd): 64; 128 leaves
 * room for DT_UNKNOWN stats and keeps the ring's locked memory a few KiB, which fits
 * the default RLIMIT_MEMLOCK of kernels before 5.12. */
#define WALK_URING_ENTRIES 128

/* getdents64 buffer per worker. glibc's readdir uses 32 KiB; a larger buffer halves the
 * syscalls on huge directories (~3000 entries a call here). */
#define WALK_GETDENTS_BYTES ((size_t)128 * 1024)

/* Listings waiting for the consumer, in bytes. Workers block past this (backpressure),
 * so a slow consumer bounds the walk's memory instead of the tree's size. */
#define WALK_QUEUE_MAX_BYTES (8u << 20)

/* A directory becomes an anchor (its fd stays open so its descendants are opened
 * relative to it) when it lies this many components or bytes below the previous anchor.
 * Bounds the kernel's path lookup per open and keeps every open path under PATH_MAX;
 * ordinary trees (depth < 64, paths < 1 KiB) never anchor below their root. */
#define WALK_ANCHOR_DEPTH 64
#define WALK_ANCHOR_BYTES 1024

/* Anchors held at once at most (roots included), and never more than a quarter of
 * RLIMIT_NOFILE: the daemon's sockets and watches need the rest. Past it, paths grow
 * from the last anchor and the rare one beyond PATH_MAX is opened in hops. */
#define WALK_MAX_ANCHORS 1024

/* A directory whose ctime is this close to the time it was read may change again within
 * the same timestamp tick (coarse clocks; FAT's 2 s) without its times moving: its ctime
 * is reported as WALK_CTIME_RACY so that the next incremental walk reads it again. */
#define WALK_RACY_NS (2 * 1000000000LL)

/* An incremental walk stats the directories of a batch on the reader thread itself:
 * io_uring hands every STATX to a kernel worker thread, a context switch per directory
 * that cost more than a stat from a warm cache. A stat that waits for the disk holds its
 * thread, though, where the ring keeps many in flight: a batch whose stats put the thread
 * to sleep this many times (a cold cache: a catch-up rescan after boot) sends the
 * worker's next WALK_RING_STAT_BATCHES batches through the ring, then it tries again. */
#define WALK_SYNC_STAT_MAX_SLEEPS 2
#define WALK_RING_STAT_BATCHES	  16

/* An incremental walk opens an unchanged directory (O_PATH) as an anchor when it has at
 * least this many known subdirectories: one open spares each of them a path walk from
 * the root's anchor. Most directories have none or one, where the open costs more. */
#define WALK_STAT_ANCHOR_MIN_SUBDIRS 2

enum walk_io_op {
	WALK_IO_OPEN = 1, /* openat2(dfd, path, &how) */
	WALK_IO_STAT,	  /* statx(dfd, path) without following a last symlink; "" stats dfd */
	WALK_IO_CLOSE,	  /* close(dfd) */
};

/** One operation of a batch, and its result. */
struct walk_io_req {
	int op;
	int dfd;
	const char *path;
	struct open_how how;
	struct statx *stx; /* WALK_IO_STAT: filled when res is 0 */
	int res;	   /* OPEN: the new fd; STAT, CLOSE: 0; or -errno */
};

/** A worker's I/O backend: an io_uring, or plain syscalls. */
struct walk_io {
	int is_uring;
	struct io_uring ring;
};

/**
 * Set up `io`: a ring when `is_uring`, plain syscalls otherwise. Returns 0, or -errno
 * when the ring cannot be set up or lacks an operation the walker needs (then `io` is
 * unusable and the caller falls back to plain syscalls).
 */
int walk_io_init(struct walk_io *io, int is_uring);

/** Tear down the ring, if any. */
void walk_io_release(struct walk_io *io);

/** Run every request of `reqs` and fill in its `res`. Never fails as a whole: a ring
 * that breaks mid-batch is torn down and the rest runs as plain syscalls. */
void walk_io_run(struct walk_io *io, struct walk_io_req *reqs, size_t n);

/** Run every request of `reqs` as plain syscalls on this thread, whatever the backend. */
void walk_io_run_here(struct walk_io_req *reqs, size_t n);

/** openat2() with `how`, and openat() where the kernel lacks openat2. Returns the fd or
 * -errno. */
int walk_io_open(int dfd, const char *path, const struct open_how *how);

/** The statx() flags and mask the walker uses for `path` ("" stats `dfd` itself). */
int walk_io_statx_flags(const char *path);
#define WALK_STATX_MASK \
	(STATX_TYPE | STATX_MODE | STATX_UID | STATX_GID | STATX_MTIME | STATX_CTIME)

/** What walk_run() prunes, built from walk_prune and the mount table. */
struct walk_prune_table {
	char **paths; /* a hash set (open addressing) of directories never entered */
	size_t paths_cap, n_paths;
	uint64_t *devs; /* devices (makedev) of mounts whose filesystem type is pruned */
	size_t n_devs;
	const char *const *names; /* borrowed from the options */
};

/**
 * Build `t` from `prune` and the mount table at `mountinfo_path` (normally
 * /proc/self/mountinfo; an unreadable one prunes by the options alone). Returns 0 or
 * -ENOMEM.
 */
int walk_prune_table_init(struct walk_prune_table *t, const struct walk_prune *prune,
			  const char *mountinfo_path);

/** Free what walk_prune_table_init() allocated. */
void walk_prune_table_release(struct walk_prune_table *t);

/** 1 when the directory at `path` (absolute, `len` bytes) must not be entered. */
int walk_prune_table_has_path(const struct walk_prune_table *t, const char *path, size_t len);

/** 1 when a directory named `name` must not be entered. */
int walk_prune_table_has_name(const struct walk_prune_table *t, const char *name, size_t len);

/** 1 when directories on device `dev` (a pruned filesystem type) must not be entered. */
int walk_prune_table_has_dev(const struct walk_prune_table *t, uint64_t dev);

#endif
