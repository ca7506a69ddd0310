/* trawl_index.h: the public interface of the trawl index library: query parsing,
 * fuzzy matching with path-aware scoring, and ranking. Functions return 0 (or a count)
 * on success and -errno on failure; nothing here prints or exits. */
#ifndef TRAWL_INDEX_H
#define TRAWL_INDEX_H

#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------------------------------
 * Queries (syntax in docs/QUERY.md)
 */

struct trawl_query;

/** Where and why a query failed to parse. `message` is a static string. */
struct trawl_query_error {
	size_t offset_bytes; /* byte offset into the query text where the problem is */
	const char *message; /* lowercase, no full stop, e.g. "empty negation" */
};

/**
 * Parse the query text `text` of `len` bytes (any bytes; need not be NUL-terminated)
 * into `*out`. On success returns 0 and `*out` owns a query to free with
 * trawl_query_free(). On a syntax error returns -EINVAL, leaves `*out` NULL and fills
 * `*err` when it is not NULL; -E2BIG when the text exceeds TRAWL_QUERY_MAX_BYTES;
 * -ENOMEM when out of memory. An empty or all-blank query is valid and matches every path.
 */
int trawl_query_parse(const char *text, size_t len, struct trawl_query **out,
		      struct trawl_query_error *err);

/** Free a query from trawl_query_parse(). trawl_query_free(NULL) is a no-op. */
void trawl_query_free(struct trawl_query *q);

/** The longest query text trawl_query_parse() accepts, in bytes. */
#define TRAWL_QUERY_MAX_BYTES 4096

/* ---------------------------------------------------------------------------------------
 * Matching
 */

/**
 * A matcher holds the scratch memory matching needs, so that matching allocates nothing
 * per path once warmed up. One matcher per thread; a matcher can serve any query.
 */
struct trawl_matcher;

/** Allocate a matcher; NULL when out of memory. */
struct trawl_matcher *trawl_matcher_new(void);

/** Free a matcher and its scratch memory. trawl_matcher_free(NULL) is a no-op. */
void trawl_matcher_free(struct trawl_matcher *m);

/**
 * Match the path `path` of `len` bytes (any bytes, not NUL-terminated) against `q`.
 * Returns 1 and sets `*score` when it matches, 0 when it does not, -ENOMEM when scratch
 * memory could not grow. Higher scores rank first; see trawl_rank_cmp() for ties.
 */
int trawl_match(struct trawl_matcher *m, const struct trawl_query *q, const char *path, size_t len,
		int32_t *score);

/**
 * Like trawl_match(), and also fill `positions` with the byte offsets into `path` of the
 * first byte of every matched character, ascending and without duplicates, up to `cap`
 * of them; `*n_positions` gets the number written. Slower than trawl_match(): call it for
 * the results that are shown, not for every candidate.
 */
int trawl_match_positions(struct trawl_matcher *m, const struct trawl_query *q, const char *path,
			  size_t len, int32_t *score, uint32_t *positions, size_t cap,
			  size_t *n_positions);

/**
 * Order two matches of the same query, best first: higher score, then fewer path
 * components, then the shorter path, then byte order. Returns <0 when `a` ranks before
 * `b`, >0 when after, 0 only for identical paths. Deterministic: the order of input
 * never matters.
 */
int trawl_rank_cmp(int32_t score_a, const char *path_a, size_t len_a, int32_t score_b,
		   const char *path_b, size_t len_b);

/* ---------------------------------------------------------------------------------------
 * The index
 */

/** Kinds of entries; also bits of a kind mask. */
enum trawl_kind {
	TRAWL_KIND_FILE = 1 << 0,
	TRAWL_KIND_DIR = 1 << 1,
	TRAWL_KIND_LINK = 1 << 2,
	TRAWL_KIND_ANY = TRAWL_KIND_FILE | TRAWL_KIND_DIR | TRAWL_KIND_LINK,
};

/**
 * An index of paths. Readers (searches, trawl_index_dir_meta(), trawl_index_children(),
 * trawl_index_stats()) may run concurrently from many threads with writers (apply, add,
 * remove, rebuild, save), which take turns: every reader works on the generation that
 * was current when it started, and each change publishes a new generation atomically.
 * Readers never wait for writers. Every index holds the root, "/", a directory.
 */
struct trawl_index;

/** Figures about an index, for status reports and benchmarks. */
struct trawl_index_stats {
	uint64_t n_entries;	 /* live entries: base minus tombstones plus live delta */
	uint64_t n_base;	 /* entries in the base generation (tombstoned ones too) */
	uint64_t n_delta;	 /* entries added since the base was built, removed ones too:
				  * what the delta's memory and search time grow with */
	uint64_t n_tombstones;	 /* base entries removed since */
	uint64_t n_names;	 /* distinct names in the base */
	uint64_t store_bytes;	 /* entries, names and directory meta of the base */
	uint64_t postings_bytes; /* character and trigram postings */
	uint64_t delta_bytes;	 /* delta (entries, names, meta, look-up tables) and tombstones */
	uint64_t n_trigrams;	 /* distinct trigram postings */
};

/**
 * Build an index from `len` bytes of absolute paths separated by `sep` ('\n' or '\0').
 * Parent directories are inferred; a path ending in '/' is a directory, other listed
 * paths are files unless something is listed under them. Paths that are relative or
 * have empty, "." or ".." components are left out and counted in *n_rejected (may be
 * NULL). `threads` (0: 2) bounds the threads used. Returns 0 and a new index in *out,
 * or -ENOMEM, -EOVERFLOW.
 */
int trawl_index_build_from_list(const char *buf, size_t len, char sep, unsigned threads,
				struct trawl_index **out, size_t *n_rejected);

/** Free an index. Searches must have finished. trawl_index_free(NULL) is a no-op. */
void trawl_index_free(struct trawl_index *ix);

/** Fill *st with the index's current figures. */
void trawl_index_stats(struct trawl_index *ix, struct trawl_index_stats *st);

/* What one user may see of an index (trawl_visibility_new()). */
struct trawl_visibility;

/* What a client's searches remember between them (trawl_session_new()). */
struct trawl_session;

/** Search options. Zeroed means: every kind, whole index, limit 50, 2 threads, everything
 * visible. */
struct trawl_search_options {
	size_t limit;	   /* results wanted, best first (0: 50) */
	const char *under; /* only entries strictly under this directory (absolute path) */
	size_t under_len;
	unsigned kinds;	  /* TRAWL_KIND_* mask (0: any) */
	unsigned threads; /* threads for this search (0: 2) */
	/* When not NULL, polled while searching: once it reads non-zero the search stops
	 * and returns -ECANCELED (within about a millisecond). */
	const _Atomic int *cancel;
	/* When not NULL, only the entries it allows exist for this search: results, counts
	 * and `under` alike (see trawl_visibility_new()). */
	const struct trawl_visibility *visible;
	/* Tuning, for tests and benchmarks: how many names of the terms' prefix tiers are
	 * bounded one by one before the largest tiers are cut down to the names a term
	 * equals or stems (0: 2^15). The results do not depend on it. */
	size_t tier_max_names;
	/* Tuning, for tests and benchmarks: the fewest candidates for which the scan is
	 * split by the terms their names hold (0: 2^18). The results do not depend on it. */
	size_t split_min_candidates;
	/* When not NULL, what the client's previous search learnt (see trawl_session_new()):
	 * a query that narrows it scans only what it could not rule out; then this search's
	 * own is kept. One search at a time per session. */
	struct trawl_session *session;
};

/**
 * A client's memory between searches: the base entries its last search could not rule
 * out, when that search scanned them one by one (not when its first phase answered, nor
 * when its scan was split by what names hold). A query typed a character further (the
 * last term grown at its end, or a term added) matches only among them, so the next
 * search looks nowhere else. It applies on the same base, scope, kinds and without a
 * visibility filter; otherwise a search scans as without it. The last results are also
 * scored first by the next search on the same base. The answer is the same either way.
 * NULL when out of memory.
 */
struct trawl_session *trawl_session_new(void);

/** Free a session. trawl_session_free(NULL) is a no-op. */
void trawl_session_free(struct trawl_session *s);

/** One result. `path` is owned by the result set. */
struct trawl_result {
	const char *path;
	size_t path_len;
	int32_t score;
	uint8_t kind;
};

/** The outcome of a search: results best first, and how many entries matched. */
struct trawl_results {
	struct trawl_result *items;
	size_t n_items;
	uint64_t n_matched;	 /* all matching entries, not just those returned... */
	int is_matched_estimate; /* ...or, when set, an upper bound of their number */
	char *arena;		 /* holds the paths */
	size_t arena_len, arena_cap;
};

/**
 * Run `q` against the index. The results are exactly what scoring every live path with
 * trawl_match() and ordering with trawl_rank_cmp() would give, truncated to the limit.
 * The empty query matches every entry with score 0: the entries with the fewest
 * components come first, found without scanning the index. With `visible`, "every live
 * path" means every live path it allows, in the generation the search runs on (a
 * visibility built for an older one is worked out again for this search: the answer is
 * exact, only slower), and `n_matched` counts only those. `out` must be zeroed or
 * previously filled (it is reused); release it with trawl_results_release(). Returns 0,
 * -ENOENT when `under` is not a directory in the index (or one `visible` hides),
 * -ECANCELED when `cancel` was set (then `out` holds nothing new), -ENOMEM.
 */
int trawl_index_search(struct trawl_index *ix, const struct trawl_query *q,
		       const struct trawl_search_options *opts, struct trawl_results *out);

/** Free what a result set holds and zero it. */
void trawl_results_release(struct trawl_results *r);

/**
 * Add the path (absolute, `len` bytes) of an entry of `kind`, creating missing parent
 * directories as the list builder does. Adding a path that is already live is a no-op,
 * whatever its kind. One change of trawl_index_apply() (prefer a batch of them). Returns
 * 0, -EINVAL for a path the list builder would reject, -ENOMEM, -EOVERFLOW.
 */
int trawl_index_add(struct trawl_index *ix, const char *path, size_t len, enum trawl_kind kind);

/**
 * Remove the entry at `path` and everything under it; for "/", everything under it (the
 * root itself stays). One change of trawl_index_apply(). Returns 0, -ENOENT when no such
 * live entry exists, -ENOMEM, -EOVERFLOW.
 */
int trawl_index_remove(struct trawl_index *ix, const char *path, size_t len);

/** What the index keeps of a directory: for incremental rescans (the times) and for
 * visibility checks in system mode (owner and mode). Zero when unknown (e.g. a directory
 * that came from a list, or was created as a missing parent). Kept by rebuilds and in
 * snapshots. */
struct trawl_dir_meta {
	int64_t mtime_ns;
	int64_t ctime_ns;
	uint32_t mode; /* st_mode, type bits included */
	uint32_t uid;
	uint32_t gid;
};

/** One change to apply. */
enum trawl_change_op {
	TRAWL_CHANGE_ADD = 1,	 /* add `path` of `kind` (and `meta` for a directory) */
	TRAWL_CHANGE_REMOVE = 2, /* remove `path` and everything under it */
	TRAWL_CHANGE_META = 3,	 /* replace the meta of the directory `path` */
};

struct trawl_change {
	const char *path; /* absolute; one trailing '/' is allowed */
	size_t len;
	uint8_t op;		    /* enum trawl_change_op */
	uint8_t kind;		    /* TRAWL_CHANGE_ADD: enum trawl_kind */
	struct trawl_dir_meta meta; /* ADD of a directory, META */
};

/** A new index with no entries but the root, "/", ready for trawl_index_apply().
 * `threads` as in trawl_index_build_from_list(). Returns 0 or -ENOMEM. */
int trawl_index_new_empty(unsigned threads, struct trawl_index **out);

/**
 * Apply `n` changes in order and publish them as one new generation: a search sees all
 * of them or none. The paths need only stay valid during the call.
 *
 * - ADD creates the missing parents as directories (without meta) and, where a file or
 *   link stands in the way, a new directory in its place, as the list builder does. An
 *   ADD of a live path of the same kind only replaces a directory's meta; of another
 *   kind, replaces the entry (and, for a directory, removes its subtree). A new
 *   directory gets `meta`.
 * - REMOVE removes the entry and its subtree ("/": everything under it).
 * - META replaces the meta of a live directory.
 *
 * Ignored, counted in *n_ignored (may be NULL), not errors: a path the list builder
 * would reject, an unknown op or kind, REMOVE or META of a path that is not live, META
 * of a file or link, ADD of "/" as anything but a directory.
 *
 * Costs O(n × path depth), plus what it removes and a copy of the tombstones, whatever
 * the size of the delta: generations over one base share it, an append-only log.
 * Removed delta entries keep their memory until the next rebuild (trawl_index_stats()
 * counts them in n_delta); rebuild when n_delta grows large. Returns 0; -ENOMEM (then
 * nothing was applied); or -EOVERFLOW when the delta cannot grow (2^32 - 1 entries and
 * delta entries in all) even after folding it into a new base.
 */
int trawl_index_apply(struct trawl_index *ix, const struct trawl_change *changes, size_t n,
		      size_t *n_ignored);

/** One entry of a directory's listing. */
struct trawl_entry {
	const char *name; /* one component: any bytes but '/', not "", "." or ".." */
	size_t len;
	uint8_t kind; /* enum trawl_kind */
};

/** What a directory holds, as a walk read it. */
struct trawl_listing {
	const char *path; /* the directory, absolute; one trailing '/' is allowed */
	size_t len;
	struct trawl_dir_meta meta;
	const struct trawl_entry *entries; /* in any order */
	size_t n_entries;
};

/**
 * Make each directory of `lists` hold just its entries, in order, and publish them as one
 * new generation, as trawl_index_apply() does; the same guarantees and errors. A listing
 * is the ADD of its path as a directory with its meta; then the ADD (kind from the entry,
 * no meta) of path/name for each entry not live there with that kind (one that is keeps
 * its meta and what it holds); then the REMOVE of each entry that was live directly
 * inside the directory before and is not listed. An entry whose name is not one
 * component (empty, ".", "..", or with a '/'), whose kind is not a file, directory or
 * link, or whose name an earlier entry of the listing has, is left out.
 *
 * The names are not resolved as paths: the directory is found once (from where the
 * previous listing's path left off), and each entry costs about one look-up in the
 * delta, or two when the directory held entries before.
 *
 * Ignored, counted in *n_ignored (may be NULL): a listing whose path the list builder
 * would reject, and one that changes nothing (its directory was live, with that meta,
 * holding those names of those kinds and no other): a walk that reads a directory again
 * learns from it whether anything changed.
 */
int trawl_index_apply_listings(struct trawl_index *ix, const struct trawl_listing *lists, size_t n,
			       size_t *n_ignored);

/** The meta of the live directory at `path` (one trailing '/' allowed) into *meta.
 * Returns 0, -ENOENT when no live entry has that path, -ENOTDIR when it is not a
 * directory, -ENOMEM. */
int trawl_index_dir_meta(struct trawl_index *ix, const char *path, size_t len,
			 struct trawl_dir_meta *meta);

/**
 * Call `fn` once for each live entry directly inside the directory `path` (base and
 * delta, tombstones left out), with its name (`len` bytes, valid during that call only)
 * and kind, in no promised order, as the generation current when this call started has
 * them. `fn` may search or change the index. Stops early and returns what `fn`
 * returned when that is not 0. Returns 0, -ENOENT, -ENOTDIR, -ENOMEM.
 */
int trawl_index_children(struct trawl_index *ix, const char *path, size_t len,
			 int (*fn)(void *ctx, const char *name, size_t len, unsigned kind),
			 void *ctx);

/**
 * Where the index found a directory, to find it again without resolving its path: opaque
 * to callers (the fields are the index's business). A zeroed hint is no hint. A hint never
 * goes wrong, only stale: once the directory is removed, replaced or renumbered (a
 * rebuild), the index no longer takes it and resolves the path instead.
 */
struct trawl_dir_hint {
	uint64_t base_serial; /* the base the node was found in; 0: no hint */
	uint32_t node;
};

/**
 * trawl_index_children() for the subdirectories alone, each with its meta as
 * trawl_index_dir_meta() gives it: an incremental walk asks for the subdirectories of
 * every directory it finds unchanged, then compares each one's times; a directory holds
 * mostly files, whose names it need not read, and the meta spares a look-up by path.
 * `hint` (may be NULL) is what an earlier call gave with the directory `path`, and
 * spares resolving the path when it still holds (the live directory it names has that
 * path); `fn` gets with each subdirectory a hint to pass when asking for that
 * subdirectory's own children. The results and errors do not depend on the hint.
 */
int trawl_index_child_dirs(struct trawl_index *ix, const char *path, size_t len,
			   const struct trawl_dir_hint *hint,
			   int (*fn)(void *ctx, const char *name, size_t len,
				     const struct trawl_dir_meta *meta,
				     const struct trawl_dir_hint *hint),
			   void *ctx);

/**
 * Fold the delta, tombstones and directory meta into a new base generation and publish
 * it; it costs about a build from a list of the live entries. Searches running meanwhile
 * keep the generation they started with. Returns 0 or -ENOMEM.
 */
int trawl_index_rebuild(struct trawl_index *ix);

/* ---------------------------------------------------------------------------------------
 * Visibility: what one user may see (a daemon serving every user, docs/PROTOCOL.md)
 */

/** A user as the kernel checks its permissions: the effective uid and gid, and the
 * supplementary groups. */
struct trawl_cred {
	uint32_t uid;
	uint32_t gid;
	const uint32_t *groups; /* any order, duplicates and `gid` allowed */
	size_t n_groups;
};

/**
 * Work out what `cred` may see of the index as it is now, into a new `*out`. An entry is
 * visible when `cred` may read and search every directory above it, up to and with "/":
 * when the user could list it by walking down from the root, as plocate and mlocate
 * check (a name is never shown to someone who could not list the directory holding
 * it). A directory's permission comes from its stored meta the way the kernel checks a
 * process other than root: the owner's bits when `uid` owns it, else the group's when
 * its group is `gid` or one of `groups`, else the others'. ACLs, capabilities and
 * security modules are not known to the index: a directory's group bits stand for its
 * group even when an ACL says otherwise. A directory without meta (mode 0: built from a
 * list, or created as a missing parent) is closed. uid 0 sees everything.
 *
 * The visibility keeps its own copy of `cred`, never a reference to the index, and may
 * serve any number of searches at once. Building it reads every directory of the base
 * once; it then stays right while only entries are added and removed, and goes stale
 * when a directory's mode or owner changes or the delta is folded into a new base
 * (trawl_visibility_is_current()). Returns 0 or -ENOMEM (then *out is NULL).
 */
int trawl_visibility_new(struct trawl_index *ix, const struct trawl_cred *cred,
			 struct trawl_visibility **out);

/** 1 when `v` still fits the index's current generation, 0 when searches with it would
 * have to work it out again: build a new one then. */
int trawl_visibility_is_current(struct trawl_index *ix, const struct trawl_visibility *v);

/**
 * Whether `v`'s user may see the live entry at `path` (absolute; one trailing '/'
 * allowed) in the index as it is now, current `v` or not: 1 yes, 0 no, -ENOENT when the
 * index holds no such entry, -ENOMEM.
 */
int trawl_visibility_allows(struct trawl_index *ix, const struct trawl_visibility *v,
			    const char *path, size_t len);

/** Free a visibility; searches using it must have finished. trawl_visibility_free(NULL) is
 * a no-op. */
void trawl_visibility_free(struct trawl_visibility *v);

/* ---------------------------------------------------------------------------------------
 * Snapshots (format in docs/INDEX_FORMAT.md)
 */

/**
 * Save the index to the snapshot file `path`, directory meta included. The delta,
 * tombstones and changed meta are first folded into a new base as trawl_index_rebuild()
 * does (so the index itself is rebuilt when it has changes); then that base is written. Changes
 * made while saving are kept in the index but may be missing from the file. Searches run meanwhile;
 * writers wait only during the fold.
 *
 * The file is written to `path`.tmp.<pid> (mode 0600) in the same directory, fsync'd,
 * renamed over `path`, then the directory is fsync'd: a reader sees the old snapshot or
 * the new one, never a mix. On failure `path` is untouched and the temporary file is
 * removed. Two saves to the same `path` from one process must not overlap (they would
 * share the temporary file). Returns 0 or -errno: -ENOSPC, -EDQUOT, -EIO, -EACCES,
 * -ENOENT (no such directory), -EISDIR (`path` is a directory), -ENOMEM, or an error of
 * the fold.
 */
int trawl_index_save(struct trawl_index *ix, const char *path);

/**
 * Load the snapshot at `path` into a new index in *out. `threads` (0: 2) bounds the
 * threads that check the file and, as in trawl_index_build_from_list(), those a search
 * uses by default. The file is mapped read-only, every byte of it is checked (checksums,
 * sizes, the invariants the search relies on, and that it was made with this build's
 * bitmap format and folding rules), and the index then uses the mapping in place:
 * nothing large is copied or rebuilt. The index keeps the mapping until its base is
 * replaced (trawl_index_rebuild()) or it is freed. The file must be replaced only by
 * rename (as trawl_index_save() does), never rewritten or truncated in place while an
 * index uses it.
 *
 * Returns 0; -ENOENT when there is no file; -EINVAL when it is not a snapshot, is
 * truncated or corrupt, or comes from another format version, byte order, CRoaring or
 * utf8proc version (rebuild it then); -ENOMEM; or another -errno of open() or mmap().
 * *out is NULL on failure.
 */
int trawl_index_load(const char *path, unsigned threads, struct trawl_index **out);

#endif
