/* frecency.h: the paths a user picked, how often and how lately, saved in the state
 * directory; they give queries that ask for it a bonus. */
#ifndef TRAWL_FRECENCY_H
#define TRAWL_FRECENCY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* A pick's weight halves every FRECENCY_HALF_LIFE_S seconds. */
#define FRECENCY_HALF_LIFE_S (14 * 24 * 3600)
/* The bonus of a path picked once just now: a little more than what separates a
 * basename equal to a term from one whose stem is (tunables.h), so one pick reorders
 * good matches but cannot lift a poor one above a clearly better one; log2 of the
 * weight keeps many picks in bounds. */
#define FRECENCY_BONUS_UNIT 128
/* Picks remembered; past this, the least weighty are forgotten. */
#define FRECENCY_MAX_PATHS 4096

struct frecency_item {
	char *path;
	size_t len;
	double weight; /* sum of picks, each decayed to `at` */
	time_t at;
};

struct frecency {
	pthread_mutex_t lock;
	struct frecency_item *items;
	size_t n, cap;
	char *file;	      /* where it is saved; NULL: not saved */
	_Atomic int is_dirty; /* picked since the last save */
};

/** Initialise, loading `file` when it exists (a malformed line is skipped). `file` may
 * be NULL. Returns 0 or -ENOMEM. */
int frecency_init(struct frecency *f, const char *file);

/** Free everything. */
void frecency_release(struct frecency *f);

/** Record a pick at time `now` (in memory: frecency_save() writes it). Returns 0 or
 * -ENOMEM. */
int frecency_pick(struct frecency *f, const char *path, size_t len, time_t now);

/** When there were picks since the last save, write the table (temp file, fsync,
 * rename); the lock is held only to copy it, so bonuses are not held up by the disk.
 * Returns 0 or -errno (the picks stay in memory and are saved next time). */
int frecency_save(struct frecency *f);

/** The bonus for `path` at time `now`: 0 when never picked. */
int32_t frecency_bonus(struct frecency *f, const char *path, size_t len, time_t now);

/** How many paths are remembered. */
size_t frecency_count(struct frecency *f);

#endif
