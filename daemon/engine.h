/* engine.h: the daemon's index and everything that changes it: the snapshot loaded at
 * start, walks and rescans on a thread of their own, saves, and the picks that feed
 * frecency. The server only reads through engine_acquire(). */
#ifndef TRAWL_ENGINE_H
#define TRAWL_ENGINE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "trawl_index.h"
#include "walk.h"

struct engine_config {
	const char *const *roots; /* NULL-ended absolute directories */
	int is_cross_fs;	  /* enter other filesystems below the roots */
	struct walk_prune prune;
	const char *from_list;	      /* index this list file instead of walking (or NULL) */
	const char *state_dir;	      /* snapshot and picks live here; created 0700 */
	int is_uring_disabled;	      /* walk with the plain backend */
	unsigned threads;	      /* walker and rebuild threads (0: 2) */
	unsigned rescan_interval_s;   /* incremental rescan period (0: only on request) */
	int watch_backend;	      /* enum watch_backend, or WATCH_OFF */
	unsigned watch_share_percent; /* of max_user_watches (0: the default) */
	int is_system; /* serving every user: the roots' ancestors get their modes too */
};

/** A reference to the index as it is now; it stays valid until engine_release(). */
struct engine_ref {
	_Atomic long refs;
	struct trawl_index *ix;
};

struct engine;

/**
 * Start: load the snapshot for these roots from the state directory when there is a
 * usable one (a bad one is logged and ignored), then start the walk thread, which walks
 * (or rescans incrementally, after a snapshot) at once. Returns 0 or -errno; errors
 * are logged on stderr.
 */
int engine_start(const struct engine_config *cfg, struct engine **out);

/** Stop the walk thread, save the snapshot and the picks when they changed, free. */
void engine_stop(struct engine *e);

/** The current index, referenced; never NULL. */
struct engine_ref *engine_acquire(struct engine *e);
void engine_release(struct engine_ref *r);

/** Ask for a rescan (incremental unless is_full); merged into one already asked for. */
void engine_request_rescan(struct engine *e, int is_full);

/** A new object with the daemon's status fields (PROTOCOL.md, op status). */
json_t *engine_status(struct engine *e);

/** The directories the index holds only as ancestors of the roots (for a root /home/me:
 * / and /home), which answers leave out. Returns their number; *paths is NULL-ended. */
size_t engine_hidden(struct engine *e, const char *const **paths);

/** Record that the user picked `path`. Returns 0 or -errno (saving the picks). */
int engine_pick(struct engine *e, const char *path, size_t len);

/** How many paths have been picked (and not forgotten): with none, frecency changes
 * nothing, and a query need not look past its limit for it. Thread-safe. */
size_t engine_pick_count(struct engine *e);

/** The frecency bonus of `path` (0 when never picked). Thread-safe. */
int32_t engine_frecency_bonus(struct engine *e, const char *path, size_t len);

#endif
