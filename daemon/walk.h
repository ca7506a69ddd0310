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
	const char *name;
	uint32_t name_len;
	uint8_t kind; /* TRAWL_KIND_FILE, _DIR or _LINK (anything not a dir or link is a file) */
};

/** A directory reached by the walk. */
struct walk_dir {
	const char *path; /* absolute, no trailing '/' except for "/" itself */
	size_t path_len;
	struct trawl_dir_meta meta;
	/* Incremental walks: set when the directory's mtime and ctime equal the ones the
	 * caller knew (walk_callbacks.lookup); it was not read and `children` is empty. */
	int is_unchanged;
	/* The entries read, pruned ones left out; valid during the callback only. */
	const struct walk_child *children;
	size_t n_children;
};

struct walk_callbacks {
	void *ctx;
	/**
	 * Called once for every directory reached, roots included, and never concurrently
	 * with itself or the other callbacks (the walker serialises them on the thread that
	 * called walk_run()). Parents come before their children. A non-zero return stops
	 * the walk, and walk_run() returns it.
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
	 * it. Returns 0 or -errno. Called like `lookup`.
	 */
	int (*subdirs)(void *ctx, const char *path, size_t len,
		       int (*emit)(void *arg, const char *name, size_t len), void *arg);
};

/** What to prune, as updatedb.conf's PRUNEFS, PRUNEPATHS, PRUNENAMES, PRUNE_BIND_MOUNTS. */
struct walk_prune {
	const char *const *fs_types; /* filesystem types never entered, e.g. "proc"; NULL-ended */
	const char *const *paths;    /* absolute directories never entered; NULL-ended */
	const char *const *names;    /* directory names never entered, e.g. ".git"; NULL-ended */
	int is_bind_mounts_pruned;   /* skip bind mounts (mounts of a subtree of another) */
};

/** Defaults for struct walk_prune: pseudo and network filesystem types as updatedb
 * prunes them. NULL-ended. */
extern const char *const walk_default_prune_fs[];

struct walk_options {
	const char *const *roots; /* absolute directories; NULL-ended */
	struct walk_prune prune;
	int is_cross_fs;	  /* enter other filesystems below a root (default: stay on it) */
	int is_uring_disabled;	  /* use the plain walker even where io_uring works */
	int is_incremental;	  /* use callbacks.lookup/subdirs to skip unchanged dirs */
	unsigned threads;	  /* reader threads (0: 2) */
	const _Atomic int *stop; /* when non-NULL and set, the walk ends early with -ECANCELED */
};

/** Counters, updated while walking; read them at any time from any thread. */
struct walk_stats {
	_Atomic uint64_t dirs_read;	 /* directories whose entries were read */
	_Atomic uint64_t dirs_unchanged; /* incremental: directories found unchanged */
	_Atomic uint64_t entries;	 /* entries reported in listings */
	_Atomic uint64_t vanished;	 /* directories gone before they could be read */
	_Atomic uint64_t denied;	 /* directories that refused to be read (EACCES/EPERM) */
	_Atomic uint64_t errors;	 /* other errors (EIO, ELOOP, ENAMETOOLONG...) */
	_Atomic uint64_t pruned;	 /* directories skipped by the prune rules */
	_Atomic int is_uring;		 /* set while the io_uring backend is in use */
};

/**
 * Walk the roots. Blocks until the walk is complete. Each root that is not a directory
 * (or is missing) is counted in `stats` and skipped. Never follows symlinks. Returns 0,
 * -ECANCELED when `opts->stop` was set, -ENOMEM, or what a callback returned.
 */
int walk_run(const struct walk_options *opts, const struct walk_callbacks *cb,
	     struct walk_stats *stats);

/**
 * Parse an updatedb.conf-style file (PRUNEFS="...", PRUNEPATHS="...", PRUNENAMES="...",
 * PRUNE_BIND_MOUNTS="yes|no") into `prune`, allocating the lists; release them with
 * walk_prune_release(). Returns 0, -ENOENT, -EINVAL (with the 1-based line number in
 * *bad_line), -ENOMEM.
 */
int walk_prune_parse(const char *text, size_t len, struct walk_prune *prune, int *bad_line);

/** Free the lists walk_prune_parse() allocated and zero `prune`. */
void walk_prune_release(struct walk_prune *prune);

#endif
