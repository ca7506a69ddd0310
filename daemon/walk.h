/* walk.h: the filesystem walker: reads directories under a set of roots with io_uring
 * (OPENAT/STATX/CLOSE batched, getdents64 on worker threads) or a plain threaded
 * fallback, prunes as updatedb does, and hands each directory's listing to its caller. */
#ifndef TRAWL_WALK_H
#define TRAWL_WALK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "trawl_index.h"

/** One entry inside a directory that was read. */
struct walk_child {
	const char *name; /* NUL-terminated; any bytes but '/' (need not be UTF-8) */
	uint32_t name_len;
	uint8_t kind; /* TRAWL_KIND_FILE, _DIR or _LINK (anything not a dir or link is a file) */
};

/* meta.ctime_ns of a directory that changed so shortly before it was read (within
 * WALK_RACY_NS, walk_internal.h: 2 s) that it may change again without its times moving
 * (timestamps are coarse): no real ctime equals it, so the next incremental walk reads
 * the directory again. */
#define WALK_CTIME_RACY (-1)

/** A directory reached by the walk. */
struct walk_dir {
	/* Absolute, as the root was given (its symlinks above the root kept), no trailing
	 * '/' except for "/" itself; may exceed PATH_MAX. NUL-terminated. */
	const char *path;
	size_t path_len;
	struct trawl_dir_meta meta; /* stat'ed before the read; see WALK_CTIME_RACY */
	/* Incremental walks: set when the directory's mtime and ctime equal the ones the
	 * caller knew (walk_callbacks.lookup); it was not read and `children` is empty. */
	int is_unchanged;
	/* Every entry read, in getdents order, "." and ".." left out; valid during the
	 * callback only. A subdirectory the walk will not enter (pruned, another
	 * filesystem, unreadable) is still listed here: it exists, it is only not read. */
	const struct walk_child *children;
	size_t n_children;
};

struct walk_callbacks {
	void *ctx;
	/**
	 * Called once for every directory reached, roots included, and never concurrently
	 * with itself or the other callbacks (the walker serialises them on the thread that
	 * called walk_run()). Parents come before their children; nothing else about the
	 * order is promised. A non-zero return stops the walk, and walk_run() returns it.
	 * Directories not entered (pruned, vanished, unreadable) get no call.
	 */
	int (*dir)(void *ctx, const struct walk_dir *d);
	/**
	 * Incremental walks only (may be NULL for a full walk): fill `*meta` with what the
	 * caller knew of the directory at `path` and return 0, or return -ENOENT when it
	 * did not know it. Called from the walker's own threads, concurrently; must be
	 * thread-safe.
	 */
	int (*lookup)(void *ctx, const char *path, size_t len, struct trawl_dir_meta *meta);
	/**
	 * Incremental walks only: for a directory found unchanged, call `emit` with the
	 * name of each subdirectory the caller knew inside it, so the walk goes on below
	 * it (prune rules apply to them as to names read), what it knew of it (as
	 * `lookup` would fill it; NULL: ask `lookup`), and a hint (may be NULL) that the
	 * walker keeps and passes back as `hint` when it asks for that subdirectory's own
	 * subdirectories (the caller's to verify: the tree may have changed meanwhile).
	 * `hint` is NULL for a directory that came with none. `emit` returns 0 or -ENOMEM;
	 * names that cannot be names ("", ".", "..", with '/') are counted in `errors` and
	 * ignored. Returns 0 or -errno; a non-zero return stops the walk, and walk_run()
	 * returns it. Called like `lookup`.
	 */
	int (*subdirs)(void *ctx, const char *path, size_t len, const struct trawl_dir_hint *hint,
		       int (*emit)(void *arg, const char *name, size_t len,
				   const struct trawl_dir_meta *known,
				   const struct trawl_dir_hint *hint),
		       void *arg);
};

/**
 * What to prune, as updatedb.conf's PRUNEFS, PRUNEPATHS, PRUNENAMES, PRUNE_BIND_MOUNTS.
 * The rules apply below the roots, never to a root itself: a root given explicitly is
 * walked even when it is on a pruned filesystem type (say /tmp on tmpfs) or listed in
 * `paths`. A pruned directory is still a child entry of its parent; it is not entered,
 * gets no walk_dir, and is counted in walk_stats.pruned. Filesystem types are matched
 * case-insensitively against /proc/self/mountinfo, both by mount point and by device;
 * a bind mount is a mount whose device another mount shows from a directory above its
 * root (mlocate's rule, which spares btrfs subvolumes and container volumes).
 */
struct walk_prune {
	const char *const *fs_types; /* filesystem types never entered, e.g. "proc"; NULL-ended */
	const char *const *paths;    /* absolute directories never entered; NULL-ended */
	const char *const *names;    /* directory names never entered, e.g. ".git"; NULL-ended */
	int is_bind_mounts_pruned;   /* skip bind mounts (mounts of a subtree of another) */
};

/** Defaults for struct walk_prune: pseudo and network filesystem types as updatedb
 * prunes them (Debian's list, tmpfs included: /run, /dev/shm), plus bpf, efivarfs, nsfs,
 * selinuxfs. NULL-ended. */
extern const char *const walk_default_prune_fs[];

/* Reader threads by default. On a cold cache reading a directory is mostly waiting for
 * the disk, and more reads in flight finish sooner whatever the cores: a cold walk of
 * this machine's / took 2.8-4.0 s with 2 readers, 1.7-2.1 s with 8 (fd: 2.2-2.4 s). Warm,
 * 2, 4 and 8 readers all took 0.4-0.7 s, within the noise of one another. */
#define WALK_DEFAULT_THREADS 8

struct walk_options {
	const char *const *roots; /* absolute directories; NULL-ended */
	struct walk_prune prune;
	int is_cross_fs;	 /* enter other filesystems below a root (default: stay on it,
				    by device id; a mount point not entered counts as pruned) */
	int is_uring_disabled;	 /* use the plain walker even where io_uring works */
	int is_incremental;	 /* use callbacks.lookup/subdirs to skip unchanged dirs */
	unsigned threads;	 /* reader threads (0: WALK_DEFAULT_THREADS) */
	const _Atomic int *stop; /* when non-NULL and set, the walk ends early with -ECANCELED */
};

/** Counters, zeroed by walk_run() and updated while walking; read them at any time from
 * any thread. A directory not entered counts once, in vanished, denied, errors or
 * pruned. */
struct walk_stats {
	_Atomic uint64_t dirs_read;	 /* directories whose entries were read */
	_Atomic uint64_t dirs_unchanged; /* incremental: directories found unchanged */
	_Atomic uint64_t entries;	 /* entries reported in listings */
	_Atomic uint64_t vanished;	 /* directories gone before they could be read */
	_Atomic uint64_t denied;	 /* directories that refused to be read (EACCES/EPERM) */
	_Atomic uint64_t errors;	 /* other errors (EIO, ELOOP, ENAMETOOLONG...) */
	_Atomic uint64_t pruned;	 /* not entered: prune rules, another filesystem */
	_Atomic int is_uring;		 /* set when (and while) the io_uring backend runs */
};

/**
 * Walk the roots. Blocks until the walk is complete. Each root that is missing or not a
 * directory (a symlink, even to a directory, is not one) is counted in `stats.vanished`
 * and skipped.
 * Never follows symlinks below a root: a symlink is a TRAWL_KIND_LINK child and never
 * entered. Directories that vanish (ENOENT, ENOTDIR) or deny access (EACCES, EPERM)
 * are counted and skipped; other failures count in `errors`; none stops the walk.
 * Holds a bounded number of fds (workers x WALK_BATCH_DIRS, plus anchors: at most
 * WALK_MAX_ANCHORS and a quarter of RLIMIT_NOFILE), whatever the size of the tree.
 * Returns 0, -EINVAL (no roots array, a relative root, an incremental walk without
 * lookup/subdirs), -ECANCELED when `opts->stop` was set, -ENOMEM, or what a callback
 * returned.
 */
int walk_run(const struct walk_options *opts, const struct walk_callbacks *cb,
	     struct walk_stats *stats);

/**
 * Parse an updatedb.conf-style text (PRUNEFS="...", PRUNEPATHS="...", PRUNENAMES="...",
 * PRUNE_BIND_MOUNTS="yes|no") into `prune`, allocating the lists; release them with
 * walk_prune_release(). Values are double-quoted and split on blanks; lines that are
 * blank or start with '#' are ignored, and so is a '#' comment after a value; a key
 * given twice keeps its last value; a key not given leaves its list NULL (nothing
 * pruned: the defaults are the caller's choice). PRUNEPATHS lose trailing slashes.
 * Returns 0; -EINVAL for an unknown key or a malformed line, with its 1-based number in
 * *bad_line (may be NULL) and `prune` zeroed; -ENOMEM.
 */
int walk_prune_parse(const char *text, size_t len, struct walk_prune *prune, int *bad_line);

/** Free the lists walk_prune_parse() allocated and zero `prune`. Only for a `prune`
 * filled by walk_prune_parse(). */
void walk_prune_release(struct walk_prune *prune);

#endif
