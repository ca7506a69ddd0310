/* watch.h: change notification. Tells its owner which directories changed (their
 * listings must be read again) and when events were lost (everything must be rescanned);
 * it never interprets events as edits itself, so what the index holds always comes from
 * reading the directory after its last event. */
#ifndef TRAWL_WATCH_H
#define TRAWL_WATCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Share of fs.inotify.max_user_watches one daemon may take, in percent: the rest is left
 * to editors, build tools and other users of the same uid. */
#define WATCH_DEFAULT_SHARE_PERCENT 50

enum watch_backend { WATCH_NONE = 0, WATCH_INOTIFY, WATCH_FANOTIFY, WATCH_OFF };

struct watch_callbacks {
	void *ctx;
	/** The listing of directory `path` may have changed. Called from the watch thread. */
	void (*dirty)(void *ctx, const char *path, size_t len);
	/** Events were lost: every directory may have changed. Called from the watch thread. */
	void (*overflow)(void *ctx);
};

struct watch_options {
	enum watch_backend backend; /* WATCH_NONE: fanotify when allowed, else inotify */
	unsigned share_percent;	    /* of max_user_watches (0: WATCH_DEFAULT_SHARE_PERCENT) */
	const char *const *roots;   /* fanotify marks the filesystems of these; NULL-ended */
};

struct watch_stats {
	enum watch_backend backend;
	uint64_t n_watches;	/* inotify watches held */
	uint64_t budget;	/* inotify watches allowed */
	uint64_t n_unwatched;	/* directories refused a watch for the budget */
	uint64_t n_events;	/* events read */
	uint64_t n_overflows;	/* queue overflows */
	uint64_t n_fallback_fs; /* fanotify: filesystems that refused a mark (inotify there) */
};

struct watch;

/** Start watching (a thread of its own). Returns 0 or -errno (e.g. -EMFILE when no inotify
 * instance is left). */
int watch_start(const struct watch_options *opts, const struct watch_callbacks *cb,
		struct watch **out);

/**
 * Make sure directory `path` is watched. With fanotify this is a no-op for directories
 * on marked filesystems. Returns 1 when a new watch was added, 0 when it was watched
 * already, -ENOSPC when the budget is spent (the directory is
 * then counted in n_unwatched and left to periodic rescans), or another -errno of
 * inotify_add_watch (a vanished directory: -ENOENT).
 */
int watch_add(struct watch *w, const char *path, size_t len);

/** Forget every watch below and at `path` (it was removed or renamed). */
void watch_forget(struct watch *w, const char *path, size_t len);

void watch_stats(struct watch *w, struct watch_stats *st);

/** Stop the thread and free everything. watch_stop(NULL) is a no-op. */
void watch_stop(struct watch *w);

const char *watch_backend_name(enum watch_backend b);

#endif
