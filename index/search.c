/* search.c: running a query on a generation: candidates from the postings (an exact
 * superset of the matches), scope, tombstones and what the user may not see, verification
 * and scoring by the matcher on worker threads, a bounded top-K per worker, the delta's
 * records scanned beside the base, then a merge. The empty query lists the base level by
 * level. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "carry.h"
#include "fold.h"
#include "generation.h"
#include "query.h"
#include "score.h"
#include "tunables.h"
#include "trawl_index.h"
#include "visibility.h"

/* Below this many candidates one thread is faster than starting another. */
#define SEARCH_PARALLEL_MIN_CANDIDATES 4096
#define SEARCH_MAX_THREADS	       16
#define SEARCH_DEFAULT_LIMIT	       50
/* Loops poll the cancel flag once per this many steps: a step scores at most one path
 * (microseconds), so a cancel is seen well within a millisecond. */
#define SEARCH_POLL_STEPS 64
/* Candidates read from their bitmap at a time, their names fetched ahead together. */
#define SEARCH_BATCH 64
/* A scan on several workers is cut into this many shares a worker. */
#define SEARCH_CHUNKS_PER_WORKER 8
#define SEARCH_MAX_CHUNKS	 (SEARCH_CHUNKS_PER_WORKER * SEARCH_MAX_THREADS)
/* Results a session keeps to score first in its next search (trawl_session). */
#define SESSION_SEEDS 256

/* ---- candidates ---- */

static void and_into(roaring_bitmap_t **acc, const roaring_bitmap_t *r)
{
	if (!*acc)
		*acc = roaring_bitmap_copy(r);
	else
		roaring_bitmap_and_inplace(*acc, r);
}

/* AND posting `r` into *acc. A missing posting (NULL) means no entry can match: *acc
 * becomes the empty set for good. Returns 0, 1 when *acc is empty for good, -ENOMEM. */
static int narrow(roaring_bitmap_t **acc, const roaring_bitmap_t *r)
{
	if (!r) {
		bitmap_free(*acc);
		*acc = roaring_bitmap_create();
		return *acc ? 1 : -ENOMEM;
	}
	and_into(acc, r);
	return *acc ? 0 : -ENOMEM;
}

/* The entries that may match one term; *out NULL means "any entry may". Every
 * condition here is necessary for a match: a path matching the term contains, in its
 * loose fold, every byte of the term's loose fold and every trigram of a contiguous
 * term (a trigram with '/' after its first byte may span components, so it is not
 * looked up). Returns 0 or -ENOMEM. */
static int term_candidates(const struct postings *p, const struct term *t, roaring_bitmap_t **out)
{
	*out = NULL;
	if (t->is_negated)
		return 0;
	const unsigned char *b = (const unsigned char *)t->loose;
	size_t n = t->loose_len;
	roaring_bitmap_t *acc = NULL;
	if (t->kind != TERM_FUZZY) {
		/* ^x is "/x" in the path: the posting of "/xy" says a component starts so. */
		unsigned char buf[TRAWL_QUERY_MAX_BYTES * 4 + 2];
		size_t m = 0;
		if ((t->kind == TERM_PREFIX || t->kind == TERM_EQUAL) && (n == 0 || b[0] != '/'))
			buf[m++] = '/';
		if (m + n <= sizeof(buf)) {
			memcpy(buf + m, b, n);
			m += n;
			for (size_t i = 0; i + 3 <= m; i++) {
				if (buf[i + 1] == '/' || buf[i + 2] == '/')
					continue;
				int rc = narrow(&acc, postings_trigram(p, trigram_key(buf + i)));
				if (rc) {
					*out = acc;
					return rc < 0 ? rc : 0;
				}
			}
		}
	}
	uint64_t seen[4] = {0};
	for (size_t i = 0; i < n; i++) {
		unsigned c = b[i];
		if (c == '/' || (seen[c >> 6] & (1ull << (c & 63))))
			continue;
		seen[c >> 6] |= 1ull << (c & 63);
		int rc = narrow(&acc, p->chars[c]);
		if (rc) {
			*out = acc;
			return rc < 0 ? rc : 0;
		}
	}
	*out = acc;
	return 0;
}

static int query_candidates(const struct postings *p, const struct trawl_query *q,
			    roaring_bitmap_t **out)
{
	roaring_bitmap_t *acc = NULL;
	*out = NULL;
	for (size_t g = 0; g < q->n_groups; g++) {
		roaring_bitmap_t *group = NULL;
		int is_any = 0;
		for (size_t k = 0; k < q->groups[g].n_terms && !is_any; k++) {
			roaring_bitmap_t *r;
			if (term_candidates(p, &q->groups[g].terms[k], &r) < 0)
				goto nomem;
			if (!r) {
				is_any = 1;
			} else if (!group) {
				group = r;
			} else {
				roaring_bitmap_or_inplace(group, r);
				bitmap_free(r);
			}
		}
		if (is_any) {
			bitmap_free(group);
			continue;
		}
		if (!acc) {
			acc = group;
		} else {
			roaring_bitmap_and_inplace(acc, group);
			bitmap_free(group);
		}
	}
	*out = acc;
	return 0;
nomem:
	bitmap_free(acc);
	return -ENOMEM;
}

/* ---- top-K ---- */

/* A slot's id when its entry is not in the base (a delta record). */
#define SLOT_NO_ID UINT32_MAX

struct slot {
	int32_t score;
	uint8_t kind;
	uint32_t id; /* base id, or SLOT_NO_ID */
	char *path;
	size_t len, cap;
	size_t slashes; /* '/' in path: the first tie-break, asked often of the worst */
};

/* A binary heap whose root is the worst of the best `limit` seen. Slots are
 * allocated as they fill: a large limit costs nothing until results arrive. */
struct topk {
	size_t limit, n, cap;
	struct slot *slots;
};

static int ranks_after(const struct slot *a, const struct slot *b)
{
	return trawl_rank_cmp(a->score, a->path, a->len, b->score, b->path, b->len) > 0;
}

static void sift_down(struct topk *t, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, worst = i;
		if (l < t->n && ranks_after(&t->slots[l], &t->slots[worst]))
			worst = l;
		if (r < t->n && ranks_after(&t->slots[r], &t->slots[worst]))
			worst = r;
		if (worst == i)
			return;
		struct slot tmp = t->slots[i];
		t->slots[i] = t->slots[worst];
		t->slots[worst] = tmp;
		i = worst;
	}
}

static void sift_up(struct topk *t, size_t i)
{
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!ranks_after(&t->slots[i], &t->slots[parent]))
			return;
		struct slot tmp = t->slots[i];
		t->slots[i] = t->slots[parent];
		t->slots[parent] = tmp;
		i = parent;
	}
}

static int slot_set(struct slot *s, int32_t score, const char *path, size_t len, uint8_t kind,
		    uint32_t id)
{
	if (s->cap < len) {
		char *p = realloc(s->path, len);
		if (!p)
			return -ENOMEM;
		s->path = p;
		s->cap = len;
	}
	if (len)
		memcpy(s->path, path, len);
	s->slashes = 0;
	for (size_t i = 0; i < len; i++)
		s->slashes += path[i] == '/';
	s->len = len;
	s->score = score;
	s->kind = kind;
	s->id = id;
	return 0;
}

static int topk_push(struct topk *t, int32_t score, const char *path, size_t len, uint8_t kind,
		     uint32_t id)
{
	if (t->n < t->limit) {
		if (t->n == t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 64;
			if (cap > t->limit)
				cap = t->limit;
			struct slot *slots = realloc(t->slots, cap * sizeof(*slots));
			if (!slots)
				return -ENOMEM;
			memset(slots + t->cap, 0, (cap - t->cap) * sizeof(*slots));
			t->slots = slots;
			t->cap = cap;
		}
		int rc = slot_set(&t->slots[t->n], score, path, len, kind, id);
		if (rc < 0)
			return rc;
		sift_up(t, t->n++);
		return 0;
	}
	struct slot *root = &t->slots[0];
	if (score < root->score ||
	    (score == root->score &&
	     trawl_rank_cmp(score, path, len, root->score, root->path, root->len) >= 0))
		return 0;
	int rc = slot_set(root, score, path, len, kind, id);
	if (rc == 0)
		sift_down(t, 0);
	return rc;
}

static void topk_release(struct topk *t)
{
	for (size_t i = 0; i < t->cap; i++)
		free(t->slots[i].path);
	free(t->slots);
}

static int32_t max32i(int32_t a, int32_t b)
{
	return a > b ? a : b;
}

/* The best alignment score of a term whose first character does not earn the in-name
 * bonus, with no tail penalty. */
static int32_t alignment_bound(const struct term *t)
{
	return score_alignment_bound(t->units, t->n_units);
}

/* The best score a term can reach on an entry outside its prefix tier: the best
 * alignment, the in-name bonus, and the whole-directory bonus (name equality, stem and
 * prefix bonuses need the prefix tier). */
static int32_t ub_outside_tier(const struct term *t)
{
	return alignment_bound(t) + BONUS_IN_NAME + BONUS_COMPONENT_EXACT;
}

/* How much more than its name alone an entry of a prefix-tier name can score: an
 * alignment starting in a directory (no in-name bonus) against the worst in-name prefix
 * alignment (first character at the name start, the others consecutive, the largest
 * tail penalty). */
static int32_t cross_slack(const struct term *t)
{
	uint32_t first = t->units[0];
	int is_word = first >= 0x80 || (first >= 'a' && first <= 'z') ||
		      (first >= 'A' && first <= 'Z') || (first >= '0' && first <= '9');
	int32_t prefix = SCORE_MATCH * (int32_t)t->n_units +
			 FIRST_CHAR_MULTIPLIER * (is_word ? BONUS_COMPONENT : BONUS_PUNCT) +
			 ((int32_t)t->n_units - 1) * BONUS_CONSECUTIVE + BONUS_IN_NAME -
			 PENALTY_NAME_TAIL_MAX;
	return max32i(0, alignment_bound(t) - prefix);
}

/* ---- workers ---- */

/* Terms a split scan handles at most (it bounds each class of entries, below). */
#define SPLIT_MAX_TERMS 6
#define SPLIT_CLASSES	(1u << (2 * SPLIT_MAX_TERMS))

/* How a scan is split (split_scan()): an entry's class is the set of terms its name
 * holds (bits 0..n_terms) and the set of terms a directory above it equals (the bits
 * above); with a single term, one more bit says whether the name holds the term's last
 * unit, without which its alignment ends in the directories and pays the full tail
 * penalty. Each class has a bound. */
struct split {
	const struct postings *p; /* whose entry masks tell what names hold */
	uint32_t need[SPLIT_MAX_TERMS];
	size_t n_terms;
	size_t n_bits;	    /* of a class */
	uint32_t need_last; /* with a single term: the bit of its last unit (0: none) */
	size_t group_of[SPLIT_MAX_TERMS]; /* the query's group of each term */
	/* Per term, the subtrees below the directories that equal it, as sorted disjoint
	 * [lo, hi) pairs. */
	uint32_t *below[SPLIT_MAX_TERMS];
	size_t n_below[SPLIT_MAX_TERMS];
	int32_t bound[SPLIT_CLASSES];
	/* The same with no term in the name but the claim: the least a name's own bounds
	 * can bring a class's bound down to (split_prune()). */
	int32_t lowest[SPLIT_CLASSES];
};

/* Where a worker is in each term's subtrees (struct split), as its ids ascend. */
struct split_at {
	size_t at[SPLIT_MAX_TERMS];
};

/* Start the walk of the subtrees at id `from`. */
static void split_seek(const struct split *sp, struct split_at *a, uint32_t from)
{
	for (size_t t = 0; t < sp->n_terms; t++) {
		size_t lo = 0, hi = sp->n_below[t];
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (sp->below[t][2 * mid + 1] <= from)
				lo = mid + 1;
			else
				hi = mid;
		}
		a->at[t] = lo;
	}
}

/* The class of base entry `id`, at or after the last one asked. */
static inline uint32_t split_class(const struct split *sp, struct split_at *a, uint32_t id)
{
	uint32_t m = entry_mask(sp->p, id), c = 0;
	for (size_t t = 0; t < sp->n_terms; t++) {
		c |= (uint32_t)((m & sp->need[t]) == sp->need[t]) << t;
		const uint32_t *r = sp->below[t];
		size_t i = a->at[t];
		while (i < sp->n_below[t] && r[2 * i + 1] <= id)
			i++;
		a->at[t] = i;
		c |= (uint32_t)(i < sp->n_below[t] && r[2 * i] <= id) << (sp->n_terms + t);
	}
	if (sp->n_bits > 2 * sp->n_terms)
		c |= (uint32_t)((m & sp->need_last) == sp->need_last) << (2 * sp->n_terms);
	return c;
}

/* The scan's ids in shares taken in turn: share c is [start[c], start[c + 1]). */
struct chunks {
	uint32_t start[SEARCH_MAX_CHUNKS + 1];
	size_t n;
	_Atomic size_t next;
};

struct worker {
	const struct generation *g;
	/* Base ids that are not there for this search: the tombstones, and those `vis`
	 * hides. */
	const roaring_bitmap_t *dead;
	const struct trawl_visibility *vis; /* fits g; NULL: everything is visible */
	const struct trawl_query *q;
	const roaring_bitmap_t *candidates; /* NULL: every id in [lo, hi) */
	uint32_t lo, hi;
	struct chunks *chunks; /* NULL: the scan's share is [lo, hi) */
	/* A round of a split scan (split_scan()): only candidates of a class `allow`
	 * allows are looked at; the others are counted. */
	const struct split *split;
	const uint8_t *allow, *allowed; /* allowed: by an earlier round (NULL: none) */
	struct split_at split_at;
	uint64_t n_filtered;
	uint32_t delta_lo, delta_hi; /* the delta records this worker scans */
	unsigned kinds;
	const char *under; /* the scope as a path, for delta records; NULL: everywhere */
	size_t under_len;
	struct trawl_matcher *m;
	struct carry *carry; /* NULL: the query is matched on whole paths */
	struct topk top;
	uint64_t n_matched;
	uint64_t n_pruned;	    /* candidates skipped by their bound, unverified */
	const int32_t *align_bound; /* per term (groups flattened): alignment_bound() */
	_Atomic int32_t *shared;    /* the best worst score of any worker's full top */
	/* The most a name claim can add to an entry of the scan (INT32_MAX: unknown): a
	 * directory's bound for all its children holds with this added. */
	int32_t claim_slack;
	int32_t floor;	      /* `limit` entries are known to score at least this... */
	size_t floor_slashes; /* ...the worst of them with this many '/' */
	/* With a session: the candidates this worker could not rule out, ascending. */
	int is_keeping;
	uint32_t *kept;
	size_t n_kept, kept_cap;
	int rc;
	const _Atomic int *cancel;
	unsigned poll; /* steps left before the cancel flag is read again */
	/* The path being built; its first parent_len bytes are the path of parent. */
	char *path;
	size_t cap;
	uint32_t parent;
	size_t parent_len;
	/* The same for the delta scan, with the parent's '/' count and whether its children
	 * are wanted: the parent is in the scope (at or under `under`), and the user may
	 * list it. */
	uint32_t delta_parent;
	size_t delta_parent_len, delta_parent_slashes;
	int is_delta_parent_in_scope;
};

/* Whether base entry `id` is there for this search. */
static int is_base_live(const struct worker *w, uint32_t id)
{
	return !roaring_bitmap_contains(w->dead, id);
}

/* Whether the search was cancelled; reads the flag every SEARCH_POLL_STEPS calls. Sets
 * w->rc once it is. */
static int is_cancelled(struct worker *w)
{
	if (w->rc < 0)
		return 1;
	if (!w->cancel || --w->poll > 0)
		return 0;
	w->poll = SEARCH_POLL_STEPS;
	if (atomic_load_explicit(w->cancel, memory_order_relaxed)) {
		w->rc = -ECANCELED;
		return 1;
	}
	return 0;
}

/* Make room for `need` bytes of path; returns the buffer, or NULL when out of memory. */
static char *reserve(struct worker *w, size_t need)
{
	if (need <= w->cap && w->path)
		return w->path;
	size_t cap = w->cap ? w->cap : 4096;
	while (cap < need)
		cap *= 2;
	char *p = realloc(w->path, cap);
	if (!p)
		return NULL;
	w->path = p;
	w->cap = cap;
	return p;
}

/* Build the path of `id` into w->path, reusing the parent's path from the previous
 * entry when it is the same: candidates come in id order, so siblings are adjacent. */
static int build_path(struct worker *w, uint32_t id, size_t *len)
{
	const struct store *s = &w->g->base->store;
	uint32_t p = s->parent[id];
	size_t n;
	const char *name = store_name(s, id, &n);
	if (p == STORE_NO_PARENT) {
		char *buf = reserve(w, n + 1);
		if (!buf)
			return -ENOMEM;
		memcpy(buf, name, n);
		w->parent = STORE_NO_PARENT;
		*len = n;
		return 0;
	}
	if (p != w->parent || w->parent == STORE_NO_PARENT) {
		if (!reserve(w, 1))
			return -ENOMEM;
		size_t need = store_path(s, p, w->path, w->cap);
		if (need > w->cap) {
			if (!reserve(w, need))
				return -ENOMEM;
			store_path(s, p, w->path, w->cap);
		}
		w->parent = p;
		w->parent_len = need;
	}
	size_t at = w->parent_len;
	int has_slash = at && w->path[at - 1] == '/';
	if (!reserve(w, at + 1 + n))
		return -ENOMEM;
	if (!has_slash)
		w->path[at++] = '/';
	memcpy(w->path + at, name, n);
	*len = at + n;
	return 0;
}

/* Put the whole path of base entry `id` in w->path, *len bytes, out of the order of the
 * scan: its parent cache no longer holds. Returns 0 or -ENOMEM. */
static int entry_path(struct worker *w, uint32_t id, size_t *len)
{
	const struct store *s = &w->g->base->store;
	w->parent = STORE_NO_PARENT;
	*len = store_path(s, id, w->path, w->cap);
	if (*len > w->cap) {
		if (!reserve(w, *len))
			return -ENOMEM;
		store_path(s, id, w->path, w->cap);
	}
	return 0;
}

static int is_ascii(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80)
			return 0;
	return 1;
}

/* ASCII-lowercase comparison of a name's first n bytes with a term's loose bytes. */
static int name_starts(const char *name, size_t len, const char *t, size_t n)
{
	if (len < n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] | 0x20) : name[i];
		if (c != t[i])
			return 0;
	}
	return 1;
}

/* The best a positive term can score on an entry with this name: in the name, the
 * alignment bound with the in-name bonus and the name's own whole-component bonus;
 * elsewhere, the bound without it, the whole-directory bonus, and the full tail penalty
 * when the term's last character is not in the name at all. Names or terms that are not
 * ASCII get the loosest bound. */
static int32_t term_entry_bound(const struct term *t, int32_t align, const char *name, size_t len,
				int is_name_ascii)
{
	if (!is_name_ascii || !is_ascii(t->loose, t->loose_len))
		return align + BONUS_IN_NAME + BONUS_NAME_EXACT;
	if (fold_is_ascii_subsequence(t->loose, t->loose_len, name, len)) {
		int32_t whole = BONUS_COMPONENT_EXACT;
		if (name_starts(name, len, t->loose, t->loose_len)) {
			const char *dot = memrchr(name + 1, '.', len ? len - 1 : 0);
			size_t stem = dot ? (size_t)(dot - name) : len;
			whole = len == t->loose_len    ? BONUS_NAME_EXACT
				: stem == t->loose_len ? BONUS_STEM_EXACT
						       : BONUS_NAME_PREFIX;
		}
		return align + BONUS_IN_NAME + whole;
	}
	int is_last_in_name = t->loose_len && memchr(name, t->loose[t->loose_len - 1], len);
	if (!is_last_in_name && t->loose_len) {
		/* The last character might still be in the name in the other case. */
		char c = t->loose[t->loose_len - 1];
		if (c >= 'a' && c <= 'z')
			is_last_in_name = memchr(name, c - 0x20, len) != NULL;
	}
	return align + BONUS_COMPONENT_EXACT - (is_last_in_name ? 0 : PENALTY_NAME_TAIL_MAX);
}

/* The best score the query can reach on an entry named `name`, from its name alone. */
static int32_t name_bound(const struct worker *w, const char *name, size_t len)
{
	int is_name_ascii = is_ascii(name, len);
	int64_t total = 0;
	size_t at = 0;
	for (size_t g = 0; g < w->q->n_groups; g++) {
		const struct group *grp = &w->q->groups[g];
		int32_t best = INT32_MIN;
		for (size_t k = 0; k < grp->n_terms; k++, at++) {
			const struct term *t = &grp->terms[k];
			int32_t v = t->is_negated ? 0
						  : term_entry_bound(t, w->align_bound[at], name,
								     len, is_name_ascii);
			if (v > best)
				best = v;
		}
		total += best;
	}
	return total > INT32_MAX ? INT32_MAX : (int32_t)total;
}

/* Score a path that passed every filter; count it and keep it when it ranks. */
static int offer(struct worker *w, const char *path, size_t len, uint8_t kind, uint32_t id)
{
	int32_t score;
	int rc = trawl_match(w->m, w->q, path, len, &score);
	if (rc <= 0)
		return rc;
	w->n_matched++;
	return topk_push(&w->top, score, path, len, kind, id);
}

static size_t path_slashes(const char *p, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += p[i] == '/';
	return n;
}

/* The number of '/' in the path of entry `id`, as trawl_rank_cmp() counts components,
 * without building the path: one per ancestor below the root, plus the root's own. */
static size_t entry_slashes(const struct store *s, uint32_t id)
{
	size_t hops = 0;
	uint32_t e = id;
	for (; s->parent[e] != STORE_NO_PARENT; e = s->parent[e])
		hops++;
	size_t n;
	const char *root = store_name(s, e, &n);
	size_t in_root = path_slashes(root, n);
	/* No separator follows a root that ends in '/' (the filesystem root). */
	if (hops && n && root[n - 1] == '/')
		hops--;
	return in_root + hops;
}

/* Whether a candidate scoring at most `ub` may still rank: 1 yes, 0 no, -1 only with at
 * most *max_slashes '/' in its path. `limit` entries known to rank well (the strong
 * phase's, or this worker's own once it holds `limit`) make a floor: a candidate bounded
 * below the worst of them cannot rank, nor one bounded at its score with more components
 * (the first tie-break), since the worst has the most components among those of its
 * score. */
static int may_rank(const struct worker *w, int32_t ub, size_t *max_slashes)
{
	int has_floor = w->floor > INT32_MIN, has_own = w->top.n == w->top.limit;
	int32_t own = has_own ? w->top.slots[0].score : INT32_MIN;
	if ((has_floor && ub < w->floor) || (has_own && ub < own))
		return 0;
	/* Another worker's full top is as good a floor, for scores below it. */
	if (w->shared && ub < atomic_load_explicit(w->shared, memory_order_relaxed))
		return 0;
	size_t most = SIZE_MAX;
	if (has_floor && ub == w->floor)
		most = w->floor_slashes;
	if (has_own && ub == own)
		most = w->top.slots[0].slashes < most ? w->top.slots[0].slashes : most;
	if (most == SIZE_MAX)
		return 1;
	*max_slashes = most;
	return -1;
}

static int has_floor(const struct worker *w)
{
	return w->floor > INT32_MIN || w->top.n == w->top.limit ||
	       (w->shared && atomic_load_explicit(w->shared, memory_order_relaxed) > INT32_MIN);
}

/* Offer this worker's worst score, once its top is full, as every worker's floor. */
static void share_floor(struct worker *w)
{
	if (!w->shared || w->top.n < w->top.limit)
		return;
	int32_t mine = w->top.slots[0].score;
	int32_t seen = atomic_load_explicit(w->shared, memory_order_relaxed);
	while (mine > seen &&
	       !atomic_compare_exchange_weak_explicit(w->shared, &seen, mine, memory_order_relaxed,
						      memory_order_relaxed))
		;
}

/* Whether candidate `id` is ruled out before its name is read: not of a wanted kind, or
 * its directories and its name's mask alone show it cannot match (not counted) or rank.
 * *next is the first id after it that may match: the carrier can rule out the rest of a
 * subtree. */
static int is_ruled_out(struct worker *w, uint32_t id, uint32_t *next)
{
	const struct store *s = &w->g->base->store;
	*next = id + 1;
	if (!(s->kind[id] & w->kinds))
		return 1;
	if (!w->carry)
		return 0;
	int32_t ub;
	size_t slashes, most;
	int rc = carry_parent_bound(w->carry, id, entry_mask(&w->g->base->postings, id),
				    w->claim_slack, &ub, &slashes, next);
	if (rc < 0) {
		w->rc = rc;
		return 1;
	}
	if (rc == 0)
		return 1;
	if (rc != 1 || ub == INT32_MAX || !has_floor(w))
		return 0;
	int may = may_rank(w, ub, &most);
	if (may == 0 || (may < 0 && slashes > most)) {
		w->n_pruned++;
		return 1;
	}
	return 0;
}

/* Verify and score a candidate that is_ruled_out() let through. */
static void consider(struct worker *w, uint32_t id)
{
	const struct store *s = &w->g->base->store;
	int is_bounded = 0;
	if (w->carry && has_floor(w)) {
		/* The carrier bounds an entry from its directories' columns and its name. */
		int32_t ub;
		size_t slashes, most;
		int rc = carry_bound(w->carry, id, &ub, &slashes);
		if (rc < 0) {
			w->rc = rc;
			return;
		}
		if (rc == 0)
			return;
		if (rc == 1) {
			int may = may_rank(w, ub, &most);
			if (may == 0 || (may < 0 && slashes > most)) {
				w->n_pruned++;
				return;
			}
			is_bounded = 1;
		}
	}
	if (!is_bounded && has_floor(w)) {
		size_t n, most;
		const char *name = store_name(s, id, &n);
		int may = may_rank(w, name_bound(w, name, n), &most);
		if (may == 0 || (may < 0 && entry_slashes(s, id) > most)) {
			w->n_pruned++;
			return;
		}
	}
	size_t len;
	if (w->carry) {
		int32_t score;
		int rc = carry_match(w->carry, id, &score);
		if (rc < 0) {
			w->rc = rc;
			return;
		}
		if (rc != CARRY_FALLBACK) {
			if (rc == 0)
				return;
			w->n_matched++;
			/* Below the worst of a full top it cannot enter: no path needed. */
			if (w->top.n == w->top.limit && score < w->top.slots[0].score)
				return;
			if (build_path(w, id, &len) < 0) {
				w->rc = -ENOMEM;
				return;
			}
			// NOLINTNEXTLINE(clang-analyzer-unix.Malloc)
			if ((rc = topk_push(&w->top, score, w->path, len, s->kind[id], id)) < 0)
				w->rc = rc;
			share_floor(w);
			return;
		}
	}
	if (build_path(w, id, &len) < 0) {
		w->rc = -ENOMEM;
		return;
	}
	/* The analyzer loses track of slot paths as the heap swaps slots. */
	int rc = offer(w, w->path, len, s->kind[id], id); // NOLINT(clang-analyzer-unix.Malloc)
	if (rc < 0)
		w->rc = rc;
	share_floor(w);
}

/* Whether a path is `under` or below it (everything is, without a scope). */
static int is_at_or_under(const char *p, size_t len, const char *under, size_t under_len)
{
	if (!under || (under_len == 1 && under[0] == '/'))
		return 1;
	return len >= under_len && memcmp(p, under, under_len) == 0 &&
	       (len == under_len || p[under_len] == '/');
}

/* Put the path of delta node `parent` at the start of w->path, unless it is there. */
static int delta_parent_path(struct worker *w, uint32_t parent)
{
	if (parent == w->delta_parent)
		return 0;
	size_t need = generation_node_path(w->g, parent, w->path, w->cap);
	if (need > w->cap) {
		if (!reserve(w, need))
			return -ENOMEM;
		generation_node_path(w->g, parent, w->path, w->cap);
	}
	w->delta_parent = parent;
	w->delta_parent_len = need;
	w->delta_parent_slashes = path_slashes(w->path, need);
	w->is_delta_parent_in_scope = is_at_or_under(w->path, need, w->under, w->under_len) &&
				      (!w->vis || visibility_node_open(w->vis, w->g, parent));
	return 0;
}

/* Score the live delta records [delta_lo, delta_hi) in scope. Records of one directory
 * are mostly appended together, so each parent's path is built once for its run. */
static void scan_delta(struct worker *w)
{
	const struct delta_view *v = &w->g->delta;
	w->delta_parent = NODE_NONE;
	w->parent = STORE_NO_PARENT; /* w->path is about to hold other paths */
	if (!w->path && !reserve(w, 1)) {
		w->rc = -ENOMEM;
		return;
	}
	for (uint32_t r = w->delta_lo; r < w->delta_hi && !is_cancelled(w); r++) {
		const struct delta_record *rec = delta_record(v->log, r);
		if (!delta_is_live(v, r) || !(rec->kind & w->kinds))
			continue;
		if (delta_parent_path(w, rec->parent) < 0) {
			w->rc = -ENOMEM;
			return;
		}
		if (!w->is_delta_parent_in_scope)
			continue;
		/* Only the root's path ends in '/'. */
		int has_separator = rec->parent != 0;
		size_t most;
		int may =
		    has_floor(w) ? may_rank(w, name_bound(w, rec->name, rec->name_len), &most) : 1;
		if (may == 0 || (may < 0 && w->delta_parent_slashes + has_separator > most)) {
			w->n_pruned++;
			continue;
		}
		size_t at = w->delta_parent_len, len = at + (size_t)has_separator + rec->name_len;
		if (!reserve(w, len)) {
			w->rc = -ENOMEM;
			return;
		}
		if (has_separator)
			w->path[at++] = '/';
		memcpy(w->path + at, rec->name, rec->name_len);
		/* The analyzer loses track of slot paths as the heap swaps slots. */
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc)
		int rc = offer(w, w->path, len, rec->kind, SLOT_NO_ID);
		if (rc < 0)
			w->rc = rc;
	}
}

/* Note candidate `id` in w->kept; when out of memory, the session learns nothing. */
static void keep(struct worker *w, uint32_t id)
{
	if (w->n_kept == w->kept_cap) {
		size_t cap = w->kept_cap ? 2 * w->kept_cap : 4096;
		uint32_t *kept = realloc(w->kept, cap * sizeof(*kept));
		if (!kept) {
			w->is_keeping = 0;
			return;
		}
		w->kept = kept;
		w->kept_cap = cap;
	}
	w->kept[w->n_kept++] = id;
}

/* In a round of a split scan: whether candidate `id` of class c cannot beat the top, by
 * what its name alone allows each term it may hold (carry_name_bounds()), and its class
 * the others; then it counts as pruned. Its directories are not read. */
static int split_prune(struct worker *w, uint32_t id, uint32_t c)
{
	const struct split *sp = w->split;
	size_t n = sp->n_terms;
	size_t most;
	/* With several terms, the directories' terms keep most entries above the bound, and
	 * the name is read twice for nothing: measured slower. */
	if (n > 1 || !w->carry || !(c & ((1u << n) - 1)) || !has_floor(w) ||
	    may_rank(w, sp->lowest[c], &most) != 0)
		return 0;
	size_t len;
	const char *name = store_name(&w->g->base->store, id, &len);
	int32_t in_name[SPLIT_MAX_TERMS];
	if (carry_name_bounds(w->carry, name, len, in_name) != 1)
		return 0;
	int64_t total = 0;
	int may_claim = 0;
	for (size_t t = 0; t < n;) {
		int32_t best = INT32_MIN;
		for (size_t gi = sp->group_of[t]; t < n && sp->group_of[t] == gi; t++) {
			/* A claim needs a name that starts with its term, and so holds it. */
			may_claim |= in_name[t] > SCORE_NONE;
			best = max32i(best, max32i(w->align_bound[t], in_name[t]) +
						(c >> (n + t) & 1 ? BONUS_COMPONENT_EXACT : 0));
		}
		total += best;
	}
	if (may_claim)
		total += w->claim_slack;
	if (may_rank(w, total > INT32_MAX ? INT32_MAX : (int32_t)total, &most) != 0)
		return 0;
	w->n_pruned++;
	return 1;
}

/* Scan base ids [w->lo, w->hi): the candidates among them, or every live one. */
static void scan_range(struct worker *w)
{
	if (w->split)
		split_seek(w->split, &w->split_at, w->lo);
	if (w->candidates) {
		/* Candidates come in batches whose name offsets are fetched ahead, and their
		 * parents' names and subtree ends: that is where a scan of spread-out entries
		 * waits for memory. (Their masks are read in id order, as they come.) */
		const struct store *s = &w->g->base->store;
		uint32_t batch[SEARCH_BATCH];
		roaring_uint32_iterator_t it;
		roaring_init_iterator(w->candidates, &it);
		int is_more = roaring_move_uint32_iterator_equalorlarger(&it, w->lo);
		while (is_more && !is_cancelled(w)) {
			uint32_t n = roaring_read_uint32_iterator(&it, batch, SEARCH_BATCH);
			while (n && batch[n - 1] >= w->hi) {
				n--;
				is_more = 0;
			}
			is_more &= n == SEARCH_BATCH;
			uint32_t cls[SEARCH_BATCH];
			if (w->allow && w->split) {
				/* A round of a split scan: only the classes it allows. */
				uint32_t kept = 0;
				for (uint32_t i = 0; i < n; i++) {
					uint32_t c = split_class(w->split, &w->split_at, batch[i]);
					cls[kept] = c;
					if (w->allow[c])
						batch[kept++] = batch[i];
					else /* counted once: in the last round that passes it */
						w->n_filtered += !w->allowed || !w->allowed[c];
				}
				n = kept;
			}
			uint32_t parents[SEARCH_BATCH], n_parents = 0;
			for (uint32_t i = 0; i < n; i++) {
				uint32_t k = s->name_id[batch[i]], p = s->parent[batch[i]];
				__builtin_prefetch(&s->name_offset[k]);
				if (p != STORE_NO_PARENT &&
				    (!n_parents || parents[n_parents - 1] != p)) {
					parents[n_parents++] = p;
					__builtin_prefetch(&s->name_id[p]);
					__builtin_prefetch(&s->dir_bits[p / 64]);
					__builtin_prefetch(&s->dir_rank[p / 64]);
				}
			}
			for (uint32_t i = 0; i < n_parents; i++)
				__builtin_prefetch(&s->name_offset[s->name_id[parents[i]]]);
			/* What a split round lets through mostly has its name read. */
			for (uint32_t i = 0; w->allow && i < n; i++)
				__builtin_prefetch(s->name_bytes +
						   s->name_offset[s->name_id[batch[i]]]);
			for (uint32_t i = 0; i < n_parents; i++) {
				uint32_t p = parents[i];
				__builtin_prefetch(s->name_bytes + s->name_offset[s->name_id[p]]);
				__builtin_prefetch(&s->dir_end[store_dir_rank(s, p)]);
			}
			/* One candidate at a time: the carrier's stack follows the parents in
			 * id order, and going back to an earlier parent would rebuild it. */
			for (uint32_t i = 0; i < n && !is_cancelled(w); i++) {
				if (w->allow && w->split && split_prune(w, batch[i], cls[i]))
					continue;
				uint64_t seen = w->n_matched + w->n_pruned;
				uint32_t next;
				if (!is_ruled_out(w, batch[i], &next))
					consider(w, batch[i]);
				/* Matched, or pruned unverified: the next search may need it. */
				if (w->is_keeping && w->n_matched + w->n_pruned != seen)
					keep(w, batch[i]);
				while (i + 1 < n && batch[i + 1] < next)
					i++;
				/* A subtree ruled out past the batch: on from its end. */
				if (i + 1 == n && is_more && next > batch[i] + 1)
					is_more =
					    next < w->hi &&
					    roaring_move_uint32_iterator_equalorlarger(&it, next);
			}
		}
	} else {
		uint32_t next;
		for (uint32_t id = w->lo; id < w->hi && !is_cancelled(w); id = next) {
			next = id + 1;
			if (is_base_live(w, id) && !is_ruled_out(w, id, &next))
				consider(w, id);
		}
	}
}

static void *work(void *arg)
{
	struct worker *w = arg;
	w->parent = STORE_NO_PARENT;
	if (!w->chunks) {
		scan_range(w);
	} else {
		/* Shares of equal candidates do not cost the same: workers take small ones in
		 * turn until none is left, in id order, so each worker's are ascending. */
		for (size_t c; (c = atomic_fetch_add(&w->chunks->next, 1)) < w->chunks->n &&
			       !is_cancelled(w);) {
			w->lo = w->chunks->start[c];
			w->hi = w->chunks->start[c + 1];
			scan_range(w);
		}
	}
	if (w->delta_lo < w->delta_hi && w->rc == 0)
		scan_delta(w);
	return NULL;
}

struct bound_key {
	const int32_t *bound;
	uint32_t base;
};

static int cmp_bound_desc(const void *a, const void *b, void *arg)
{
	const struct bound_key *bk = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	int32_t bx = bk->bound[x - bk->base], by = bk->bound[y - bk->base];
	if (bx != by)
		return bx > by ? -1 : 1;
	return (x > y) - (x < y);
}

/* Bounds of names span a few hundred values: sort by counting them. Wider spans (long
 * terms) fall back to a comparison sort. */
#define ORDER_MAX_SPAN 4096

/* Sort the names `order` (n of them, from `base`) by bound[name - base], best first,
 * equal bounds in name order, as cmp_bound_desc() does. Returns 0 or -ENOMEM. */
static int order_by_bound(uint32_t *order, uint32_t n, const int32_t *bound, uint32_t base)
{
	if (n < 2)
		return 0;
	int32_t most = INT32_MIN, least = INT32_MAX;
	for (uint32_t i = 0; i < n; i++) {
		int32_t b = bound[order[i] - base];
		most = b > most ? b : most;
		least = b < least ? b : least;
	}
	if ((int64_t)most - least >= ORDER_MAX_SPAN) {
		struct bound_key bk = {bound, base};
		qsort_r(order, n, sizeof(*order), cmp_bound_desc, &bk);
		return 0;
	}
	size_t span = (size_t)(most - least) + 1;
	uint32_t *start = calloc(span + 1, sizeof(*start));
	uint32_t *sorted = malloc((size_t)n * sizeof(*sorted));
	if (!start || !sorted) {
		free(start);
		free(sorted);
		return -ENOMEM;
	}
	/* Slot 0 is the best bound; order[] is in name order, and stays so within a slot. */
	for (uint32_t i = 0; i < n; i++)
		start[(size_t)(most - bound[order[i] - base]) + 1]++;
	for (size_t k = 1; k <= span; k++)
		start[k] += start[k - 1];
	for (uint32_t i = 0; i < n; i++)
		sorted[start[most - bound[order[i] - base]]++] = order[i];
	memcpy(order, sorted, (size_t)n * sizeof(*order));
	free(start);
	free(sorted);
	return 0;
}

/* ---- strong candidates: names that start with a term ----
 *
 * An entry whose name starts with a term (the term's "prefix tier": its name equals the
 * term, has it as stem, or starts with it) scores far above most others. Those entries
 * are scored first, from the name order, where they form one range of names per term:
 * each name gets a bound on what its entries can score, and names are taken best bound
 * first until the K-th best score so far beats the next bound. Then, when it also beats
 * what any entry outside the tiers could score (ub_rest), the scan of the remaining
 * candidates is skipped: the answer is still exact.
 */

/* At most this many names of the tiers get a bound each (by default; see
 * trawl_search_options.tier_max_names); beyond, the largest tiers are cut down to the
 * names their term equals or stems. A bound costs about as much as a tenth of scoring
 * one entry, but a large tier's names are bounded from the name alone, and the entries
 * of those whose bound looks good are then scored from their whole paths: at 2^18, 'l'
 * in 'locale fr l' (7.9M entries) bounded 219K names and scored 55K entries in 76 ms,
 * only for the scan to run anyway. At 2^15 the tier is cut: 13K names, 8K entries,
 * 8.5 ms, the same score to beat. */
#define STRONG_MAX_NAMES (1u << 15)

struct strong {
	const struct store *s;
	size_t max_names;	      /* names of the tiers bounded one by one at most */
	const roaring_bitmap_t *cand; /* NULL: any live entry in scope */
	uint32_t lo, hi;	      /* scope */
	roaring_bitmap_t *done;	      /* entries scored here, kept out of the scan */
};

/* Whether base entry `id` is a live candidate in scope of a wanted kind. */
static int is_strong_candidate(const struct worker *w, const struct strong *st, uint32_t id)
{
	return id >= st->lo && id < st->hi && (st->s->kind[id] & w->kinds) && is_base_live(w, id) &&
	       (!st->cand || roaring_bitmap_contains(st->cand, id));
}

/* Score the entries of name k, whose entries score at most `bound`, and exactly it when
 * `is_exact`. Entries that cannot enter the top are left for the scan (which prunes them
 * too); *is_done is set when no entry of this name, nor of any name bounded lower, can. */
static int strong_name(struct worker *w, struct strong *st, uint32_t k, int32_t bound, int is_exact,
		       int *is_done)
{
	const struct store *s = st->s;
	for (uint32_t i = s->name_entries_offset[k]; i < s->name_entries_offset[k + 1]; i++) {
		if (is_cancelled(w))
			return w->rc;
		uint32_t id = s->name_entries[i];
		if (!is_strong_candidate(w, st, id))
			continue;
		size_t most;
		int may = has_floor(w) ? may_rank(w, bound, &most) : 1;
		if (may == 0) {
			*is_done = 1;
			return 0;
		}
		if (may < 0 && entry_slashes(s, id) > most)
			continue;
		if (!roaring_bitmap_add_checked(st->done, id))
			continue;
		size_t len;
		if (entry_path(w, id, &len) < 0)
			return -ENOMEM;
		int rc;
		/* A root's path is its name, not "/name": it is matched as it is. */
		if (is_exact && s->parent[id] != STORE_NO_PARENT) {
			w->n_matched++;
			rc = topk_push(&w->top, bound, w->path, len, s->kind[id], id);
		} else {
			rc = offer(w, w->path, len, s->kind[id], id);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Score the entries of names[order[i]] (n of them, bounded by bound[order[i]], best
 * first), until the top beats the next bound. */
static int strong_names(struct worker *w, struct strong *st, const uint32_t *order, uint32_t n,
			const uint32_t *names, const int32_t *bound)
{
	int is_done = 0;
	for (uint32_t i = 0; i < n && !is_done; i++) {
		uint32_t at = order[i];
		int rc = strong_name(w, st, names[at], bound[at], 0, &is_done);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Whether the heap is full and its worst score beats `bound` outright. */
static int beats(const struct topk *t, int32_t bound)
{
	return t->n == t->limit && t->slots[0].score > bound;
}

/* The name claim (score_name_claim()) of a term of n ASCII units on an ASCII name of
 * len bytes that starts with it, case aside. */
static int32_t tier_claim(const char *name, size_t len, size_t n)
{
	if (len == n)
		return BONUS_NAME_EXACT;
	const char *dot = memrchr(name + 1, '.', len - 1);
	return (dot ? (size_t)(dot - name) : len) == n ? BONUS_STEM_EXACT : BONUS_NAME_PREFIX;
}

/* A query of one positive term: bound its prefix-tier names by their claims alone, then
 * take them best bound first, scoring each name alone and then its entries, until no
 * remaining name can enter the top.
 *
 * An entry's score is its best alignment plus the name's claim. The best alignment
 * starting in the name is the name's own (as "/name" scores it), at most the alignment
 * bound plus the in-name bonus; one starting in a directory earns no in-name bonus and
 * scores at most alignment_bound(). So an entry of an ASCII name scores at most
 * max(name score, alignment_bound + claim), and exactly the name's score when that is
 * the larger: the query is the term alone, nothing else to check. Other names keep the
 * looser cross_slack(). A large tier is mostly names the term only starts, whose bound is
 * far below the few it equals or stems: those are rarely scored at all. */
static int strong_single(struct worker *w, struct strong *st, const struct term *t, uint32_t lo,
			 uint32_t hi)
{
	const struct store *s = st->s;
	int32_t slack = cross_slack(t), align = alignment_bound(t);
	int is_alone = w->q->n_groups == 1 && w->q->groups[0].n_terms == 1;
	int is_term_ascii = t->n_units == t->loose_len && is_ascii(t->loose, t->loose_len);
	uint32_t n = hi - lo;
	int32_t *bound = malloc(((size_t)n + 1) * sizeof(*bound));
	uint32_t *order = malloc(((size_t)n + 1) * sizeof(*order));
	int rc = -ENOMEM;
	if (!bound || !order)
		goto out;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = lo + i;
		size_t nl = s->name_offset[k + 1] - s->name_offset[k];
		const char *name = s->name_bytes + s->name_offset[k];
		int is_plain = is_term_ascii && nl >= t->loose_len && is_ascii(name, nl);
		bound[i] = align + BONUS_IN_NAME +
			   (is_plain ? tier_claim(name, nl, t->loose_len) : BONUS_NAME_EXACT);
		order[i] = k;
	}
	/* Best bound first; equal bounds in name order, so the work is deterministic. */
	if ((rc = order_by_bound(order, n, bound, lo)) < 0)
		goto out;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = order[i];
		size_t most;
		if (has_floor(w) && may_rank(w, bound[k - lo], &most) == 0)
			break;
		if (is_cancelled(w)) {
			rc = w->rc;
			goto out;
		}
		size_t nl = s->name_offset[k + 1] - s->name_offset[k];
		const char *name = s->name_bytes + s->name_offset[k];
		if (!reserve(w, nl + 1)) {
			rc = -ENOMEM;
			goto out;
		}
		w->path[0] = '/';
		memcpy(w->path + 1, name, nl);
		w->parent = STORE_NO_PARENT;
		int32_t score;
		if ((rc = trawl_match(w->m, w->q, w->path, nl + 1, &score)) < 0)
			goto out;
		if (!rc)
			continue;
		int32_t name_ub = score + slack;
		int is_exact = 0;
		if (is_term_ascii && nl >= t->loose_len && is_ascii(name, nl)) {
			int32_t other = align + tier_claim(name, nl, t->loose_len);
			name_ub = max32i(score, other);
			is_exact = is_alone && score >= other;
		}
		int is_done = 0; /* names later in this order may still bound higher */
		if (name_ub > bound[k - lo])
			name_ub = bound[k - lo];
		if ((rc = strong_name(w, st, k, name_ub, is_exact && name_ub == score, &is_done)) <
		    0)
			goto out;
	}
	rc = 0;
out:
	free(bound);
	free(order);
	return rc;
}

struct name_range {
	uint32_t lo, hi;
	const struct term *t; /* whose tier this is (strong_phase() only) */
	int is_last;	      /* t is in the query's last group */
};

static int cmp_range(const void *a, const void *b)
{
	const struct name_range *x = a, *y = b;
	return (x->lo > y->lo) - (x->lo < y->lo);
}

static int cmp_range_size(const void *a, const void *b)
{
	const struct name_range *x = a, *y = b;
	uint32_t nx = x->hi - x->lo, ny = y->hi - y->lo;
	return (nx > ny) - (nx < ny);
}

/* Several terms: the names of every tier, each once, get name_bound(), a bound for all
 * of their entries whatever the terms; then as strong_single(). */
static int strong_multi(struct worker *w, struct strong *st, struct name_range *r, size_t n_r)
{
	const struct store *s = st->s;
	qsort(r, n_r, sizeof(*r), cmp_range);
	size_t m = 0;
	uint64_t total = 0;
	for (size_t i = 0; i < n_r; i++) {
		if (r[i].lo >= r[i].hi)
			continue;
		if (m && r[i].lo <= r[m - 1].hi) {
			if (r[i].hi > r[m - 1].hi)
				r[m - 1].hi = r[i].hi;
		} else {
			r[m++] = r[i];
		}
	}
	for (size_t i = 0; i < m; i++)
		total += r[i].hi - r[i].lo;
	if (total == 0)
		return 0;
	/* The tiers' names side by side with their bounds, sorted as positions. */
	uint32_t *names = malloc((size_t)total * sizeof(*names));
	int32_t *bound = malloc((size_t)total * sizeof(*bound));
	uint32_t *order = malloc((size_t)total * sizeof(*order));
	int rc = -ENOMEM;
	if (!names || !bound || !order)
		goto out;
	uint32_t n = 0;
	for (size_t i = 0; i < m; i++) {
		for (uint32_t k = r[i].lo; k < r[i].hi; k++, n++) {
			if (is_cancelled(w)) {
				rc = w->rc;
				goto out;
			}
			size_t nl = s->name_offset[k + 1] - s->name_offset[k];
			names[n] = k;
			bound[n] = name_bound(w, s->name_bytes + s->name_offset[k], nl);
			order[n] = n;
		}
	}
	if ((rc = order_by_bound(order, n, bound, 0)) < 0)
		goto out;
	rc = strong_names(w, st, order, n, names, bound);
out:
	free(names);
	free(bound);
	free(order);
	return rc;
}

/* The first byte at or after `from` in p[0..len) that is not ASCII, or len. */
static size_t next_non_ascii(const char *p, size_t len, size_t from)
{
	size_t i = from;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, sizeof(w));
		if (w & 0x8080808080808080ull)
			break;
	}
	while (i < len && (unsigned char)p[i] < 0x80)
		i++;
	return i;
}

/* Whether folding name k with some variant gives nothing or a '/'. Returns 1, 0,
 * -ENOMEM. */
static int is_odd_fold(const struct store *s, struct fold_buf *fb, uint32_t k)
{
	const char *name = s->name_bytes + s->name_offset[k];
	size_t len = s->name_offset[k + 1] - s->name_offset[k];
	for (unsigned v = 0; v < FOLD_VARIANTS; v++) {
		int rc = fold(fb, name, len, v);
		if (rc < 0)
			return rc;
		if (fb->len == 0)
			return 1;
		for (size_t i = 0; i < fb->len; i++)
			if (fb->units[i] == '/')
				return 1;
	}
	return 0;
}

/* Of tier `big` (names starting with big->t), the names a term's claim can give more
 * than the prefix bonus: those the term equals (into *equal) and those that start with
 * the term and a '.' (into *dotted; stems are among them). Returns 0 or -ENOMEM. */
static int cut_tier(const struct store *s, struct name_folder *nf, const struct name_range *big,
		    struct name_range *equal, struct name_range *dotted)
{
	const struct term *t = big->t;
	*equal = *dotted = *big;
	/* Names are ordered by fold: those equal to the term come first in its tier. */
	uint32_t k = big->lo;
	for (; k < big->hi; k++) {
		size_t n;
		if (!name_folder_fold(nf, s->name_bytes + s->name_offset[k],
				      s->name_offset[k + 1] - s->name_offset[k], &n))
			return -ENOMEM;
		if (n != t->loose_len)
			break;
	}
	equal->hi = k;
	char key[TRAWL_QUERY_MAX_BYTES * 4 + 1];
	if (t->loose_len + 1 > sizeof(key)) {
		*dotted = *big; /* not expected: a term's fold fits the query's bound */
		return 0;
	}
	memcpy(key, t->loose, t->loose_len);
	key[t->loose_len] = '.';
	store_prefix_range(s, nf, key, t->loose_len + 1, &dotted->lo, &dotted->hi);
	return 0;
}

/* Whether some name of the base folds to nothing or holds a '/' once folded: then an
 * entry's basename need not be its name, and a term may claim it outside its tier. Only
 * names with non-ASCII bytes can: the names' bytes are scanned a word at a time for
 * those. Computed once per base; racing searches compute the same answer. Returns 1, 0,
 * or -ENOMEM. */
static int has_odd_folds(struct base *b)
{
	int known = atomic_load_explicit(&b->odd_folds, memory_order_relaxed);
	if (known)
		return known == 2;
	const struct store *s = &b->store;
	const size_t len = s->name_offset[s->n_names];
	struct fold_buf fb;
	fold_buf_init(&fb);
	int rc = 0;
	size_t at = next_non_ascii(s->name_bytes, len, 0);
	while (at < len && rc == 0) {
		/* The name holding byte `at`: the last whose offset is at or before it. */
		uint32_t lo = 0, hi = s->n_names;
		while (hi - lo > 1) {
			uint32_t mid = lo + (hi - lo) / 2;
			if (s->name_offset[mid] <= at)
				lo = mid;
			else
				hi = mid;
		}
		rc = is_odd_fold(s, &fb, lo);
		at = next_non_ascii(s->name_bytes, len, s->name_offset[lo + 1]);
	}
	fold_buf_release(&fb);
	if (rc < 0)
		return rc;
	atomic_store_explicit(&b->odd_folds, rc ? 2 : 1, memory_order_relaxed);
	return rc;
}

/* Score the prefix tiers; *ub_rest gets the best score an entry outside every tier
 * could reach, or INT32_MAX when some tier was too large to score. */
static int strong_phase(struct worker *w, struct strong *st, const struct trawl_query *q,
			int32_t *ub_rest, int32_t *claim_slack)
{
	*claim_slack = 0;
	const struct store *s = st->s;
	const struct term *single = NULL; /* the one positive term, if there is one */
	size_t n_positive = 0;
	int64_t rest = 0;
	for (size_t g = 0; g < q->n_groups; g++) {
		const struct group *grp = &q->groups[g];
		int32_t group_best = 0; /* a negated alternative can make a group score 0 */
		for (size_t k = 0; k < grp->n_terms; k++) {
			const struct term *t = &grp->terms[k];
			if (t->is_negated)
				continue;
			n_positive++;
			single = t;
			int32_t ub = ub_outside_tier(t);
			if (ub > group_best)
				group_best = ub;
		}
		rest += group_best;
	}
	*ub_rest = rest > INT32_MAX ? INT32_MAX : (int32_t)rest;
	if (n_positive == 0)
		return 0;
	if (*ub_rest == INT32_MAX)
		*claim_slack = INT32_MAX;
	struct name_folder nf;
	name_folder_init(&nf);
	struct name_range *ranges = NULL;
	int rc = 0;
	/* A suffix term need not start a name: the tier's bound does not hold for it. A term
	 * folded with case or marks kept claims only names whose loose fold starts with its
	 * own: the loose range holds them, and others besides, whose bounds are only
	 * looser than they could be. */
	if (n_positive == 1 && single->kind != TERM_SUFFIX) {
		uint32_t lo, hi;
		store_prefix_range(s, &nf, single->loose, single->loose_len, &lo, &hi);
		rc = strong_single(w, st, single, lo, hi);
		goto out;
	}
	/* Each tier, and the two parts a tier too large may be cut down to. */
	if (!(ranges = malloc(3 * n_positive * sizeof(*ranges)))) {
		rc = -ENOMEM;
		goto out;
	}
	size_t n_r = 0;
	uint64_t n_names = 0;
	for (size_t g = 0; g < q->n_groups; g++) {
		for (size_t k = 0; k < q->groups[g].n_terms; k++) {
			const struct term *t = &q->groups[g].terms[k];
			if (t->is_negated)
				continue;
			if (t->kind == TERM_SUFFIX) {
				*ub_rest = INT32_MAX;
				*claim_slack = INT32_MAX;
				continue;
			}
			struct name_range *nr = &ranges[n_r++];
			store_prefix_range(s, &nf, t->loose, t->loose_len, &nr->lo, &nr->hi);
			nr->t = t;
			nr->is_last = g + 1 == q->n_groups;
			n_names += nr->hi - nr->lo;
		}
	}
	if (n_names > st->max_names) {
		/* The smallest tiers still set the score to beat. Of the others, only the
		 * names a term equals or stems are scored here (they are few, and their claims
		 * large); the rest go to the scan, where a name claim adds at most the prefix
		 * bonus. */
		qsort(ranges, n_r, sizeof(*ranges), cmp_range_size);
		size_t keep = 0;
		for (n_names = 0; keep < n_r; keep++) {
			n_names += ranges[keep].hi - ranges[keep].lo;
			if (n_names > st->max_names)
				break;
		}
		n_names -= keep < n_r ? ranges[keep].hi - ranges[keep].lo : 0;
		/* The cut tiers move to the end of the array (it has room for three ranges a
		 * term), their parts are written after the kept ones. */
		size_t n_cut = n_r - keep;
		memmove(ranges + 2 * n_positive, ranges + keep, n_cut * sizeof(*ranges));
		n_r = keep;
		for (size_t i = 0; i < n_cut && *claim_slack != INT32_MAX; i++) {
			struct name_range big = ranges[2 * n_positive + i];
			if ((rc = cut_tier(s, &nf, &big, &ranges[n_r], &ranges[n_r + 1])) < 0)
				goto out;
			n_names += (uint64_t)(ranges[n_r].hi - ranges[n_r].lo) +
				   (ranges[n_r + 1].hi - ranges[n_r + 1].lo);
			n_r += 2;
			int32_t slack = big.is_last ? BONUS_NAME_PREFIX
						    : BONUS_NAME_PREFIX / NAME_CLAIM_EARLY_DIVISOR;
			*claim_slack = max32i(*claim_slack, slack);
			if (n_names > st->max_names)
				*claim_slack = INT32_MAX;
		}
		if (*claim_slack == INT32_MAX) {
			n_r = keep;
			*ub_rest = INT32_MAX;
		} else {
			*ub_rest += *claim_slack;
		}
	}
	rc = strong_multi(w, st, ranges, n_r);
out:
	free(ranges);
	name_folder_release(&nf);
	return rc;
}

/* ---- the scan ---- */

/* Scan `cand` (n_cand of them; NULL: every live id) in [lo, hi) on the first n_scan
 * workers, in chunks taken in turn, looking only at what `allow` allows (NULL: all; see
 * struct split); and the delta's n_delta records on all n_workers when `share_delta`,
 * else on the first alone. */
static void run_scan(struct worker *ws, size_t n_workers, size_t n_scan,
		     const roaring_bitmap_t *cand, uint64_t n_cand, uint32_t lo, uint32_t hi,
		     int is_keeping, const uint8_t *allow, uint32_t n_delta, int share_delta)
{
	struct chunks chunks = {.n = n_scan * SEARCH_CHUNKS_PER_WORKER};
	chunks.start[0] = lo;
	for (size_t c = 1; c <= chunks.n; c++) {
		uint32_t end = hi;
		if (c < chunks.n) {
			uint64_t share = n_cand * c / chunks.n;
			if (cand)
				roaring_bitmap_select(cand, (uint32_t)share, &end);
			else
				end = lo + (uint32_t)share;
		}
		chunks.start[c] = end;
	}
	for (size_t i = 0; i < n_scan; i++) {
		struct worker *w = &ws[i];
		w->candidates = cand;
		w->is_keeping = is_keeping && cand;
		w->allow = allow;
		w->lo = lo;
		w->hi = hi;
		w->chunks = n_scan > 1 ? &chunks : NULL;
	}
	size_t n_run = n_scan;
	if (n_delta) {
		n_run = share_delta ? n_workers : 1;
		for (size_t i = 0; i < n_run; i++) {
			ws[i].delta_lo = (uint32_t)((uint64_t)n_delta * i / n_run);
			ws[i].delta_hi = (uint32_t)((uint64_t)n_delta * (i + 1) / n_run);
		}
	}
	_Atomic int32_t shared_floor = INT32_MIN;
	for (size_t i = 0; i < n_run && n_run > 1; i++)
		ws[i].shared = &shared_floor;
	pthread_t tids[SEARCH_MAX_THREADS];
	int started[SEARCH_MAX_THREADS] = {0};
	for (size_t i = 1; i < n_run; i++)
		started[i] = pthread_create(&tids[i], NULL, work, &ws[i]) == 0;
	if (n_run)
		work(&ws[0]);
	for (size_t i = 1; i < n_run; i++) {
		if (started[i])
			pthread_join(tids[i], NULL);
		else
			work(&ws[i]);
	}
	for (size_t i = 0; i < n_run; i++) {
		ws[i].shared = NULL;
		ws[i].chunks = NULL;
		ws[i].allow = NULL;
		ws[i].delta_lo = ws[i].delta_hi = 0;
	}
}

/* How many workers a scan of n candidates takes. */
static size_t scan_workers(uint64_t n, size_t n_workers)
{
	return n == 0 ? 0 : n < SEARCH_PARALLEL_MIN_CANDIDATES ? 1 : n_workers;
}

static int cmp_score_desc(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return (x < y) - (x > y);
}

/* The worst score of the best `limit` the workers hold together; INT32_MIN when they
 * hold fewer (or out of memory: no floor is always safe). */
static int32_t merged_floor(const struct worker *ws, size_t n_workers, size_t limit)
{
	size_t n = 0, total = 0;
	for (size_t i = 0; i < n_workers; i++)
		total += ws[i].top.n;
	if (total < limit || limit == 0)
		return INT32_MIN;
	int32_t *all = malloc(total * sizeof(*all));
	if (!all)
		return INT32_MIN;
	for (size_t i = 0; i < n_workers; i++)
		for (size_t j = 0; j < ws[i].top.n; j++)
			all[n++] = ws[i].top.slots[j].score;
	qsort(all, n, sizeof(*all), cmp_score_desc);
	int32_t floor = all[limit - 1];
	free(all);
	return floor;
}

/* Give every worker `floor` as the score to beat; ties may still rank. */
static void set_floor(struct worker *ws, size_t n_workers, int32_t floor)
{
	for (size_t i = 0; i < n_workers; i++) {
		if (floor > ws[i].floor) {
			ws[i].floor = floor;
			ws[i].floor_slashes = SIZE_MAX;
		}
	}
}

/* ---- splitting the scan by what the names hold ----
 *
 * A term's alignment earns the in-name bonus only when it starts in the name, which
 * then holds every unit of the term: the name's mask has the term's bits. An entry
 * outside the prefix tiers whose name does not hold term t gets at most t's alignment
 * bound from it, and the whole-component bonus only when a directory above it equals t.
 * So what an entry can score is bounded by its class: which terms its name holds, and
 * which a directory above it equals (struct split). The scan looks first at the classes
 * that can beat the top (with a full top), or at those whose name holds some term or
 * that are below a directory equal to one (without one); then at the others that can
 * still beat the top the first round left, if any: typed terms are mostly in the names
 * of what ranks. Per entry, the class costs a few operations on its name's mask, where
 * scoring it would first push its directories. A split scan teaches a session nothing
 * (it does not note what it passes over), and a search a session narrows is not split:
 * narrowing mostly leaves less to look at than a split, and keeps the next keystroke
 * narrowing. */

/* Below this many candidates the split saves less than it costs (by default; see
 * trawl_search_options.split_min_candidates). */
#define SPLIT_MIN_CANDIDATES (1u << 18)

static int cmp_range_lo(const void *a, const void *b)
{
	const uint32_t *x = a, *y = b;
	return (x[0] > y[0]) - (x[0] < y[0]);
}

/* The subtrees below the directories whose names fold as term t does, into sp (term
 * index ti): names are ordered by fold, so those equal to the term start its range.
 * Returns 0 or -ENOMEM. */
static int dirs_equal(const struct store *s, struct name_folder *nf, const struct term *t,
		      struct split *sp, size_t ti)
{
	uint32_t lo, hi;
	store_prefix_range(s, nf, t->loose, t->loose_len, &lo, &hi);
	size_t n = 0, cap = 0;
	uint32_t *r = NULL;
	for (uint32_t k = lo; k < hi; k++) {
		size_t len;
		if (!name_folder_fold(nf, s->name_bytes + s->name_offset[k],
				      s->name_offset[k + 1] - s->name_offset[k], &len)) {
			free(r);
			return -ENOMEM;
		}
		if (len != t->loose_len)
			break;
		for (uint32_t i = s->name_entries_offset[k]; i < s->name_entries_offset[k + 1];
		     i++) {
			uint32_t id = s->name_entries[i], end = store_subtree_end(s, id);
			if (end <= id + 1)
				continue;
			if (n == cap) {
				cap = cap ? 2 * cap : 64;
				uint32_t *more = realloc(r, 2 * cap * sizeof(*r));
				if (!more) {
					free(r);
					return -ENOMEM;
				}
				r = more;
			}
			r[2 * n] = id + 1;
			r[2 * n++ + 1] = end;
		}
	}
	/* Subtrees nest or are apart: keep the outermost. */
	if (n)
		qsort(r, n, 2 * sizeof(*r), cmp_range_lo);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m && r[2 * i] < r[2 * (m - 1) + 1])
			continue;
		r[2 * m] = r[2 * i];
		r[2 * m++ + 1] = r[2 * i + 1];
	}
	sp->below[ti] = r;
	sp->n_below[ti] = m;
	return 0;
}

static void split_release(struct split *sp)
{
	for (size_t t = 0; t < sp->n_terms; t++)
		free(sp->below[t]);
	sp->n_terms = 0;
}

/* Fill *sp for query q, given that a name claim adds at most claim_slack: 1 when the
 * scan is worth splitting, 0 when the query has too many terms or nothing would be
 * left out, -ENOMEM. */
static int plan_split(const struct worker *w, const struct trawl_query *q, const struct base *b,
		      int32_t claim_slack, struct split *sp)
{
	memset(sp, 0, sizeof(*sp));
	sp->p = &b->postings;
	struct name_folder nf;
	name_folder_init(&nf);
	int rc = 1;
	for (size_t gi = 0; gi < q->n_groups && rc == 1; gi++) {
		for (size_t k = 0; k < q->groups[gi].n_terms && rc == 1; k++) {
			if (sp->n_terms == SPLIT_MAX_TERMS) {
				rc = 0;
				break;
			}
			const struct term *t = &q->groups[gi].terms[k];
			uint32_t need = 0;
			for (size_t i = 0; i < t->loose_len; i++)
				need |= name_mask_bit((unsigned char)t->loose[i]);
			size_t ti = sp->n_terms++;
			sp->need[ti] = need;
			sp->group_of[ti] = gi;
			if (dirs_equal(&b->store, &nf, t, sp, ti) < 0)
				rc = -ENOMEM;
		}
	}
	name_folder_release(&nf);
	if (rc != 1) {
		split_release(sp);
		return rc;
	}
	size_t n = sp->n_terms;
	sp->n_bits = 2 * n;
	if (n == 1) {
		const struct term *t = &q->groups[0].terms[0];
		sp->need_last =
		    t->loose_len ? name_mask_bit((unsigned char)t->loose[t->loose_len - 1]) : 0;
		sp->n_bits++;
	}
	for (uint32_t c = 0; c < (1u << sp->n_bits); c++) {
		/* A claim needs a name that starts with its term, and so holds it. */
		int64_t total = c & ((1u << n) - 1) ? claim_slack : 0;
		/* One term that cannot end in the name ends in the directories. */
		if (n == 1 && !(c & 1) && !(c >> 2 & 1))
			total -= PENALTY_NAME_TAIL_MAX;
		for (size_t gi = 0, t = 0; gi < q->n_groups; gi++) {
			int32_t best = INT32_MIN;
			for (; t < n && sp->group_of[t] == gi; t++)
				best = max32i(best,
					      w->align_bound[t] + (c >> t & 1 ? BONUS_IN_NAME : 0) +
						  (c >> (n + t) & 1 ? BONUS_COMPONENT_EXACT : 0));
			total += best;
		}
		sp->bound[c] = total > INT32_MAX ? INT32_MAX : (int32_t)total;
	}
	uint32_t held = (1u << n) - 1;
	for (uint32_t c = 0; c < (1u << sp->n_bits); c++) {
		int64_t low = (int64_t)sp->bound[c & ~held] + (c & held ? claim_slack : 0);
		sp->lowest[c] = low > INT32_MAX ? INT32_MAX : (int32_t)low;
	}
	/* When every class may beat the top (class 0, names that hold no term below no
	 * directory equal to one, bounds lowest), the first round is the scan. Without a
	 * top, a query of several terms mostly ends with a score to beat below that bound,
	 * and then the second round costs more than the first saved ('core multiarray':
	 * 106 ms split, 78 ms not): only a single term, whose names mostly hold it, is
	 * split then. */
	int is_full = w->top.n == w->top.limit;
	if ((!is_full && n > 1) || (is_full && sp->bound[0] >= w->top.slots[0].score)) {
		split_release(sp);
		return 0;
	}
	return 1;
}

/* The split scan of `cand`, in rounds. Counts what it never looks at as pruned. */
static void split_scan(struct worker *ws, size_t n_workers, const struct split *sp,
		       const roaring_bitmap_t *cand, uint64_t n_cand, uint32_t lo, uint32_t hi,
		       uint32_t n_delta, int share_delta)
{
	size_t limit = ws[0].top.limit;
	uint8_t allow[SPLIT_CLASSES], later[SPLIT_CLASSES];
	uint32_t n_classes = 1u << sp->n_bits;
	/* Without a top: the names that hold a term, and what is below a directory equal
	 * to one. */
	uint32_t hot = (1u << (2 * sp->n_terms)) - 1;
	int32_t floor = merged_floor(ws, n_workers, limit);
	for (uint32_t c = 0; c < n_classes; c++)
		allow[c] = floor > INT32_MIN ? sp->bound[c] >= floor : (c & hot) != 0;
	size_t n_scan = scan_workers(n_cand, n_workers);
	for (size_t i = 0; i < n_scan; i++) {
		ws[i].split = sp;
		ws[i].allowed = NULL;
		ws[i].n_filtered = 0;
	}
	run_scan(ws, n_workers, n_scan, cand, n_cand, lo, hi, 0, allow, n_delta, share_delta);
	/* The second round: what the first left that can still beat the top. */
	floor = merged_floor(ws, n_workers, limit);
	set_floor(ws, n_workers, floor);
	int is_more = 0;
	for (uint32_t c = 0; c < n_classes; c++) {
		later[c] = !allow[c] && (floor == INT32_MIN || sp->bound[c] >= floor);
		is_more |= later[c];
	}
	if (is_more && !ws[0].rc) {
		for (size_t i = 0; i < n_scan; i++) {
			ws[i].allowed = allow;
			ws[i].n_filtered = 0;
		}
		run_scan(ws, n_workers, n_scan, cand, n_cand, lo, hi, 0, later, 0, 0);
	}
	/* Never looked at: pruned, unverified. */
	for (size_t i = 0; i < n_scan; i++) {
		ws[i].n_pruned += ws[i].n_filtered;
		ws[i].split = NULL;
		ws[i].allowed = NULL;
	}
}

/* ---- results ---- */

struct trawl_session;
static void session_seed(struct trawl_session *session, const struct slot *const *best, size_t n,
			 uint64_t serial);

void trawl_results_release(struct trawl_results *r)
{
	free(r->items);
	free(r->arena);
	memset(r, 0, sizeof(*r));
}

static int cmp_slot(const void *a, const void *b)
{
	const struct slot *x = *(const struct slot *const *)a, *y = *(const struct slot *const *)b;
	return trawl_rank_cmp(x->score, x->path, x->len, y->score, y->path, y->len);
}

/* Merge the workers' tops into `out`; with `session`, its seeds become the results'
 * base ids. */
static int collect(struct worker *ws, size_t n_workers, size_t limit, struct trawl_results *out,
		   struct trawl_session *session, uint64_t serial)
{
	size_t total = 0, bytes = 0;
	for (size_t i = 0; i < n_workers; i++)
		total += ws[i].top.n;
	const struct slot **all = malloc((total ? total : 1) * sizeof(*all));
	if (!all)
		return -ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < n_workers; i++)
		for (size_t j = 0; j < ws[i].top.n; j++)
			all[k++] = &ws[i].top.slots[j];
	qsort(all, total, sizeof(*all), cmp_slot);
	size_t n = total < limit ? total : limit;
	for (size_t i = 0; i < n; i++)
		bytes += all[i]->len + 1;
	struct trawl_result *items = realloc(out->items, (n ? n : 1) * sizeof(*items));
	if (items)
		out->items = items;
	if (bytes > out->arena_cap) {
		char *arena = realloc(out->arena, bytes);
		if (arena) {
			out->arena = arena;
			out->arena_cap = bytes;
		}
	}
	if (!items || bytes > out->arena_cap) {
		free(all);
		return -ENOMEM;
	}
	size_t at = 0;
	for (size_t i = 0; i < n; i++) {
		memcpy(out->arena + at, all[i]->path, all[i]->len);
		out->arena[at + all[i]->len] = '\0';
		out->items[i] =
		    (struct trawl_result){NULL, all[i]->len, all[i]->score, all[i]->kind};
		at += all[i]->len + 1;
	}
	/* Point into the arena only once it no longer moves. */
	at = 0;
	for (size_t i = 0; i < n; i++) {
		out->items[i].path = out->arena + at;
		at += out->items[i].path_len + 1;
	}
	out->n_items = n;
	out->arena_len = at;
	if (session)
		session_seed(session, all, n, serial);
	free(all);
	return 0;
}

/* The candidates left for the scan: those the strong phase did not score. */
static int make_scan_set(roaring_bitmap_t **cand, const struct strong *st,
			 const roaring_bitmap_t *dead, uint32_t lo, uint32_t hi)
{
	if (roaring_bitmap_is_empty(st->done))
		return 0;
	if (!*cand) {
		if (lo >= hi) {
			*cand = roaring_bitmap_create();
			return *cand ? 0 : -ENOMEM;
		}
		if (!(*cand = roaring_bitmap_from_range(lo, hi, 1)))
			return -ENOMEM;
		roaring_bitmap_andnot_inplace(*cand, dead);
	}
	roaring_bitmap_andnot_inplace(*cand, st->done);
	return 0;
}

/* ---- the empty query ----
 *
 * Every entry matches it with score 0, so the best are those with the fewest '/' (then
 * the shortest, then byte order). Entries one level below the scope have as many '/' as
 * each other: the base is listed level by level, a level's directories found among the
 * previous level's children, and the walk ends after the first level that leaves the top
 * full. The count is the size of the scope, less its tombstones and what the user may not
 * see.
 */

/* A directory of the current level and the length of its path. */
struct level_dir {
	uint32_t id;
	uint32_t path_len;
};

struct levels {
	struct level_dir *dirs, *next;
	size_t n, n_next, cap;
};

static int levels_push(struct levels *l, uint32_t id, size_t path_len)
{
	if (l->n_next == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct level_dir *dirs = realloc(l->dirs, cap * sizeof(*dirs));
		if (dirs)
			l->dirs = dirs;
		struct level_dir *next = realloc(l->next, cap * sizeof(*next));
		if (next)
			l->next = next;
		if (!dirs || !next)
			return -ENOMEM;
		l->cap = cap;
	}
	l->next[l->n_next++] = (struct level_dir){id, (uint32_t)path_len};
	return 0;
}

/* Offer base entry `id` of `len` path bytes and `slashes` '/', unless the full top
 * already holds better: the first two tie-breaks are known without building the path. */
static int offer_listed(struct worker *w, uint32_t id, size_t len, size_t slashes)
{
	const struct store *s = &w->g->base->store;
	if (w->top.n == w->top.limit) {
		const struct slot *worst = &w->top.slots[0];
		size_t worst_slashes = path_slashes(worst->path, worst->len);
		if (slashes > worst_slashes || (slashes == worst_slashes && len > worst->len))
			return 0;
	}
	if (!reserve(w, len))
		return -ENOMEM;
	store_path(s, id, w->path, w->cap);
	w->parent = STORE_NO_PARENT;
	return offer(w, w->path, len, s->kind[id], id);
}

/* List the base below `top_id` into w's top, and `top_id` itself (the root) when
 * `is_top_listed`. */
static int list_levels(struct worker *w, uint32_t top_id, int is_top_listed)
{
	const struct store *s = &w->g->base->store;
	struct levels l = {0};
	size_t top_len = store_path(s, top_id, NULL, 0);
	if (!reserve(w, top_len))
		return -ENOMEM;
	store_path(s, top_id, w->path, w->cap);
	/* The root's children have one '/', as the root itself; a scope's, one more than
	 * the scope. */
	size_t slashes = top_id == 0 ? 1 : path_slashes(w->path, top_len) + 1;
	int rc = levels_push(&l, top_id, top_len);
	if (rc == 0 && is_top_listed && (s->kind[top_id] & w->kinds))
		rc = offer_listed(w, top_id, top_len, 1);
	while (rc == 0 && l.n_next) {
		struct level_dir *swap = l.dirs;
		l.dirs = l.next;
		l.next = swap;
		l.n = l.n_next;
		l.n_next = 0;
		for (size_t i = 0; i < l.n && rc == 0; i++) {
			uint32_t d = l.dirs[i].id;
			/* Only the root's path ends in '/'. */
			size_t prefix = l.dirs[i].path_len + (d != 0);
			uint32_t end = store_subtree_end(s, d), next;
			for (uint32_t c = d + 1; c < end && rc == 0; c = next) {
				next = store_subtree_end(s, c);
				if (is_cancelled(w)) {
					rc = w->rc;
					break;
				}
				if (!is_base_live(w, c))
					continue;
				size_t n;
				store_name(s, c, &n);
				if (s->kind[c] & w->kinds)
					rc = offer_listed(w, c, prefix + n, slashes);
				if (rc == 0 && next > c + 1)
					rc = levels_push(&l, c, prefix + n);
			}
		}
		/* Deeper levels have more '/' than everything the top holds. */
		if (w->top.n == w->top.limit)
			break;
		slashes++;
	}
	free(l.dirs);
	free(l.next);
	return rc;
}

/* Base entries of the kinds in [lo, hi) that are not `dead`. */
static uint64_t count_live(const struct generation *g, const roaring_bitmap_t *dead_ids,
			   uint32_t lo, uint32_t hi, unsigned kinds)
{
	const struct store *s = &g->base->store;
	if (lo >= hi)
		return 0;
	uint64_t dead = roaring_bitmap_range_cardinality(dead_ids, lo, hi);
	if ((kinds & TRAWL_KIND_ANY) == TRAWL_KIND_ANY)
		return hi - lo - dead;
	uint64_t n = 0;
	for (uint32_t id = lo; id < hi; id++)
		n += (s->kind[id] & kinds) != 0;
	if (dead) {
		roaring_uint32_iterator_t it;
		roaring_init_iterator(dead_ids, &it);
		if (roaring_move_uint32_iterator_equalorlarger(&it, lo))
			for (; it.has_value && it.current_value < hi;
			     roaring_advance_uint32_iterator(&it))
				n -= (s->kind[it.current_value] & kinds) != 0;
	}
	return n;
}

/* ---- the search ---- */

/* The scope: the base range [*lo, *hi) strictly under `under` (empty when it is a delta
 * directory) and its node, or -ENOENT when it is not a live directory `vis` shows: a
 * hidden directory answers as one that does not exist. */
static int resolve_scope(const struct generation *g, const struct trawl_visibility *vis,
			 const char *under, size_t under_len, uint32_t *lo, uint32_t *hi,
			 uint32_t *node)
{
	const struct store *s = &g->base->store;
	struct name_folder nf;
	name_folder_init(&nf);
	int rc = generation_resolve(g, &nf, under, under_len, node);
	name_folder_release(&nf);
	if (rc < 0)
		return rc;
	if (generation_node_kind(g, *node) != TRAWL_KIND_DIR ||
	    (vis && !visibility_node_visible(vis, g, *node)))
		return -ENOENT;
	if (*node < s->n_entries) {
		*lo = *node + 1;
		*hi = store_subtree_end(s, *node);
	} else {
		*lo = *hi = 0;
	}
	return 0;
}

/* ---- sessions ---- */

struct trawl_session {
	uint64_t base_serial; /* 0: nothing known */
	struct trawl_query *q;
	unsigned kinds;
	char *under; /* NULL: everywhere */
	size_t under_len;
	/* The base ids q matched or did not rule out: what its strong phase scored, and
	 * each scanning worker's ascending ids. Made into one set only when a search uses
	 * it: most keystrokes are followed by one that does, but a search should not pay
	 * for what the next may not need. */
	roaring_bitmap_t *done;
	uint32_t *kept[SEARCH_MAX_THREADS];
	size_t n_kept[SEARCH_MAX_THREADS];
	size_t n_parts;
	/* The base ids of the last search's results, best first (at most SESSION_SEEDS),
	 * from the base of seed_serial: the next search scores them before anything else.
	 * Typing changes a query a little, and what ranked before mostly ranks again: a
	 * full top from the start lets the search prune from its first candidate. */
	uint64_t seed_serial;
	uint32_t *seeds;
	size_t n_seeds;
};

struct trawl_session *trawl_session_new(void)
{
	return calloc(1, sizeof(struct trawl_session));
}

/* Forget what narrows the next search (not the seeds). */
static void session_forget(struct trawl_session *s)
{
	trawl_query_free(s->q);
	free(s->under);
	bitmap_free(s->done);
	for (size_t i = 0; i < s->n_parts; i++)
		free(s->kept[i]);
	*s = (struct trawl_session){
	    .seed_serial = s->seed_serial, .seeds = s->seeds, .n_seeds = s->n_seeds};
}

void trawl_session_free(struct trawl_session *s)
{
	if (!s)
		return;
	session_forget(s);
	free(s->seeds);
	free(s);
}

/* Make the base entries among the first n results the session's seeds. On failure the
 * session keeps none. */
static void session_seed(struct trawl_session *session, const struct slot *const *best, size_t n,
			 uint64_t serial)
{
	if (n > SESSION_SEEDS)
		n = SESSION_SEEDS;
	if (!session->seeds && !(session->seeds = malloc(SESSION_SEEDS * sizeof(uint32_t)))) {
		session->n_seeds = 0;
		return;
	}
	session->n_seeds = 0;
	for (size_t i = 0; i < n; i++)
		if (best[i]->id != SLOT_NO_ID)
			session->seeds[session->n_seeds++] = best[i]->id;
	session->seed_serial = serial;
}

/* Score the session's seeds that are candidates of this search, first: they set the
 * score to beat. They count as done, so nothing scores them twice. */
static int seed_top(struct worker *w, struct strong *st, const struct trawl_session *session,
		    uint64_t serial)
{
	const struct store *s = st->s;
	if (session->seed_serial != serial)
		return 0;
	for (size_t i = 0; i < session->n_seeds; i++) {
		uint32_t id = session->seeds[i];
		if (id >= s->n_entries || !is_strong_candidate(w, st, id) ||
		    !roaring_bitmap_add_checked(st->done, id))
			continue;
		size_t len;
		if (entry_path(w, id, &len) < 0)
			return -ENOMEM;
		int rc = offer(w, w->path, len, s->kind[id], id);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Whether the session's last search bounds this one's matches among the base's ids. */
static int session_applies(const struct trawl_session *s, const struct base *b,
			   const struct trawl_query *q, unsigned kinds, const char *under,
			   size_t under_len)
{
	return s->done && s->base_serial == b->serial && s->kinds == kinds &&
	       (s->under ? under && s->under_len == under_len && !memcmp(s->under, under, under_len)
			 : !under) &&
	       query_narrows(s->q, q);
}

/* Remember what this search could not rule out: the workers' kept candidates (their
 * arrays move to the session) and what the strong phase scored. On any failure the
 * session is left knowing nothing. */
static void session_learn(struct trawl_session *s, const struct base *b,
			  const struct trawl_query *q, unsigned kinds, const char *under,
			  size_t under_len, struct worker *ws, size_t n_workers,
			  const roaring_bitmap_t *done)
{
	session_forget(s);
	for (size_t i = 0; i < n_workers; i++)
		if (!ws[i].is_keeping)
			return;
	s->under = under ? malloc(under_len + 1) : NULL;
	if ((under && !s->under) || !(s->done = roaring_bitmap_copy(done)) ||
	    query_copy(q, &s->q) < 0) {
		session_forget(s);
		return;
	}
	if (under)
		memcpy(s->under, under, under_len);
	for (size_t i = 0; i < n_workers; i++) {
		/* Give back what the doubling left unused. */
		uint32_t *fit =
		    ws[i].n_kept ? realloc(ws[i].kept, ws[i].n_kept * sizeof(*fit)) : NULL;
		s->kept[i] = fit ? fit : ws[i].kept;
		s->n_kept[i] = ws[i].n_kept;
		ws[i].kept = NULL;
		ws[i].n_kept = ws[i].kept_cap = 0;
	}
	s->n_parts = n_workers;
	s->under_len = under_len;
	s->kinds = kinds;
	s->base_serial = b->serial;
}

/* Narrow the candidates to what the session's search could not rule out. Returns 0 or
 * -ENOMEM. */
static int session_narrow(const struct trawl_session *s, roaring_bitmap_t *cand)
{
	roaring_bitmap_t *may = roaring_bitmap_copy(s->done);
	if (!may)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_parts; i++)
		roaring_bitmap_add_many(may, s->n_kept[i], s->kept[i]);
	roaring_bitmap_and_inplace(cand, may);
	bitmap_free(may);
	return 0;
}

int trawl_index_search(struct trawl_index *ix, const struct trawl_query *q,
		       const struct trawl_search_options *opts, struct trawl_results *out)
{
	static const struct trawl_search_options defaults = {0};
	if (!opts)
		opts = &defaults;
	size_t limit = opts->limit ? opts->limit : SEARCH_DEFAULT_LIMIT;
	unsigned kinds = opts->kinds ? opts->kinds : TRAWL_KIND_ANY;
	unsigned threads = opts->threads ? opts->threads : ix->threads;
	if (threads > SEARCH_MAX_THREADS)
		threads = SEARCH_MAX_THREADS;
	if (threads == 0)
		threads = 1;
	/* A search cancelled before it starts does nothing, whatever the query. */
	if (opts->cancel && atomic_load_explicit(opts->cancel, memory_order_relaxed))
		return -ECANCELED;
	struct generation *g = generation_get(ix);
	const struct store *s = &g->base->store;
	struct worker ws[SEARCH_MAX_THREADS];
	memset(ws, 0, sizeof(ws));
	roaring_bitmap_t *cand = NULL;
	struct split split; /* with is_split, how the scan is split */
	int is_split = 0;
	int32_t *align_bound = NULL;
	size_t n_workers = 0, n_scan = 0;
	int is_everything = q->n_groups == 0;
	struct strong st = {
	    s, opts->tier_max_names ? opts->tier_max_names : STRONG_MAX_NAMES, NULL, 0, 0, NULL};
	int rc = 0;

	/* What the user may not see is gone for this search, as if removed: the base ids
	 * join the tombstones, delta records are checked by their parents. */
	const struct trawl_visibility *vis = NULL;
	struct trawl_visibility *own_vis = NULL;
	const roaring_bitmap_t *dead = g->tombstones;
	roaring_bitmap_t *own_dead = NULL;
	if (opts->visible && !opts->visible->is_everything) {
		if ((rc = visibility_for(opts->visible, g, &own_vis)) < 0)
			goto out;
		vis = own_vis ? own_vis : opts->visible;
		if (!(own_dead = roaring_bitmap_or(g->tombstones, vis->hidden))) {
			rc = -ENOMEM;
			goto out;
		}
		dead = own_dead;
	}

	/* Scope: the base range of `under`, and a prefix test for the delta. */
	uint32_t lo = 0, hi = s->n_entries, top_id = 0;
	const char *under = opts->under;
	size_t under_len = under ? path_trim(under, opts->under_len) : 0;
	if (under && (rc = resolve_scope(g, vis, under, under_len, &lo, &hi, &top_id)) < 0)
		goto out;

	if (!is_everything && (rc = query_candidates(&g->base->postings, q, &cand)) < 0)
		goto out;
	if (cand) {
		if (lo > 0)
			roaring_bitmap_remove_range_closed(cand, 0, lo - 1);
		if (hi < s->n_entries)
			roaring_bitmap_remove_range_closed(cand, hi, UINT32_MAX);
		roaring_bitmap_andnot_inplace(cand, dead);
	}
	/* A session helps searches of the whole index as every user sees it. */
	struct trawl_session *session =
	    opts->session && (!opts->visible || opts->visible->is_everything) ? opts->session
									      : NULL;
	/* Narrowed by the session: the scan is not split (split_scan()). */
	int is_narrowed =
	    session && cand && session_applies(session, g->base, q, kinds, under, under_len);
	if (is_narrowed && (rc = session_narrow(session, cand)) < 0)
		goto out;

	size_t n_terms = 0;
	for (size_t k = 0; k < q->n_groups; k++)
		n_terms += q->groups[k].n_terms;
	align_bound = malloc((n_terms ? n_terms : 1) * sizeof(*align_bound));
	if (!align_bound) {
		rc = -ENOMEM;
		goto out;
	}
	n_terms = 0;
	for (size_t k = 0; k < q->n_groups; k++)
		for (size_t t = 0; t < q->groups[k].n_terms; t++, n_terms++)
			align_bound[n_terms] = alignment_bound(&q->groups[k].terms[t]);
	n_workers = threads;
	for (size_t i = 0; i < n_workers; i++) {
		struct worker *w = &ws[i];
		w->g = g;
		w->dead = dead;
		w->vis = vis;
		w->q = q;
		w->align_bound = align_bound;
		w->floor = INT32_MIN;
		w->claim_slack = INT32_MAX; /* known once the strong phase has run */
		w->kinds = kinds;
		w->under = under;
		w->under_len = under_len;
		w->cancel = opts->cancel;
		w->poll = 1; /* the first poll reads the flag */
		w->parent = STORE_NO_PARENT;
		w->top.limit = limit;
		if (!(w->m = trawl_matcher_new())) {
			rc = -ENOMEM;
			goto out;
		}
		if ((rc = carry_new(q, s, g->base->postings.subtree_masks, &w->carry)) < 0)
			goto out;
	}

	/* A small delta is scanned first, by one worker: its results set the score to beat.
	 * A large one is shared among the workers with the base scan. */
	uint32_t n_records = g->delta.n_records;
	int is_delta_shared = n_records >= SEARCH_PARALLEL_MIN_CANDIDATES;
	uint64_t n_cand = 0;
	int is_scan_skipped = 0;
	if (is_everything) {
		if (!under || top_id < s->n_entries)
			rc = list_levels(&ws[0], under ? top_id : 0, !under);
		ws[0].n_matched = count_live(g, dead, under ? lo : 0, hi, kinds);
		is_scan_skipped = 1;
	} else {
		/* Strong candidates first: they set the score to beat. */
		int32_t ub_rest = INT32_MAX;
		st.cand = cand;
		st.lo = lo;
		st.hi = hi;
		if (!(st.done = roaring_bitmap_create())) {
			rc = -ENOMEM;
			goto out;
		}
		int32_t claim_slack = INT32_MAX;
		if (session)
			rc = seed_top(&ws[0], &st, session, g->base->serial);
		if (rc == 0)
			rc = strong_phase(&ws[0], &st, q, &ub_rest, &claim_slack);
		/* The tiers were scored down to what cannot rank: what the scan finds ranks by
		 * at most claim_slack of name claim, unless a name's fold moves its basename. */
		if (rc == 0 && ub_rest != INT32_MAX) {
			int odd = has_odd_folds(g->base);
			if (odd < 0)
				rc = odd;
			else if (odd)
				ub_rest = claim_slack = INT32_MAX;
		}
		if (rc != 0 || ub_rest == INT32_MAX)
			claim_slack = INT32_MAX;
		for (size_t i = 0; i < n_workers; i++)
			ws[i].claim_slack = claim_slack;
		if (rc == 0 && !is_delta_shared) {
			ws[0].delta_hi = n_records;
			scan_delta(&ws[0]);
			ws[0].delta_hi = 0;
		}
		if (rc < 0 || ws[0].rc < 0 || (rc = make_scan_set(&cand, &st, dead, lo, hi)) < 0)
			goto done;
		n_cand = cand ? roaring_bitmap_get_cardinality(cand) : hi - lo;
		is_scan_skipped = beats(&ws[0].top, ub_rest);
		if (is_scan_skipped) {
			/* Nothing left can enter the top: skip the scan. What it would have
			 * verified is counted as if it matched, an upper bound: never what is
			 * dead (a user's count must not grow with what it may not see). */
			ws[0].n_matched +=
			    cand || lo == hi
				? n_cand
				: n_cand - roaring_bitmap_range_cardinality(dead, lo, hi);
		} else if (cand && ws[0].carry && claim_slack != INT32_MAX && !is_narrowed &&
			   n_cand >= (opts->split_min_candidates ? opts->split_min_candidates
								 : SPLIT_MIN_CANDIDATES)) {
			if ((is_split = plan_split(&ws[0], q, g->base, claim_slack, &split)) < 0) {
				rc = is_split;
				is_split = 0;
				goto done;
			}
		}
	}
	if (rc < 0 || ws[0].rc < 0)
		goto done;

	/* The scan: the remaining candidates in equal shares of ids, every worker pruning
	 * below what the first phase already holds. */
	if (ws[0].top.n == ws[0].top.limit)
		for (size_t i = 0; i < n_workers; i++) {
			ws[i].floor = ws[0].top.slots[0].score;
			ws[i].floor_slashes =
			    path_slashes(ws[0].top.slots[0].path, ws[0].top.slots[0].len);
		}
	size_t n_delta = is_delta_shared || (is_everything && n_records) ? n_records : 0;
	if (is_split) {
		split_scan(ws, n_workers, &split, cand, n_cand, lo, hi, n_delta, is_delta_shared);
	} else {
		n_scan = is_scan_skipped ? 0 : scan_workers(n_cand, n_workers);
		run_scan(ws, n_workers, n_scan, cand, n_cand, lo, hi, session != NULL, NULL,
			 n_delta, is_delta_shared);
	}
done:;
	/* A skipped scan counted what it would have verified, an upper bound; pruned
	 * candidates were not verified either. Every entry matches the empty query: what
	 * was pruned there did match. */
	uint64_t n_matched = 0;
	int is_estimate = is_scan_skipped && !is_everything;
	for (size_t i = 0; i < n_workers; i++) {
		if (ws[i].rc < 0)
			rc = ws[i].rc;
		n_matched += ws[i].n_matched + ws[i].n_pruned;
		is_estimate |= ws[i].n_pruned && !is_everything;
	}
	if (session) {
		/* What the next search may narrow to: known only after a scan over a
		 * candidate set (not skipped, not cancelled, not failed), and not split: a
		 * split scan does not note what it passes over. */
		if (rc == 0 && cand && n_scan > 0 && !is_scan_skipped && !is_everything &&
		    !is_split)
			session_learn(session, g->base, q, kinds, under, under_len, ws, n_scan,
				      st.done);
		else
			session_forget(session);
	}
	if (rc == 0)
		rc = collect(ws, n_workers, limit, out, session, g->base->serial);
	if (rc == 0) {
		out->n_matched = n_matched;
		out->is_matched_estimate = is_estimate;
	}
out:
	for (size_t i = 0; i < n_workers; i++) {
		trawl_matcher_free(ws[i].m);
		carry_free(ws[i].carry);
		topk_release(&ws[i].top);
		free(ws[i].path);
		free(ws[i].kept);
	}
	bitmap_free(st.done);
	bitmap_free(cand);
	if (is_split)
		split_release(&split);
	bitmap_free(own_dead);
	trawl_visibility_free(own_vis);
	free(align_bound);
	generation_put(g);
	return rc;
}
