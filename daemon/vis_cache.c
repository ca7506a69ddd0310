/* vis_cache.c: a small table of credentials and their visibilities, least recently used
 * out first, guarded by one mutex that is never held while a visibility is built. */
#include "vis_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct vis_slot {
	uint32_t uid, gid;
	uint32_t *groups;
	size_t n_groups;
	struct vis_entry *entry; /* NULL: the slot is free */
	uint64_t last_used;
};

struct vis_cache {
	pthread_mutex_t lock;
	uint64_t tick;
	struct vis_slot slots[VIS_CACHE_SLOTS];
};

int vis_cache_new(struct vis_cache **out)
{
	struct vis_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return 0;
}

void vis_entry_put(struct vis_entry *e)
{
	if (e && atomic_fetch_sub(&e->refs, 1) == 1) {
		trawl_visibility_free(e->v);
		free(e);
	}
}

static void slot_clear(struct vis_slot *s)
{
	vis_entry_put(s->entry);
	free(s->groups);
	memset(s, 0, sizeof(*s));
}

void vis_cache_free(struct vis_cache *c)
{
	if (!c)
		return;
	for (size_t k = 0; k < VIS_CACHE_SLOTS; k++)
		slot_clear(&c->slots[k]);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static int is_same_cred(const struct vis_slot *s, const struct trawl_cred *cred)
{
	return s->entry && s->uid == cred->uid && s->gid == cred->gid &&
	       s->n_groups == cred->n_groups &&
	       (!cred->n_groups ||
		memcmp(s->groups, cred->groups, cred->n_groups * sizeof(*cred->groups)) == 0);
}

/* The slot of `cred`, or NULL. Holding the lock. */
static struct vis_slot *find(struct vis_cache *c, const struct trawl_cred *cred)
{
	for (size_t k = 0; k < VIS_CACHE_SLOTS; k++)
		if (is_same_cred(&c->slots[k], cred))
			return &c->slots[k];
	return NULL;
}

int vis_cache_get(struct vis_cache *c, struct trawl_index *ix, const struct trawl_cred *cred,
		  struct vis_entry **out)
{
	*out = NULL;
	pthread_mutex_lock(&c->lock);
	struct vis_slot *s = find(c, cred);
	if (s && trawl_visibility_is_current(ix, s->entry->v)) {
		atomic_fetch_add(&s->entry->refs, 1);
		s->last_used = ++c->tick;
		*out = s->entry;
		pthread_mutex_unlock(&c->lock);
		return 0;
	}
	pthread_mutex_unlock(&c->lock);

	/* Built unlocked: other users' searches go on meanwhile. Two searches of one user
	 * may both build; the later one stays cached. */
	struct vis_entry *e = calloc(1, sizeof(*e));
	uint32_t *groups = NULL;
	size_t groups_bytes = cred->n_groups * sizeof(*groups);
	int rc = e ? 0 : -ENOMEM;
	if (rc == 0 && groups_bytes) {
		if ((groups = malloc(groups_bytes)))
			memcpy(groups, cred->groups, groups_bytes);
		else
			rc = -ENOMEM;
	}
	if (rc == 0)
		rc = trawl_visibility_new(ix, cred, &e->v);
	if (rc < 0) {
		free(e);
		free(groups);
		return rc;
	}
	atomic_init(&e->refs, 2); /* the caller's and the cache's */

	pthread_mutex_lock(&c->lock);
	s = find(c, cred);
	if (!s) {
		s = &c->slots[0];
		for (size_t k = 1; k < VIS_CACHE_SLOTS && s->entry; k++)
			if (!c->slots[k].entry || c->slots[k].last_used < s->last_used)
				s = &c->slots[k];
	}
	slot_clear(s);
	*s = (struct vis_slot){.uid = cred->uid,
			       .gid = cred->gid,
			       .groups = groups,
			       .n_groups = cred->n_groups,
			       .entry = e,
			       .last_used = ++c->tick};
	pthread_mutex_unlock(&c->lock);
	*out = e;
	return 0;
}
