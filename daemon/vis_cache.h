/* vis_cache.h: what each user may see, for a daemon serving every user: the visibilities
 * (trawl_visibility_new()) of the credentials seen last, shared by the searches of all
 * their connections and built again once the index has changed under them. */
#ifndef TRAWL_VIS_CACHE_H
#define TRAWL_VIS_CACHE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "trawl_index.h"

/* Credentials remembered at once: distinct users (or group sets) searching at about the
 * same time. One visibility costs a bitmap of the ranges hidden from its user, about
 * 4 bytes a closed directory; past this many the least recently used is dropped. */
#define VIS_CACHE_SLOTS 64

/** One visibility, shared; it stays valid while referenced. */
struct vis_entry {
	_Atomic long refs;
	struct trawl_visibility *v;
};

struct vis_cache;

/** A new empty cache into *out. Returns 0 or -ENOMEM. */
int vis_cache_new(struct vis_cache **out);

/** Free the cache; entries still referenced live on until put. vis_cache_free(NULL) is a
 * no-op. */
void vis_cache_free(struct vis_cache *c);

/**
 * The visibility of `cred` in `ix` as it is now, referenced into *out: the cached one
 * when it is still current (trawl_visibility_is_current()), else a new one, which
 * replaces it in the cache. `cred->groups` must be ascending and without duplicates (it
 * is the cache's key with uid and gid). Thread-safe; a build runs outside the cache's
 * lock. Returns 0 or -ENOMEM.
 */
int vis_cache_get(struct vis_cache *c, struct trawl_index *ix, const struct trawl_cred *cred,
		  struct vis_entry **out);

/** Drop a reference from vis_cache_get(). vis_entry_put(NULL) is a no-op. */
void vis_entry_put(struct vis_entry *e);

#endif
