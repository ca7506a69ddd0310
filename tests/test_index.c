/* test_index.c: the index never changes the answer. Random trees (deep, wide, Unicode,
 * NFC and NFD, invalid UTF-8, look-alike names), random additions and removals, random
 * batches of changes with directory meta, random queries with every operator, scopes and
 * kinds: every search must equal a brute-force scan of the live paths with the matcher,
 * same set and same order; every directory listing and every directory's meta must equal
 * the model's. Then the change API at scale: batches against lists, large deltas,
 * cancelled searches, readers beside a writer. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "trawl_index.h"

/* ---- a reference model: the live paths, kept by brute force ---- */

struct ref_entry {
	char *path;
	size_t len;
	unsigned kind;
	struct trawl_dir_meta meta; /* directories only; zero when never given */
};

struct model {
	struct ref_entry *e;
	size_t n, cap;
};

static size_t model_find(const struct model *m, const char *p, size_t len)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->e[i].len == len && memcmp(m->e[i].path, p, len) == 0)
			return i;
	return SIZE_MAX;
}

static void model_put(struct model *m, const char *p, size_t len, unsigned kind)
{
	size_t i = model_find(m, p, len);
	if (i != SIZE_MAX) {
		/* Something listed under a "file" makes it a directory, as the index does. */
		if (kind == TRAWL_KIND_DIR)
			m->e[i].kind = TRAWL_KIND_DIR;
		return;
	}
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->e = realloc(m->e, m->cap * sizeof(*m->e));
		assert_non_null(m->e);
	}
	m->e[m->n].path = malloc(len + 1);
	assert_non_null(m->e[m->n].path);
	memcpy(m->e[m->n].path, p, len);
	m->e[m->n].len = len;
	m->e[m->n].kind = kind;
	memset(&m->e[m->n].meta, 0, sizeof(m->e[m->n].meta));
	m->n++;
}

/* Add a path and its ancestors, the way the index infers directories. */
static void model_add(struct model *m, const char *p, size_t len, unsigned kind)
{
	model_put(m, "/", 1, TRAWL_KIND_DIR);
	for (size_t i = 1; i < len; i++)
		if (p[i] == '/')
			model_put(m, p, i, TRAWL_KIND_DIR);
	model_put(m, p, len, kind);
}

/* Remove an entry and its subtree; the root stays, as in the index. */
static void model_remove(struct model *m, const char *p, size_t len)
{
	size_t kept = 0;
	for (size_t i = 0; i < m->n; i++) {
		struct ref_entry *e = &m->e[i];
		int under = e->len >= len && memcmp(e->path, p, len) == 0 &&
			    (e->len == len || e->path[len] == '/' || len == 1);
		if (under && e->len == 1) /* "/" */
			under = 0;
		if (under)
			free(e->path);
		else
			m->e[kept++] = *e;
	}
	m->n = kept;
}

static void model_release(struct model *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->e[i].path);
	free(m->e);
	memset(m, 0, sizeof(*m));
}

/* What the index accepts as a path (the list builder's rule): absolute, no empty, "."
 * or ".." components, one trailing '/' allowed. */
static int is_acceptable(const char *p, size_t len)
{
	if (len == 0 || p[0] != '/')
		return 0;
	for (size_t i = 1; i < len;) {
		size_t end = i;
		while (end < len && p[end] != '/')
			end++;
		size_t n = end - i;
		if (n == 0 || (n == 1 && p[i] == '.') || (n == 2 && p[i] == '.' && p[i + 1] == '.'))
			return 0;
		i = end + 1;
	}
	return 1;
}

/* The documented effect of one change on the model: 1 when applied, 0 when ignored. */
static int model_apply(struct model *m, const struct trawl_change *c)
{
	static const struct trawl_dir_meta zero;
	if (!c->path || !is_acceptable(c->path, c->len))
		return 0;
	size_t len = c->len;
	while (len > 1 && c->path[len - 1] == '/')
		len--;
	const char *p = c->path;
	size_t at = model_find(m, p, len);
	switch (c->op) {
	case TRAWL_CHANGE_REMOVE:
		if (at == SIZE_MAX)
			return 0;
		model_remove(m, p, len);
		return 1;
	case TRAWL_CHANGE_META:
		if (at == SIZE_MAX || m->e[at].kind != TRAWL_KIND_DIR)
			return 0;
		m->e[at].meta = c->meta;
		return 1;
	case TRAWL_CHANGE_ADD:
		break;
	default:
		return 0;
	}
	if (c->kind != TRAWL_KIND_FILE && c->kind != TRAWL_KIND_DIR && c->kind != TRAWL_KIND_LINK)
		return 0;
	if (len == 1) { /* the root is a directory */
		if (c->kind != TRAWL_KIND_DIR)
			return 0;
		m->e[at].meta = c->meta;
		return 1;
	}
	/* Ancestors: missing ones are created, files and links in the way become
	 * directories (new ones, without meta). */
	for (size_t i = 1; i < len; i++) {
		if (p[i] != '/')
			continue;
		size_t k = model_find(m, p, i);
		if (k != SIZE_MAX && m->e[k].kind == TRAWL_KIND_DIR)
			continue;
		if (k != SIZE_MAX)
			model_remove(m, p, i);
		model_put(m, p, i, TRAWL_KIND_DIR);
	}
	at = model_find(m, p, len);
	if (at != SIZE_MAX && m->e[at].kind == c->kind) {
		if (c->kind == TRAWL_KIND_DIR)
			m->e[at].meta = c->meta;
		return 1;
	}
	if (at != SIZE_MAX)
		model_remove(m, p, len);
	model_put(m, p, len, c->kind);
	at = model_find(m, p, len);
	m->e[at].meta = c->kind == TRAWL_KIND_DIR ? c->meta : zero;
	return 1;
}

/* ---- random inputs ---- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return n ? (uint32_t)(rng_state >> 33) % n : 0;
}

/* Append the bytes of a piece (no terminating NUL: outputs are lengths, not strings). */
static size_t append(char *out, size_t n, const char *piece)
{
	while (*piece)
		out[n++] = *piece++;
	return n;
}

/* Name pieces chosen to collide under folding: case, NFC/NFD, ß/ss, invalid bytes. */
static const char *const pieces[] = {
    "a",  "b",	  "ab",	  "A", "B", "x", "conf", "Conf", "nginx", "é",	"e\xcc\x81", "E", "ß",
    "ss", "\xff", "\xfe", ".", "_", "-", " ",	 "1",	 "2",	  "ço", "σ",	     "Σ",
};
#define N_PIECES (sizeof(pieces) / sizeof(pieces[0]))

static size_t random_name(char *out)
{
	size_t n = 0, k = 1 + rnd(4);
	for (size_t i = 0; i < k; i++) {
		n = append(out, n, pieces[rnd(N_PIECES)]);
	}
	/* "." and ".." are not names. */
	if ((n == 1 && out[0] == '.') || (n == 2 && out[0] == '.' && out[1] == '.'))
		out[n++] = 'x';
	return n;
}

static size_t random_path(char *out, const struct model *m)
{
	size_t n = 0;
	/* Half the time extend an existing directory: trees get deep and shared. */
	if (m->n && rnd(2)) {
		const struct ref_entry *e = &m->e[rnd((uint32_t)m->n)];
		if (e->kind == TRAWL_KIND_DIR && e->len > 1 && e->len < 200) {
			memcpy(out, e->path, e->len);
			n = e->len;
		}
	}
	size_t depth = 1 + rnd(4);
	for (size_t d = 0; d < depth; d++) {
		out[n++] = '/';
		n += random_name(out + n);
	}
	return n;
}

static size_t random_query(char *out)
{
	/* A third are one short lowercase term, as a person starts typing: the searches
	 * that can stop early once names starting with the term fill the top. */
	if (rnd(3) == 0) {
		static const char *const starts[] = {"a",    "b", "ab",	 "x", "co",
						     "conf", "n", "ngi", "1", "e"};
		size_t n = append(out, 0, starts[rnd(sizeof(starts) / sizeof(starts[0]))]);
		out[n] = '\0';
		return n;
	}
	size_t n = 0, terms = 1 + rnd(3);
	for (size_t t = 0; t < terms; t++) {
		if (t)
			out[n++] = ' ';
		if (t && rnd(6) == 0) {
			memcpy(out + n, "| ", 2);
			n += 2;
		}
		switch (rnd(8)) {
		case 0:
			out[n++] = '\'';
			break;
		case 1:
			out[n++] = '^';
			break;
		case 2:
			out[n++] = '!';
			break;
		default:
			break;
		}
		size_t k = 1 + rnd(3);
		for (size_t i = 0; i < k; i++) {
			const char *p = rnd(8) == 0 ? "/" : pieces[rnd(N_PIECES)];
			if (*p == ' ')
				p = "_";
			n = append(out, n, p);
		}
		if (rnd(6) == 0)
			out[n++] = '$';
	}
	out[n] = '\0';
	return n;
}

/* n_paths random paths, one a line, into list (1 MiB), a directory one time in
 * dir_one_in (written with a trailing '/'), each added to m. Returns the list's length. */
static size_t random_list(char *list, struct model *m, size_t n_paths, uint32_t dir_one_in)
{
	size_t len = 0;
	for (size_t i = 0; i < n_paths; i++) {
		char path[1024];
		size_t n = random_path(path, m);
		int is_dir = rnd(dir_one_in) == 0;
		memcpy(list + len, path, n);
		len += n;
		if (is_dir)
			list[len++] = '/';
		list[len++] = '\n';
		model_add(m, path, n, is_dir ? TRAWL_KIND_DIR : TRAWL_KIND_FILE);
	}
	return len;
}

static struct trawl_dir_meta random_meta(void)
{
	struct trawl_dir_meta m;
	m.mtime_ns = (int64_t)rnd(1000) * 1000000007ll - 5;
	m.ctime_ns = rnd(3) ? m.mtime_ns : m.mtime_ns + (int64_t)rnd(100000);
	m.mode = 040000 | (rnd(2) ? 0755 : 0700);
	m.uid = rnd(3);
	m.gid = rnd(2);
	return m;
}

/* A batch of random changes; paths are written into `buf` (kept until applied). */
static size_t random_batch(struct trawl_change *c, size_t max, char *buf, const struct model *m,
			   struct trawl_dir_meta (*meta_of)(void))
{
	size_t n = 1 + rnd((uint32_t)max), used = 0;
	for (size_t i = 0; i < n; i++) {
		char *p = buf + used;
		size_t len;
		const struct ref_entry *e = &m->e[rnd((uint32_t)m->n)];
		if (rnd(2)) {
			memcpy(p, e->path, e->len);
			len = e->len;
		} else {
			len = random_path(p, m);
		}
		if (rnd(20) == 0) /* a trailing '/', accepted */
			p[len++] = '/';
		if (rnd(40) == 0) { /* an empty component: ignored */
			p[len++] = '/';
			p[len++] = '/';
			p[len++] = 'x';
		}
		static const unsigned kinds[] = {TRAWL_KIND_FILE, TRAWL_KIND_DIR, TRAWL_KIND_DIR,
						 TRAWL_KIND_LINK};
		uint8_t op = rnd(5) < 2 ? TRAWL_CHANGE_ADD
			     : rnd(2)	? TRAWL_CHANGE_REMOVE
					: TRAWL_CHANGE_META;
		if (op == TRAWL_CHANGE_REMOVE && len == 1 && rnd(8))
			op = TRAWL_CHANGE_META; /* removing everything: rarely */
		uint8_t kind = (uint8_t)kinds[rnd(4)];
		struct trawl_dir_meta meta = meta_of();
		c[i] = (struct trawl_change){p, len, op, kind, meta};
		used += len;
	}
	return n;
}

/* ---- comparison ---- */

/* How many searches skipped their scan (proving the rest could not rank) and how
 * many scanned: the property must hold on both paths, so both must be exercised. */
static unsigned n_skipped_scans, n_full_scans;

struct scored {
	const struct ref_entry *e;
	int32_t score;
};

static int cmp_scored(const void *a, const void *b)
{
	const struct scored *x = a, *y = b;
	return trawl_rank_cmp(x->score, x->e->path, x->e->len, y->score, y->e->path, y->e->len);
}

static int is_under(const struct ref_entry *e, const char *under, size_t len)
{
	if (len == 1)
		return e->len > 1;
	return e->len > len && memcmp(e->path, under, len) == 0 && e->path[len] == '/';
}

/* A user searching through a visibility, and what the model says it may see: one flag
 * per model entry. */
struct seen_by {
	const struct trawl_visibility *vis;
	const uint8_t *is_visible;
};

/* When set, check_search() searches through it: the property test types queries into
 * it keystroke by keystroke, and it outlives the changes and rebuilds between them. */
static struct trawl_session *test_session;

static void check_search(struct trawl_index *ix, const struct model *m,
			 struct trawl_matcher *matcher, const char *qtext, size_t limit,
			 const struct ref_entry *under, unsigned kinds, const struct seen_by *who)
{
	struct trawl_query *q = NULL;
	if (trawl_query_parse(qtext, strlen(qtext), &q, NULL) != 0)
		return;
	struct scored *expect = malloc((m->n + 1) * sizeof(*expect));
	assert_non_null(expect);
	size_t n_expect = 0, n_in_scope = 0;
	for (size_t i = 0; i < m->n; i++) {
		const struct ref_entry *e = &m->e[i];
		if (who && !who->is_visible[i])
			continue;
		if (under && !is_under(e, under->path, under->len))
			continue;
		n_in_scope++; /* a bound may count every kind */
		if (kinds && !(e->kind & kinds))
			continue;
		int32_t score;
		int rc = trawl_match(matcher, q, e->path, e->len, &score);
		assert_true(rc >= 0);
		if (rc)
			expect[n_expect++] = (struct scored){e, score};
	}
	qsort(expect, n_expect, sizeof(*expect), cmp_scored);

	/* Now and then tiers so small a cap that the largest are cut down; and mostly a
	 * scan split by what the names hold, however few the candidates. */
	size_t tier_max_names = rnd(3) == 0 ? 1 + rnd(6) : 0;
	struct trawl_search_options opts = {.limit = limit,
					    .kinds = kinds,
					    .threads = 1 + rnd(2),
					    .tier_max_names = tier_max_names,
					    .split_min_candidates = rnd(4) ? 1 : 0};
	if (under) {
		opts.under = under->path;
		opts.under_len = under->len;
	}
	struct trawl_results r = {0};
	if (who)
		opts.visible = who->vis;
	opts.session = test_session;
	int rc = trawl_index_search(ix, q, &opts, &r);
	if (who && under && !who->is_visible[under - m->e]) {
		/* A directory the user may not see answers as a missing one. */
		if (rc != -ENOENT)
			fail_msg("query '%s' under hidden '%.*s': %d, expected -ENOENT", qtext,
				 (int)under->len, under->path, rc);
		trawl_results_release(&r);
		free(expect);
		trawl_query_free(q);
		return;
	}
	if (rc != 0)
		fail_msg("query '%s': search failed: %s", qtext, strerror(-rc));
	size_t want = n_expect < limit ? n_expect : limit;
	/* The count may be an upper bound when the search proved the rest cannot rank. */
	if (r.is_matched_estimate)
		n_skipped_scans++;
	else
		n_full_scans++;
	/* Even a bound counts only what the user may see. */
	int is_count_ok = r.is_matched_estimate
			      ? r.n_matched >= n_expect && (!who || r.n_matched <= n_in_scope)
			      : r.n_matched == n_expect;
	if (!is_count_ok || r.n_items != want)
		fail_msg("query '%s': matched %llu (expected %zu), returned %zu (expected %zu)",
			 qtext, (unsigned long long)r.n_matched, n_expect, r.n_items, want);
	for (size_t i = 0; i < want; i++) {
		const struct trawl_result *got = &r.items[i];
		const struct scored *ex = &expect[i];
		if (got->path_len != ex->e->len ||
		    memcmp(got->path, ex->e->path, ex->e->len) != 0 || got->score != ex->score ||
		    got->kind != ex->e->kind)
			fail_msg("query '%s' result %zu: '%.*s' (%d, kind %d), expected '%.*s' "
				 "(%d, kind %u)",
				 qtext, i, (int)got->path_len, got->path, got->score, got->kind,
				 (int)ex->e->len, ex->e->path, ex->score, ex->e->kind);
	}
	trawl_results_release(&r);
	free(expect);
	trawl_query_free(q);
}

static void check_many_seen(struct trawl_index *ix, const struct model *m, struct trawl_matcher *mt,
			    int n_queries, const struct seen_by *who)
{
	for (int i = 0; i < n_queries; i++) {
		char qtext[256];
		size_t len = random_query(qtext);
		const struct ref_entry *under = NULL;
		if (rnd(4) == 0) {
			const struct ref_entry *e = &m->e[rnd((uint32_t)m->n)];
			if (e->kind == TRAWL_KIND_DIR)
				under = e;
		}
		static const unsigned kind_choices[] = {0, 0, TRAWL_KIND_FILE, TRAWL_KIND_DIR};
		size_t limit = rnd(2) ? 1 + rnd(10) : 100000;
		unsigned kinds = kind_choices[rnd(4)];
		if (!test_session || rnd(3)) {
			check_search(ix, m, mt, qtext, limit, under, kinds, who);
			continue;
		}
		/* Typed a byte at a time, as the picker sends it: each search may narrow to
		 * what the one before could not rule out. */
		for (size_t k = 1; k <= len; k++) {
			char typed[256];
			memcpy(typed, qtext, k);
			typed[k] = '\0';
			check_search(ix, m, mt, typed, limit, under, kinds, who);
		}
	}
	/* The empty query lists every live entry; with a small limit, the shortest. */
	check_search(ix, m, mt, "", 100000, NULL, 0, who);
	const struct ref_entry *e = &m->e[rnd((uint32_t)m->n)];
	static const unsigned kind_choices[] = {0, TRAWL_KIND_FILE, TRAWL_KIND_DIR};
	check_search(ix, m, mt, "", 1 + rnd(8), e->kind == TRAWL_KIND_DIR ? e : NULL,
		     kind_choices[rnd(3)], who);
}

static void check_many(struct trawl_index *ix, const struct model *m, struct trawl_matcher *mt,
		       int n_queries)
{
	check_many_seen(ix, m, mt, n_queries, NULL);
}

/* ---- listings and meta ---- */

struct listing {
	char (*names)[256];
	unsigned *kinds;
	size_t n, cap;
};

static int collect_child(void *ctx, const char *name, size_t len, unsigned kind)
{
	struct listing *l = ctx;
	assert_true(len < 256);
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->names = realloc(l->names, l->cap * sizeof(*l->names));
		l->kinds = realloc(l->kinds, l->cap * sizeof(*l->kinds));
		assert_non_null(l->names);
		assert_non_null(l->kinds);
	}
	memcpy(l->names[l->n], name, len);
	l->names[l->n][len] = '\0';
	l->kinds[l->n++] = kind;
	return 0;
}

static void listing_sort(struct listing *l)
{
	/* Insertion sort of names with their kinds: listings are short. */
	for (size_t i = 1; i < l->n; i++)
		for (size_t j = i; j > 0 && strcmp(l->names[j - 1], l->names[j]) > 0; j--) {
			char tmp[256];
			memcpy(tmp, l->names[j], sizeof(tmp));
			memcpy(l->names[j], l->names[j - 1], sizeof(tmp));
			memcpy(l->names[j - 1], tmp, sizeof(tmp));
			unsigned k = l->kinds[j];
			l->kinds[j] = l->kinds[j - 1];
			l->kinds[j - 1] = k;
		}
}

struct child_dirs {
	struct trawl_index *ix;
	const char *parent;
	size_t parent_len;
	struct listing l;
};

static int collect_child_dir(void *ctx, const char *name, size_t len,
			     const struct trawl_dir_meta *meta, const struct trawl_dir_hint *hint)
{
	(void)hint;
	struct child_dirs *cd = ctx;
	char path[4096];
	size_t at = cd->parent_len;
	assert_true(at + 1 + len < sizeof(path));
	memcpy(path, cd->parent, at);
	if (at > 1)
		path[at++] = '/';
	memcpy(path + at, name, len);
	struct trawl_dir_meta want;
	assert_int_equal(trawl_index_dir_meta(cd->ix, path, at + len, &want), 0);
	assert_int_equal(meta->mtime_ns, want.mtime_ns);
	assert_int_equal(meta->ctime_ns, want.ctime_ns);
	assert_int_equal(meta->mode, want.mode);
	assert_int_equal(meta->uid, want.uid);
	assert_int_equal(meta->gid, want.gid);
	return collect_child(&cd->l, name, len, TRAWL_KIND_DIR);
}

/* The children of directory `e` in the index equal the model's, each once. Names in
 * these trees have no NUL, so they compare as strings. */
static void check_children(struct trawl_index *ix, const struct model *m, const struct ref_entry *e)
{
	struct listing got = {0}, want = {0};
	int rc = trawl_index_children(ix, e->path, e->len, collect_child, &got);
	if (e->kind != TRAWL_KIND_DIR) {
		assert_int_equal(rc, -ENOTDIR);
		assert_int_equal(got.n, 0);
		return;
	}
	assert_int_equal(rc, 0);
	for (size_t i = 0; i < m->n; i++) {
		const struct ref_entry *c = &m->e[i];
		if (!is_under(c, e->path, e->len))
			continue;
		size_t start = e->len == 1 ? 1 : e->len + 1;
		if (memchr(c->path + start, '/', c->len - start))
			continue;
		collect_child(&want, c->path + start, c->len - start, c->kind);
	}
	listing_sort(&got);
	listing_sort(&want);
	if (got.n != want.n)
		fail_msg("'%.*s': %zu children, expected %zu", (int)e->len, e->path, got.n, want.n);
	for (size_t i = 0; i < got.n; i++) {
		assert_string_equal(got.names[i], want.names[i]);
		assert_int_equal(got.kinds[i], want.kinds[i]);
	}
	/* Asked for directories alone, the directories of the same listing, each with the
	 * meta a look-up of its path gives. */
	struct child_dirs cd = {ix, e->path, e->len, {0}};
	assert_int_equal(trawl_index_child_dirs(ix, e->path, e->len, NULL, collect_child_dir, &cd),
			 0);
	struct listing dirs = cd.l;
	listing_sort(&dirs);
	size_t k = 0;
	for (size_t i = 0; i < want.n; i++) {
		if (want.kinds[i] != TRAWL_KIND_DIR)
			continue;
		assert_true(k < dirs.n);
		assert_string_equal(dirs.names[k], want.names[i]);
		assert_int_equal(dirs.kinds[k++], TRAWL_KIND_DIR);
	}
	assert_int_equal(k, dirs.n);
	free(dirs.names);
	free(dirs.kinds);
	free(got.names);
	free(got.kinds);
	free(want.names);
	free(want.kinds);
}

static void assert_same_meta(const struct trawl_dir_meta *got, const struct trawl_dir_meta *want)
{
	assert_int_equal(got->mtime_ns, want->mtime_ns);
	assert_int_equal(got->ctime_ns, want->ctime_ns);
	assert_int_equal(got->mode, want->mode);
	assert_int_equal(got->uid, want->uid);
	assert_int_equal(got->gid, want->gid);
}

/* Every directory's meta, a few listings, and the count of entries, as the model has
 * them; paths not in the model are not in the index. */
static void check_tree(struct trawl_index *ix, const struct model *m)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct ref_entry *e = &m->e[i];
		struct trawl_dir_meta got;
		int rc = trawl_index_dir_meta(ix, e->path, e->len, &got);
		assert_int_equal(rc, e->kind == TRAWL_KIND_DIR ? 0 : -ENOTDIR);
		if (rc == 0)
			assert_same_meta(&got, &e->meta);
	}
	check_children(ix, m, &m->e[0]);
	for (int k = 0; k < 4; k++)
		check_children(ix, m, &m->e[rnd((uint32_t)m->n)]);
	char missing[1024];
	size_t len = random_path(missing, m);
	if (model_find(m, missing, len) == SIZE_MAX) {
		struct trawl_dir_meta meta;
		assert_int_equal(trawl_index_dir_meta(ix, missing, len, &meta), -ENOENT);
		assert_int_equal(trawl_index_children(ix, missing, len, collect_child, NULL),
				 -ENOENT);
	}
	struct trawl_index_stats st;
	trawl_index_stats(ix, &st);
	assert_int_equal(st.n_entries, m->n);
}

/* Apply a few random batches to the index and the model alike, directories with meta from
 * `meta_of`. */
static void apply_batches_with(struct trawl_index *ix, struct model *m, int n_batches,
			       struct trawl_dir_meta (*meta_of)(void))
{
	enum { MAX_BATCH = 24 };
	struct trawl_change c[MAX_BATCH];
	char *buf = malloc((size_t)MAX_BATCH * 1024);
	assert_non_null(buf);
	for (int b = 0; b < n_batches; b++) {
		size_t n = random_batch(c, MAX_BATCH, buf, m, meta_of);
		size_t want_ignored = 0, ignored = SIZE_MAX;
		for (size_t i = 0; i < n; i++)
			want_ignored += !model_apply(m, &c[i]);
		assert_int_equal(trawl_index_apply(ix, c, n, &ignored), 0);
		assert_int_equal(ignored, want_ignored);
	}
	free(buf);
}

static void apply_random_batches(struct trawl_index *ix, struct model *m, int n_batches)
{
	apply_batches_with(ix, m, n_batches, random_meta);
}

/* The index saved to a snapshot and loaded back; the old one is freed. */
static struct trawl_index *reloaded(struct trawl_index *ix)
{
	char path[256];
	const char *tmp = getenv("TMPDIR");
	snprintf(path, sizeof(path), "%s/trawl-test-index-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(trawl_index_save(ix, path), 0);
	trawl_index_free(ix);
	struct trawl_index *loaded = NULL;
	assert_int_equal(trawl_index_load(path, 2, &loaded), 0);
	unlink(path);
	return loaded;
}

static void should_equal_brute_force_on_random_trees(void **state)
{
	(void)state;
	const char *env = getenv("TRAWL_PROPERTY_CASES");
	int cases = env ? atoi(env) : 2000;
	const char *seed = getenv("TRAWL_PROPERTY_SEED");
	rng_state = seed ? strtoull(seed, NULL, 10) : 42;
	struct trawl_matcher *mt = trawl_matcher_new();
	assert_non_null(mt);
	assert_non_null(test_session = trawl_session_new());
	for (int c = 0; c < cases; c++) {
		struct model m = {0};
		char *list = malloc(1 << 20);
		assert_non_null(list);
		size_t list_len = random_list(list, &m, 1 + rnd(c % 10 == 9 ? 600 : 60), 5);
		struct trawl_index *ix = NULL;
		size_t rejected = 0;
		assert_int_equal(
		    trawl_index_build_from_list(list, list_len, '\n', 2, &ix, &rejected), 0);
		assert_int_equal(rejected, 0);
		check_many(ix, &m, mt, 6);
		if (c % 8 == 3) {
			/* A loaded snapshot works its name masks out from the names (the
			 * search rules names out by them): it answers as the model does too. */
			ix = reloaded(ix);
			check_many(ix, &m, mt, 6);
		}

		/* Changes: additions (under old and new directories) and removals. */
		int n_changes = (int)rnd(20);
		for (int k = 0; k < n_changes; k++) {
			if (rnd(3) == 0 && m.n > 1) {
				const struct ref_entry *e = &m.e[1 + rnd((uint32_t)m.n - 1)];
				char p[1024];
				size_t len = e->len;
				memcpy(p, e->path, len);
				assert_int_equal(trawl_index_remove(ix, p, len), 0);
				model_remove(&m, p, len);
				assert_int_equal(trawl_index_remove(ix, p, len), -ENOENT);
			} else {
				char p[1024];
				size_t len = random_path(p, &m);
				unsigned kind = rnd(4) == 0   ? TRAWL_KIND_DIR
						: rnd(8) == 0 ? TRAWL_KIND_LINK
							      : TRAWL_KIND_FILE;
				assert_int_equal(trawl_index_add(ix, p, len, kind), 0);
				if (model_find(&m, p, len) == SIZE_MAX)
					model_add(&m, p, len, kind);
			}
		}
		check_many(ix, &m, mt, 6);
		/* Batches of changes with meta; a rebuild keeps the meta. */
		if (c % 2 == 0) {
			apply_random_batches(ix, &m, 1 + (int)rnd(4));
			check_many(ix, &m, mt, 3);
			check_tree(ix, &m);
		}
		if (rnd(2)) {
			assert_int_equal(trawl_index_rebuild(ix), 0);
			struct trawl_index_stats st;
			trawl_index_stats(ix, &st);
			assert_int_equal(st.n_delta, 0);
			assert_int_equal(st.n_tombstones, 0);
			assert_int_equal(st.n_entries, m.n);
			check_many(ix, &m, mt, 6);
			if (c % 2 == 0) {
				check_tree(ix, &m);
				apply_random_batches(ix, &m, 1 + (int)rnd(3));
				check_many(ix, &m, mt, 3);
				check_tree(ix, &m);
			}
		}
		trawl_index_free(ix);
		model_release(&m);
		free(list);
	}
	trawl_matcher_free(mt);
	trawl_session_free(test_session);
	test_session = NULL;
	print_message("%u searches skipped their scan, %u scanned\n", n_skipped_scans,
		      n_full_scans);
	assert_true(n_skipped_scans > (unsigned)cases / 4 && n_full_scans > (unsigned)cases / 4);
}

/* An index of the files at `paths` (a few KiB of them at most), and the same in m. */
static struct trawl_index *index_of_files(const char *const *paths, size_t n_paths, struct model *m)
{
	char list[4096];
	size_t len = 0;
	for (size_t i = 0; i < n_paths; i++) {
		size_t n = strlen(paths[i]);
		assert_true(len + n + 1 <= sizeof(list));
		memcpy(list + len, paths[i], n);
		len += n;
		list[len++] = '\n';
		model_add(m, paths[i], n, TRAWL_KIND_FILE);
	}
	struct trawl_index *ix = NULL;
	assert_int_equal(trawl_index_build_from_list(list, len, '\n', 2, &ix, NULL), 0);
	return ix;
}

/* The scan carries the matcher's state from each directory to its children: names that
 * fold to nothing or to a '/' (a fullwidth solidus), deep chains, directories equal to a
 * term, case kept, and terms that span components must score as whole paths do. */
static void should_score_a_scan_as_whole_paths_are_scored(void **state)
{
	(void)state;
	static const char *const paths[] = {
	    "/usr/lib/x86_64-linux-gnu/libso.so.1",
	    "/usr/lib/python3/dist-packages/numpy/core/multiarray.py",
	    "/usr/share/locale/fr/LC_MESSAGES/core.mo",
	    "/usr/share/locale/fr_CA/LC_MESSAGES/Lib So.mo",
	    "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/lib/so",
	    "/lib/so",
	    "/so/lib",
	    "/core/core/core",
	    "/x\357\274\217lib/so\357\274\217core",
	    "/soft\xc2\xad/\xc2\xad/lib",
	    "/Caf\303\251/e\314\201t\303\251/Stra\303\237e.so",
	    "/ngi/nginx/conf/nginx.conf",
	    "/etc/nginx/sites-enabled/default",
	};
	static const char *const queries[] = {
	    "lib so",
	    "core multia",
	    "locale fr LC",
	    "ngi",
	    "so",
	    "core",
	    "lib/so",
	    "b/c",
	    "Lib",
	    "LC_M",
	    "lib | core so",
	    "etes",
	    "strasse",
	    "cafe",
	    "\xef\xbc\x8f",
	    "r/s",
	    "usr lib so 1",
	    "c/d/e/f/g/h/i/j/k/l/m",
	    "nginx conf",
	    "x so core",
	};
	struct model m = {0};
	struct trawl_index *ix = index_of_files(paths, sizeof(paths) / sizeof(paths[0]), &m);
	struct trawl_matcher *mt = trawl_matcher_new();
	assert_non_null(mt);
	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		check_search(ix, &m, mt, queries[i], 100000, NULL, 0, NULL);
		check_search(ix, &m, mt, queries[i], 1, NULL, 0, NULL);
	}
	trawl_matcher_free(mt);
	trawl_index_free(ix);
	model_release(&m);
}

/* The scan bounds an entry from its name's bytes before scoring it: which of a term's
 * units it holds, which start a word, which pairs sit side by side. ASCII names over a
 * few letters, delimiters and cases, with short fuzzy terms of the same letters and small
 * limits, put those bounds right at the score to beat, where one point too tight shows. */
static void should_bound_ascii_names_no_tighter_than_they_score(void **state)
{
	(void)state;
	static const char *const bytes[] = {"a", "b", "c", "A", "B",  "C",
					    "_", ".", "-", "1", "ab", "bc"};
	static const char *const units[] = {"a", "b", "c", "A", "B", "1", "_", "."};
	const size_t n_bytes = sizeof(bytes) / sizeof(bytes[0]);
	const size_t n_units = sizeof(units) / sizeof(units[0]);
	rng_state = 7;
	struct trawl_matcher *mt = trawl_matcher_new();
	assert_non_null(mt);
	for (int c = 0; c < 150; c++) {
		struct model m = {0};
		char list[1 << 16];
		size_t len = 0;
		size_t n_paths = 20 + rnd(200);
		for (size_t i = 0; i < n_paths; i++) {
			char path[256];
			size_t n = 0;
			for (size_t d = 0, depth = 1 + rnd(3); d < depth; d++) {
				path[n++] = '/';
				size_t start = n;
				for (size_t k = 0, w = 1 + rnd(d + 1 == depth ? 8 : 2); k < w; k++)
					n = append(path, n, bytes[rnd((uint32_t)n_bytes)]);
				/* "." and ".." are not names. */
				if ((n - start == 1 && path[start] == '.') ||
				    (n - start == 2 && path[start] == '.' &&
				     path[start + 1] == '.'))
					path[n++] = 'x';
			}
			if (model_find(&m, path, n) != SIZE_MAX)
				continue;
			memcpy(list + len, path, n);
			len += n;
			list[len++] = '\n';
			model_add(&m, path, n, TRAWL_KIND_FILE);
		}
		struct trawl_index *ix = NULL;
		size_t rejected = 0;
		assert_int_equal(trawl_index_build_from_list(list, len, '\n', 2, &ix, &rejected),
				 0);
		assert_int_equal(rejected, 0);
		for (int k = 0; k < 12; k++) {
			char q[64];
			size_t n = 0;
			for (size_t t = 0, terms = 1 + rnd(2); t < terms; t++) {
				if (t)
					q[n++] = ' ';
				for (size_t i = 0, w = 2 + rnd(4); i < w; i++)
					n = append(q, n, units[rnd((uint32_t)n_units)]);
			}
			q[n] = '\0';
			check_search(ix, &m, mt, q, 1 + rnd(5), NULL, 0, NULL);
		}
		trawl_index_free(ix);
		model_release(&m);
	}
	trawl_matcher_free(mt);
}

/* A name whose fold holds a '/' (a fullwidth solidus) has another basename than its own
 * name: a term can claim it without the name being in the term's prefix tier. Neither the
 * skipped scan nor a directory's bound may miss it. */
static void should_rank_a_name_whose_fold_moves_its_basename(void **state)
{
	(void)state;
	static const char *const paths[] = {
	    "/a/sox",	    "/a/soy.txt", "/b/lib\357\274\217so", "/c/d/e\357\274\217core/x/so.c",
	    "/c/d/xsocore", "/core/so",	  "/core/e/so.d",
	};
	static const char *const queries[] = {"so", "core so", "so core"};
	struct model m = {0};
	struct trawl_index *ix = index_of_files(paths, sizeof(paths) / sizeof(paths[0]), &m);
	struct trawl_matcher *mt = trawl_matcher_new();
	assert_non_null(mt);
	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++)
		for (size_t limit = 1; limit <= 3; limit++)
			check_search(ix, &m, mt, queries[i], limit, NULL, 0, NULL);
	trawl_matcher_free(mt);
	trawl_index_free(ix);
	model_release(&m);
}

/* A name that holds a term's letters may still score it best from a directory: the
 * split scan's bound by the name alone must not drop it. For "abcd" among files,
 * "/a/qab.cxd" (99) comes first and sets the score to beat; "/abc/dxaybzc" beats it
 * (101) with "abc" from its directory, though its name alone allows it less. */
static void should_rank_a_term_in_the_directories_of_a_name_that_holds_it(void **state)
{
	(void)state;
	static const char *const paths[] = {
	    "/a/qab.cxd",
	    "/abc/dxaybzc",
	    "/q/r",
	};
	static const char *const queries[] = {"abcd", "abc", "ab cd", "bcd"};
	struct model m = {0};
	struct trawl_index *ix = index_of_files(paths, sizeof(paths) / sizeof(paths[0]), &m);
	struct trawl_matcher *mt = trawl_matcher_new();
	assert_non_null(mt);
	/* Each search draws its options: enough rounds to split the scan most times. */
	for (int round = 0; round < 8; round++)
		for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++)
			for (size_t limit = 1; limit <= 3; limit++)
				check_search(ix, &m, mt, queries[i], limit, NULL, TRAWL_KIND_FILE,
					     NULL);
	trawl_matcher_free(mt);
	trawl_index_free(ix);
	model_release(&m);
}

/* ---- visibility: what one user may see ---- */

/* Directory meta for permission checks: modes that open to some classes and not to
 * others, a few owners and groups, and now and then no meta at all (closed to all). */
static struct trawl_dir_meta access_meta(void)
{
	static const uint32_t modes[] = {0755, 0755, 0700, 0750, 0711, 0705, 0770,
					 0070, 0005, 0500, 0555, 0751, 0715, 0};
	struct trawl_dir_meta m = {0};
	uint32_t mode = modes[rnd(sizeof(modes) / sizeof(modes[0]))];
	if (mode) {
		m.mode = 040000 | mode;
		m.uid = rnd(4);
		m.gid = rnd(4);
		m.mtime_ns = m.ctime_ns = (int64_t)rnd(1000);
	}
	return m;
}

/* A user: now and then root, else uid 1 to 4 with a group and a few supplementary ones
 * (duplicates and the primary group among them at times). */
static struct trawl_cred random_cred(uint32_t groups[4])
{
	struct trawl_cred c = {
	    .uid = rnd(10) == 0 ? 0 : 1 + rnd(4), .gid = rnd(4), .groups = groups};
	size_t n = rnd(5);
	for (size_t i = 0; i < n; i++)
		groups[c.n_groups++] = rnd(5);
	return c;
}

/* The kernel's rule for a process other than root, written out for the model. */
static int model_opens(const struct trawl_cred *c, const struct trawl_dir_meta *m)
{
	if (c->uid == 0)
		return 1;
	if ((m->mode & 0170000) != 0040000)
		return 0;
	int is_group = m->gid == c->gid;
	for (size_t i = 0; i < c->n_groups; i++)
		is_group |= m->gid == c->groups[i];
	uint32_t bits = m->uid == c->uid ? m->mode >> 6 : is_group ? m->mode >> 3 : m->mode;
	return (bits & 5) == 5;
}

static int cmp_entry_path(const void *a, const void *b, void *arg)
{
	const struct ref_entry *e = arg;
	const struct ref_entry *x = &e[*(const size_t *)a], *y = &e[*(const size_t *)b];
	int c = memcmp(x->path, y->path, x->len < y->len ? x->len : y->len);
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* The model entry at `path`, found in `order` (entries sorted by path). */
static size_t find_sorted(const struct model *m, const size_t *order, const char *path, size_t len)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct ref_entry *e = &m->e[order[mid]];
		int c = memcmp(e->path, path, e->len < len ? e->len : len);
		if (!c)
			c = (e->len > len) - (e->len < len);
		if (!c)
			return order[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	fail_msg("'%.*s' is not in the model", (int)len, path);
	return SIZE_MAX;
}

/* One flag per model entry: whether `c` may read and search every directory above it. */
static uint8_t *model_visible(const struct model *m, const struct trawl_cred *c)
{
	size_t *order = malloc((m->n + 1) * sizeof(*order));
	uint8_t *is_open = malloc(m->n + 1), *is_visible = malloc(m->n + 1);
	assert_non_null(order);
	assert_non_null(is_open);
	assert_non_null(is_visible);
	for (size_t i = 0; i < m->n; i++) {
		order[i] = i;
		is_open[i] = m->e[i].kind == TRAWL_KIND_DIR && model_opens(c, &m->e[i].meta);
	}
	qsort_r(order, m->n, sizeof(*order), cmp_entry_path, m->e);
	for (size_t i = 0; i < m->n; i++) {
		const struct ref_entry *e = &m->e[i];
		int is_seen = 1;
		if (e->len > 1)
			is_seen = is_open[find_sorted(m, order, "/", 1)];
		for (size_t j = 1; j < e->len && is_seen; j++)
			if (e->path[j] == '/')
				is_seen = is_open[find_sorted(m, order, e->path, j)];
		is_visible[i] = (uint8_t)is_seen;
	}
	free(order);
	free(is_open);
	return is_visible;
}

/* Give most directories meta, as a walk would (the others keep none), in one batch. */
static void apply_access_metas(struct trawl_index *ix, struct model *m)
{
	struct trawl_change *c = malloc((m->n + 1) * sizeof(*c));
	assert_non_null(c);
	size_t n = 0;
	for (size_t i = 0; i < m->n; i++) {
		const struct ref_entry *e = &m->e[i];
		if (e->kind != TRAWL_KIND_DIR || rnd(8) == 0)
			continue;
		c[n] = (struct trawl_change){
		    .path = e->path, .len = e->len, .op = TRAWL_CHANGE_META, .meta = access_meta()};
		/* The root is mostly open, or every search would find nothing. */
		if (e->len == 1 && rnd(6))
			c[n].meta.mode = 040755;
		assert_true(model_apply(m, &c[n]));
		n++;
	}
	size_t ignored = SIZE_MAX;
	assert_int_equal(trawl_index_apply(ix, c, n, &ignored), 0);
	assert_int_equal(ignored, 0);
	free(c);
}

/* Every user's searches equal the model's filtered by what it may see, and so does
 * trawl_visibility_allows() for every entry. */
static void check_users(struct trawl_index *ix, const struct model *m, struct trawl_matcher *mt,
			struct trawl_visibility *const *vis, const struct trawl_cred *creds,
			size_t n_users)
{
	for (size_t u = 0; u < n_users; u++) {
		uint8_t *is_visible = model_visible(m, &creds[u]);
		for (size_t i = 0; i < m->n; i++) {
			const struct ref_entry *e = &m->e[i];
			int rc = trawl_visibility_allows(ix, vis[u], e->path, e->len);
			if (rc != is_visible[i])
				fail_msg("uid %u: allows '%.*s' says %d, expected %d", creds[u].uid,
					 (int)e->len, e->path, rc, is_visible[i]);
		}
		struct seen_by who = {vis[u], is_visible};
		check_many_seen(ix, m, mt, 4, &who);
		free(is_visible);
	}
	char missing[1024];
	size_t len = random_path(missing, m);
	if (model_find(m, missing, len) == SIZE_MAX)
		assert_int_equal(trawl_visibility_allows(ix, vis[0], missing, len), -ENOENT);
}

static void should_show_each_user_what_it_could_list(void **state)
{
	(void)state;
	enum { USERS = 3 };
	const char *env = getenv("TRAWL_PROPERTY_CASES");
	int cases = env ? atoi(env) / 4 + 1 : 500;
	const char *seed = getenv("TRAWL_PROPERTY_SEED");
	rng_state = seed ? strtoull(seed, NULL, 10) + 1 : 43;
	struct trawl_matcher *mt = trawl_matcher_new();
	assert_non_null(mt);
	unsigned n_stale = 0, n_hidden_somewhere = 0;
	for (int c = 0; c < cases; c++) {
		struct model m = {0};
		char *list = malloc(1 << 20);
		assert_non_null(list);
		size_t list_len = 0, n_paths = 1 + rnd(c % 10 == 9 ? 400 : 60);
		for (size_t i = 0; i < n_paths; i++) {
			char path[1024];
			size_t n = random_path(path, &m);
			memcpy(list + list_len, path, n);
			list_len += n;
			list[list_len++] = '\n';
			model_add(&m, path, n, TRAWL_KIND_FILE);
		}
		struct trawl_index *ix = NULL;
		assert_int_equal(trawl_index_build_from_list(list, list_len, '\n', 2, &ix, NULL),
				 0);
		free(list);
		/* Meta in the delta, or folded into the base. */
		apply_access_metas(ix, &m);
		if (rnd(2))
			assert_int_equal(trawl_index_rebuild(ix), 0);

		struct trawl_cred creds[USERS];
		uint32_t groups[USERS][4];
		struct trawl_visibility *vis[USERS];
		for (size_t u = 0; u < USERS; u++) {
			creds[u] = random_cred(groups[u]);
			assert_int_equal(trawl_visibility_new(ix, &creds[u], &vis[u]), 0);
			assert_int_equal(trawl_visibility_is_current(ix, vis[u]), 1);
		}
		check_users(ix, &m, mt, vis, creds, USERS);

		/* New entries and their meta in the delta, removals, directories whose
		 * mode or owner changed: the visibilities may go stale, the answers may not. */
		apply_batches_with(ix, &m, 1 + (int)rnd(3), access_meta);
		for (size_t u = 0; u < USERS; u++)
			n_stale += !trawl_visibility_is_current(ix, vis[u]);
		check_users(ix, &m, mt, vis, creds, USERS);
		if (rnd(2)) {
			assert_int_equal(trawl_index_rebuild(ix), 0);
			for (size_t u = 0; u < USERS; u++)
				assert_int_equal(trawl_visibility_is_current(ix, vis[u]),
						 creds[u].uid == 0);
			check_users(ix, &m, mt, vis, creds, USERS);
		}
		for (size_t u = 0; u < USERS; u++) {
			uint8_t *is_visible = model_visible(&m, &creds[u]);
			for (size_t i = 0; i < m.n; i++)
				n_hidden_somewhere += !is_visible[i];
			free(is_visible);
			trawl_visibility_free(vis[u]);
		}
		trawl_index_free(ix);
		model_release(&m);
	}
	trawl_matcher_free(mt);
	print_message("%u visibilities went stale; %u entries hidden from a user\n", n_stale,
		      n_hidden_somewhere);
	assert_true(n_stale > (unsigned)cases / 4 && n_hidden_somewhere > (unsigned)cases);
}

/* Build an index of `paths` (directories end in '/') with the meta given by `metas`
 * (path, mode, uid, gid; NULL-ended). */
static struct trawl_index *index_with_metas(const char *paths, const char *const *metas,
					    const uint32_t *ids)
{
	struct trawl_index *ix = NULL;
	assert_int_equal(trawl_index_build_from_list(paths, strlen(paths), '\n', 1, &ix, NULL), 0);
	for (size_t i = 0; metas[i]; i++) {
		struct trawl_change c = {.path = metas[i],
					 .len = strlen(metas[i]),
					 .op = TRAWL_CHANGE_META,
					 .meta = {.mode = 040000 | ids[3 * i],
						  .uid = ids[3 * i + 1],
						  .gid = ids[3 * i + 2]}};
		size_t ignored = 0;
		assert_int_equal(trawl_index_apply(ix, &c, 1, &ignored), 0);
		assert_int_equal(ignored, 0);
	}
	return ix;
}

/* The paths a user finds for `query` (in rank order, joined by ' ') and the count. */
static void search_as(struct trawl_index *ix, const struct trawl_visibility *v, const char *query,
		      const char *under, char *out, size_t cap, uint64_t *matched)
{
	struct trawl_query *q = NULL;
	assert_int_equal(trawl_query_parse(query, strlen(query), &q, NULL), 0);
	struct trawl_search_options o = {.limit = 100, .visible = v};
	if (under) {
		o.under = under;
		o.under_len = strlen(under);
	}
	struct trawl_results r = {0};
	assert_int_equal(trawl_index_search(ix, q, &o, &r), 0);
	size_t at = 0;
	out[0] = '\0';
	for (size_t i = 0; i < r.n_items; i++)
		at += (size_t)snprintf(out + at, cap - at, "%s%s", i ? " " : "", r.items[i].path);
	*matched = r.n_matched;
	assert_false(r.is_matched_estimate);
	trawl_results_release(&r);
	trawl_query_free(q);
}

static void should_hide_what_closed_directories_hold(void **state)
{
	(void)state;
	static const char paths[] = "/home/alice/secret.txt\n/home/bob/pub.txt\n"
				    "/srv/team/plan.txt\n/srv/drop/inner/f\n";
	static const char *const metas[] = {"/",    "/home",	 "/home/alice", "/home/bob",
					    "/srv", "/srv/team", "/srv/drop",	"/srv/drop/inner",
					    NULL};
	/* mode, uid, gid: alice's home private, the team's directory for group 50, a
	 * drop box others may enter but not list. */
	static const uint32_t ids[] = {0755, 0, 0, 0755, 0, 0,	0700, 1000, 1000, 0755, 1001, 1001,
				       0755, 0, 0, 0750, 0, 50, 0711, 0,    0,	  0755, 0,    0};
	struct trawl_index *ix = index_with_metas(paths, metas, ids);
	uint32_t team[] = {7, 50};
	struct trawl_cred bob = {.uid = 1001, .gid = 1001},
			  carol = {.uid = 1002, .gid = 1002, .groups = team, .n_groups = 2};
	struct trawl_visibility *vb = NULL, *vc = NULL;
	assert_int_equal(trawl_visibility_new(ix, &bob, &vb), 0);
	assert_int_equal(trawl_visibility_new(ix, &carol, &vc), 0);
	char got[1024];
	uint64_t matched;
	search_as(ix, vb, "", NULL, got, sizeof(got), &matched);
	assert_string_equal(got, "/ /srv /home /home/bob /srv/drop /srv/team /home/alice "
				 "/home/bob/pub.txt");
	assert_int_equal(matched, 8);
	search_as(ix, vc, "plan", NULL, got, sizeof(got), &matched);
	assert_string_equal(got, "/srv/team/plan.txt");
	search_as(ix, vb, "plan", NULL, got, sizeof(got), &matched);
	assert_string_equal(got, "");
	assert_int_equal(matched, 0);
	/* Alice's home is there for bob, and empty; below the drop box nothing is. */
	search_as(ix, vb, "", "/home/alice", got, sizeof(got), &matched);
	assert_int_equal(matched, 0);
	struct trawl_query *q = NULL;
	assert_int_equal(trawl_query_parse("f", 1, &q, NULL), 0);
	struct trawl_search_options o = {
	    .under = "/srv/drop/inner", .under_len = 15, .visible = vb};
	struct trawl_results r = {0};
	assert_int_equal(trawl_index_search(ix, q, &o, &r), -ENOENT);
	o.visible = NULL;
	assert_int_equal(trawl_index_search(ix, q, &o, &r), 0);
	assert_int_equal(r.n_items, 1);
	trawl_results_release(&r);
	trawl_query_free(q);
	assert_int_equal(trawl_visibility_allows(ix, vb, "/srv/drop/inner", 15), 0);
	assert_int_equal(trawl_visibility_allows(ix, vb, "/srv/drop", 9), 1);

	/* Alice opens her home: bob's visibility is stale, and his searches see it. */
	struct trawl_change chmod = {.path = "/home/alice",
				     .len = 11,
				     .op = TRAWL_CHANGE_META,
				     .meta = {.mode = 040755, .uid = 1000, .gid = 1000}};
	assert_int_equal(trawl_index_apply(ix, &chmod, 1, NULL), 0);
	assert_int_equal(trawl_visibility_is_current(ix, vb), 0);
	search_as(ix, vb, "secret", NULL, got, sizeof(got), &matched);
	assert_string_equal(got, "/home/alice/secret.txt");
	/* A change of times alone, or a new entry, keeps it current. */
	trawl_visibility_free(vb);
	assert_int_equal(trawl_visibility_new(ix, &bob, &vb), 0);
	chmod.meta.mtime_ns = 5;
	assert_int_equal(trawl_index_apply(ix, &chmod, 1, NULL), 0);
	assert_int_equal(trawl_index_add(ix, "/home/bob/new", 13, TRAWL_KIND_FILE), 0);
	assert_int_equal(trawl_visibility_is_current(ix, vb), 1);
	trawl_visibility_free(vb);
	trawl_visibility_free(vc);
	trawl_index_free(ix);
}

static void should_reject_paths_it_cannot_index(void **state)
{
	(void)state;
	const char list[] = "relative/path\n/a//b\n/a/./b\n/a/../b\n/ok/file\n\n";
	struct trawl_index *ix = NULL;
	size_t rejected = 0;
	assert_int_equal(
	    trawl_index_build_from_list(list, sizeof(list) - 1, '\n', 1, &ix, &rejected), 0);
	assert_int_equal(rejected, 4);
	struct trawl_index_stats st;
	trawl_index_stats(ix, &st);
	assert_int_equal(st.n_entries, 3); /* "/", "/ok", "/ok/file" */
	assert_int_equal(trawl_index_add(ix, "x/y", 3, TRAWL_KIND_FILE), -EINVAL);
	assert_int_equal(trawl_index_remove(ix, "/nope", 5), -ENOENT);
	trawl_index_free(ix);
}

static void should_report_an_unknown_scope(void **state)
{
	(void)state;
	const char list[] = "/a/b\n";
	struct trawl_index *ix = NULL;
	assert_int_equal(trawl_index_build_from_list(list, sizeof(list) - 1, '\n', 1, &ix, NULL),
			 0);
	struct trawl_query *q = NULL;
	assert_int_equal(trawl_query_parse("b", 1, &q, NULL), 0);
	struct trawl_results r = {0};
	struct trawl_search_options opts = {.under = "/zz", .under_len = 3};
	assert_int_equal(trawl_index_search(ix, q, &opts, &r), -ENOENT);
	opts.under = "/a/b"; /* a file, not a directory */
	opts.under_len = 4;
	assert_int_equal(trawl_index_search(ix, q, &opts, &r), -ENOENT);
	opts.under = "/a/";
	opts.under_len = 3;
	assert_int_equal(trawl_index_search(ix, q, &opts, &r), 0);
	assert_int_equal(r.n_items, 1);
	assert_string_equal(r.items[0].path, "/a/b");
	trawl_results_release(&r);
	trawl_query_free(q);
	trawl_index_free(ix);
}

static void should_accept_nul_separated_lists_with_newlines_in_names(void **state)
{
	(void)state;
	const char list[] = "/a/line\nbreak\0/a/plain\0";
	struct trawl_index *ix = NULL;
	assert_int_equal(trawl_index_build_from_list(list, sizeof(list) - 1, '\0', 1, &ix, NULL),
			 0);
	struct trawl_query *q = NULL;
	assert_int_equal(trawl_query_parse("break", 5, &q, NULL), 0);
	struct trawl_results r = {0};
	assert_int_equal(trawl_index_search(ix, q, NULL, &r), 0);
	assert_int_equal(r.n_items, 1);
	assert_string_equal(r.items[0].path, "/a/line\nbreak");
	trawl_results_release(&r);
	trawl_query_free(q);
	trawl_index_free(ix);
}

/* ---- the change API at scale ---- */

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* `n` generated paths, newline-separated, in a tree of projects, modules and files. */
static char *generated_list(unsigned n, size_t *len)
{
	static const char *const words[] = {"src",   "lib",	 "doc",	   "test", "conf",
					    "nginx", "Makefile", "README", "core", "util"};
	size_t cap = (size_t)n * 64, at = 0;
	char *list = malloc(cap);
	assert_non_null(list);
	for (unsigned i = 0; i < n; i++)
		at += (size_t)snprintf(list + at, cap - at, "/srv/p%u/%s%u/m%u/%s_%u.c\n", i % 17,
				       words[i % 10], i % 7, i % 101, words[(i / 10) % 10], i);
	*len = at;
	return list;
}

/* Add every path of a list as a file, in batches of `batch`, as a walker would. */
static void apply_list(struct trawl_index *ix, const char *list, size_t len, size_t batch)
{
	struct trawl_change *c = calloc(batch, sizeof(*c));
	assert_non_null(c);
	size_t n = 0;
	for (size_t i = 0; i < len;) {
		const char *end = memchr(list + i, '\n', len - i);
		size_t k = (size_t)(end - (list + i));
		c[n++] = (struct trawl_change){
		    .path = list + i, .len = k, .op = TRAWL_CHANGE_ADD, .kind = TRAWL_KIND_FILE};
		i += k + 1;
		if (n == batch || i >= len) {
			size_t ignored = 1;
			assert_int_equal(trawl_index_apply(ix, c, n, &ignored), 0);
			assert_int_equal(ignored, 0);
			n = 0;
		}
	}
	free(c);
}

static int run_search(struct trawl_index *ix, const char *text, const char *under, unsigned kinds,
		      size_t limit, const _Atomic int *cancel, struct trawl_results *r)
{
	struct trawl_query *q = NULL;
	assert_int_equal(trawl_query_parse(text, strlen(text), &q, NULL), 0);
	struct trawl_search_options opts = {.limit = limit,
					    .under = under,
					    .under_len = under ? strlen(under) : 0,
					    .kinds = kinds,
					    .cancel = cancel};
	int rc = trawl_index_search(ix, q, &opts, r);
	trawl_query_free(q);
	return rc;
}

/* The same results from both indexes, in every scope; counts too when both are exact. */
static void assert_same_answers(struct trawl_index *x, struct trawl_index *y)
{
	static const char *const texts[] = {"",	   "c",	      "src",	 "nginx conf",
					    "m17", "^readme", "'util_1", "core !lib",
					    ".c$", "p3 doc",  "zzz",	 "test | make"};
	static const char *const unders[] = {NULL, "/", "/srv/p3", "/srv/p5/conf5"};
	static const unsigned kinds[] = {0, TRAWL_KIND_DIR, TRAWL_KIND_FILE};
	struct trawl_results a = {0}, b = {0};
	for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++)
		for (size_t u = 0; u < sizeof(unders) / sizeof(unders[0]); u++) {
			unsigned k = kinds[(t + u) % 3];
			size_t limit = t % 2 ? 20 : 200;
			assert_int_equal(run_search(x, texts[t], unders[u], k, limit, NULL, &a), 0);
			assert_int_equal(run_search(y, texts[t], unders[u], k, limit, NULL, &b), 0);
			if (!a.is_matched_estimate && !b.is_matched_estimate)
				assert_int_equal(a.n_matched, b.n_matched);
			assert_int_equal(a.n_items, b.n_items);
			for (size_t i = 0; i < a.n_items; i++) {
				if (strcmp(a.items[i].path, b.items[i].path) != 0)
					fail_msg("'%s' under %s: '%s' and '%s'", texts[t],
						 unders[u] ? unders[u] : "-", a.items[i].path,
						 b.items[i].path);
				assert_int_equal(a.items[i].score, b.items[i].score);
				assert_int_equal(a.items[i].kind, b.items[i].kind);
			}
		}
	trawl_results_release(&a);
	trawl_results_release(&b);
}

static void should_build_from_batches_the_index_a_list_builds(void **state)
{
	(void)state;
	size_t len;
	char *list = generated_list(30000, &len);
	struct trawl_index *from_list = NULL, *from_batches = NULL;
	assert_int_equal(trawl_index_build_from_list(list, len, '\n', 2, &from_list, NULL), 0);
	assert_int_equal(trawl_index_new_empty(2, &from_batches), 0);
	double t0 = now_ms();
	apply_list(from_batches, list, len, 5000);
	double t1 = now_ms();
	struct trawl_index_stats a, b;
	trawl_index_stats(from_list, &a);
	trawl_index_stats(from_batches, &b);
	assert_int_equal(a.n_entries, b.n_entries);
	assert_int_equal(b.n_base, 1); /* the root: everything else is in the delta */
	assert_int_equal(b.n_delta, b.n_entries - 1);
	/* Searching a delta of every entry answers as the base does. */
	assert_same_answers(from_list, from_batches);
	double t2 = now_ms();
	assert_int_equal(trawl_index_rebuild(from_batches), 0);
	double t3 = now_ms();
	assert_same_answers(from_list, from_batches);
	print_message("%llu entries: applied in %.0f ms, rebuilt in %.0f ms\n",
		      (unsigned long long)b.n_entries, t1 - t0, t3 - t2);
	trawl_index_free(from_list);
	trawl_index_free(from_batches);
	free(list);
}

static void should_replace_an_entry_added_with_another_kind(void **state)
{
	(void)state;
	struct trawl_index *ix = NULL;
	assert_int_equal(trawl_index_new_empty(1, &ix), 0);
	struct trawl_dir_meta m = {.mtime_ns = 1, .ctime_ns = 2, .mode = 040755};
	const struct trawl_change first[] = {
	    {"/a/b/c", 6, TRAWL_CHANGE_ADD, TRAWL_KIND_FILE, {0}},
	    {"/a/b", 4, TRAWL_CHANGE_ADD, TRAWL_KIND_DIR, m},	   /* same kind: meta only */
	    {"/a/b", 4, TRAWL_CHANGE_ADD, TRAWL_KIND_LINK, {0}},   /* a link: c goes */
	    {"/a/b/d", 6, TRAWL_CHANGE_ADD, TRAWL_KIND_FILE, {0}}, /* the link is a dir again */
	    {"/a/x", 4, TRAWL_CHANGE_META, 0, m},		   /* no such path */
	    {"/a/b/d", 6, TRAWL_CHANGE_META, 0, m},		   /* not a directory */
	    {"a/b", 3, TRAWL_CHANGE_ADD, TRAWL_KIND_FILE, {0}},	   /* not absolute */
	    {"/a/b", 4, 9, TRAWL_KIND_FILE, {0}},		   /* no such operation */
	};
	size_t ignored = 0;
	assert_int_equal(trawl_index_apply(ix, first, 8, &ignored), 0);
	assert_int_equal(ignored, 4);
	struct listing l = {0};
	assert_int_equal(trawl_index_children(ix, "/a/b", 4, collect_child, &l), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.names[0], "d");
	struct trawl_dir_meta got;
	assert_int_equal(trawl_index_dir_meta(ix, "/a/b", 4, &got), 0);
	assert_int_equal(got.mtime_ns, 0); /* a new directory: the old meta went with it */
	assert_int_equal(trawl_index_dir_meta(ix, "/a/b/d", 6, &got), -ENOTDIR);
	/* The old contract of trawl_index_add(): a live path is left alone. */
	assert_int_equal(trawl_index_add(ix, "/a/b", 4, TRAWL_KIND_FILE), 0);
	assert_int_equal(trawl_index_dir_meta(ix, "/a/b", 4, &got), 0);
	free(l.names);
	free(l.kinds);
	trawl_index_free(ix);
}

static void should_keep_the_root_when_everything_is_removed(void **state)
{
	(void)state;
	const char list[] = "/a/b\n/c/\n";
	struct trawl_index *ix = NULL;
	assert_int_equal(trawl_index_build_from_list(list, sizeof(list) - 1, '\n', 1, &ix, NULL),
			 0);
	assert_int_equal(trawl_index_add(ix, "/d/e", 4, TRAWL_KIND_FILE), 0);
	assert_int_equal(trawl_index_remove(ix, "/", 1), 0);
	struct trawl_index_stats st;
	trawl_index_stats(ix, &st);
	assert_int_equal(st.n_entries, 1);
	struct listing l = {0};
	assert_int_equal(trawl_index_children(ix, "/", 1, collect_child, &l), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(trawl_index_add(ix, "/a/z", 4, TRAWL_KIND_FILE), 0);
	assert_int_equal(trawl_index_children(ix, "/a", 2, collect_child, &l), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.names[0], "z");
	free(l.names);
	free(l.kinds);
	trawl_index_free(ix);
}

static void should_find_a_path_removed_and_added_again_many_times(void **state)
{
	(void)state;
	struct trawl_index *ix = NULL;
	assert_int_equal(trawl_index_new_empty(1, &ix), 0);
	/* A lock file, a directory that comes and goes with other meta each time. */
	for (int i = 0; i < 3000; i++) {
		struct trawl_dir_meta m = {.mtime_ns = i, .ctime_ns = i, .mode = 040700};
		const struct trawl_change c[] = {
		    {"/run/x.lock", 11, TRAWL_CHANGE_ADD, TRAWL_KIND_FILE, {0}},
		    {"/run/d", 6, TRAWL_CHANGE_ADD, TRAWL_KIND_DIR, m},
		    {"/run/x.lock", 11, TRAWL_CHANGE_REMOVE, 0, {0}},
		    {"/run/d", 6, TRAWL_CHANGE_REMOVE, 0, {0}},
		};
		size_t ignored = 1;
		assert_int_equal(trawl_index_apply(ix, c, i % 2 ? 2 : 4, &ignored), 0);
		assert_int_equal(ignored, 0);
		struct trawl_dir_meta got;
		int rc = trawl_index_dir_meta(ix, "/run/d", 6, &got);
		assert_int_equal(rc, i % 2 ? 0 : -ENOENT);
		if (rc == 0)
			assert_int_equal(got.mtime_ns, i);
	}
	struct listing l = {0};
	assert_int_equal(trawl_index_children(ix, "/run", 4, collect_child, &l), 0);
	assert_int_equal(l.n, 2);
	struct trawl_results r = {0};
	assert_int_equal(run_search(ix, "lock", NULL, 0, 10, NULL, &r), 0);
	assert_int_equal(r.n_items, 1);
	assert_string_equal(r.items[0].path, "/run/x.lock");
	assert_int_equal(trawl_index_rebuild(ix), 0);
	struct trawl_dir_meta got;
	assert_int_equal(trawl_index_dir_meta(ix, "/run/d", 6, &got), 0);
	assert_int_equal(got.mtime_ns, 2999);
	trawl_results_release(&r);
	free(l.names);
	free(l.kinds);
	trawl_index_free(ix);
}

struct canceller {
	_Atomic int flag;
	double delay_ms, set_at_ms;
};

static void *cancel_later(void *arg)
{
	struct canceller *c = arg;
	struct timespec t = {0, (long)(c->delay_ms * 1e6)};
	nanosleep(&t, NULL);
	c->set_at_ms = now_ms();
	atomic_store(&c->flag, 1);
	return NULL;
}

/* A search that takes long enough is stopped soon after its flag is set. */
static void assert_stops_promptly(struct trawl_index *ix, const char *text)
{
	struct trawl_results r = {0};
	double t0 = now_ms();
	assert_int_equal(run_search(ix, text, NULL, 0, 50, NULL, &r), 0);
	double full_ms = now_ms() - t0;
	if (full_ms < 30) {
		print_message("'%s' takes %.1f ms: too quick to cancel half-way\n", text, full_ms);
		trawl_results_release(&r);
		return;
	}
	/* A run may go faster than the first (a quieter machine) and end before its flag is
	 * set: then it is tried again with the flag set sooner. Whatever happens, a search
	 * must not go on for long after its flag is set. */
	for (int attempt = 0; attempt < 5; attempt++) {
		struct canceller c = {.delay_ms = full_ms / (4 << attempt)};
		pthread_t t;
		assert_int_equal(pthread_create(&t, NULL, cancel_later, &c), 0);
		int rc = run_search(ix, text, NULL, 0, 50, &c.flag, &r);
		double end = now_ms();
		pthread_join(t, NULL);
		/* About a millisecond in the library; sanitizers and a busy machine add to it. */
		if (end - c.set_at_ms > 50)
			fail_msg("'%s' stopped %.1f ms after its cancel (full search %.1f ms)",
				 text, end - c.set_at_ms, full_ms);
		if (rc == 0)
			continue;
		assert_int_equal(rc, -ECANCELED);
		trawl_results_release(&r);
		return;
	}
	print_message("'%s' ended before its cancel five times (full search %.1f ms)\n", text,
		      full_ms);
	trawl_results_release(&r);
}

static void should_stop_a_cancelled_search(void **state)
{
	(void)state;
	size_t len;
	char *list = generated_list(60000, &len);
	struct trawl_index *base = NULL, *delta = NULL;
	assert_int_equal(trawl_index_build_from_list(list, len, '\n', 2, &base, NULL), 0);
	assert_int_equal(trawl_index_new_empty(2, &delta), 0);
	apply_list(delta, list, len, 20000);
	static const char *const texts[] = {"", "c", "!zzz", "src m1", "'nginx", "p3 doc"};
	_Atomic int cancelled = 1;
	struct trawl_results r = {0};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		assert_int_equal(run_search(base, texts[i], NULL, 0, 50, &cancelled, &r),
				 -ECANCELED);
		assert_int_equal(run_search(delta, texts[i], "/srv", 0, 50, &cancelled, &r),
				 -ECANCELED);
	}
	/* Half-way: in the scan of the base, and of the delta. */
	assert_stops_promptly(base, "p m c");
	assert_stops_promptly(delta, "p m c");
	trawl_results_release(&r);
	trawl_index_free(base);
	trawl_index_free(delta);
	free(list);
}

/* ---- readers beside the writer ---- */

struct race {
	struct trawl_index *ix;
	_Atomic int is_done;
	_Atomic unsigned n_reads;
};

/* Meta whose fields agree with each other: a torn read would not. */
static struct trawl_dir_meta race_meta(unsigned i)
{
	return (struct trawl_dir_meta){i, (int64_t)i * 3, 040000 | (i % 512), i * 7, i * 11};
}

static void *race_writer(void *arg)
{
	struct race *r = arg;
	enum { BATCHES = 120, PER_BATCH = 60 };
	char(*paths)[64] = malloc(sizeof(*paths) * PER_BATCH);
	assert_non_null(paths);
	struct trawl_change c[PER_BATCH + 1];
	for (unsigned b = 0; b < BATCHES; b++) {
		for (unsigned i = 0; i < PER_BATCH; i++) {
			/* Add this batch's files, remove those of two batches ago. */
			unsigned batch = i % 2 ? b : b - 2;
			int n = snprintf(paths[i], sizeof(paths[i]), "/tmp/w%u/f%u", batch, i);
			uint8_t op = i % 2 || b < 2 ? TRAWL_CHANGE_ADD : TRAWL_CHANGE_REMOVE;
			c[i] = (struct trawl_change){paths[i], (size_t)n, op, TRAWL_KIND_FILE, {0}};
		}
		c[PER_BATCH] =
		    (struct trawl_change){"/stable", 7, TRAWL_CHANGE_META, 0, race_meta(b + 1)};
		assert_int_equal(trawl_index_apply(r->ix, c, PER_BATCH + 1, NULL), 0);
		if (b % 25 == 24)
			assert_int_equal(trawl_index_rebuild(r->ix), 0);
	}
	free(paths);
	atomic_store(&r->is_done, 1);
	return NULL;
}

static void *race_reader(void *arg)
{
	struct race *r = arg;
	struct trawl_results res = {0};
	while (!atomic_load(&r->is_done)) {
		assert_int_equal(run_search(r->ix, "keep", NULL, 0, 10, NULL, &res), 0);
		assert_true(res.n_items >= 1);
		assert_string_equal(res.items[0].path, "/stable/keep");
		assert_int_equal(run_search(r->ix, "f1", "/tmp", 0, 10, NULL, &res), 0);
		struct trawl_dir_meta m;
		assert_int_equal(trawl_index_dir_meta(r->ix, "/stable", 7, &m), 0);
		unsigned i = (unsigned)m.mtime_ns;
		struct trawl_dir_meta want = i ? race_meta(i) : (struct trawl_dir_meta){0};
		assert_same_meta(&m, &want);
		struct listing l = {0};
		assert_int_equal(trawl_index_children(r->ix, "/stable", 7, collect_child, &l), 0);
		assert_int_equal(l.n, 1);
		free(l.names);
		free(l.kinds);
		struct trawl_index_stats st;
		trawl_index_stats(r->ix, &st);
		assert_true(st.n_entries >= 4 && st.delta_bytes > 0);
		atomic_fetch_add(&r->n_reads, 1);
	}
	trawl_results_release(&res);
	return NULL;
}

static void should_answer_readers_while_a_writer_applies_and_rebuilds(void **state)
{
	(void)state;
	const char list[] = "/stable/keep\n/tmp/\n";
	struct race r = {0};
	assert_int_equal(trawl_index_build_from_list(list, sizeof(list) - 1, '\n', 2, &r.ix, NULL),
			 0);
	pthread_t w, readers[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&readers[i], NULL, race_reader, &r), 0);
	assert_int_equal(pthread_create(&w, NULL, race_writer, &r), 0);
	pthread_join(w, NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(readers[i], NULL);
	assert_true(atomic_load(&r.n_reads) > 0);
	struct trawl_dir_meta m;
	assert_int_equal(trawl_index_dir_meta(r.ix, "/stable", 7, &m), 0);
	assert_int_equal(m.mtime_ns, 120);
	trawl_index_free(r.ix);
}

/* ---- listings: a directory's entries as one change ---- */

/* A copy of the model, to tell whether a change changed anything. */
static struct model model_copy(const struct model *m)
{
	struct model c = {0};
	for (size_t i = 0; i < m->n; i++) {
		model_put(&c, m->e[i].path, m->e[i].len, m->e[i].kind);
		c.e[c.n - 1].meta = m->e[i].meta;
	}
	return c;
}

/* The same entries, kinds and meta, in any order. */
static int model_same(const struct model *a, const struct model *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++) {
		size_t k = model_find(b, a->e[i].path, a->e[i].len);
		if (k == SIZE_MAX || b->e[k].kind != a->e[i].kind)
			return 0;
		const struct trawl_dir_meta *x = &a->e[i].meta, *y = &b->e[k].meta;
		if (x->mtime_ns != y->mtime_ns || x->ctime_ns != y->ctime_ns ||
		    x->mode != y->mode || x->uid != y->uid || x->gid != y->gid)
			return 0;
	}
	return 1;
}

/* Whether a listing's entry counts (its kind and name), and whether an earlier one that
 * counts has its name. */
static int is_listed_entry(const struct trawl_entry *e)
{
	if (e->kind != TRAWL_KIND_FILE && e->kind != TRAWL_KIND_DIR && e->kind != TRAWL_KIND_LINK)
		return 0;
	if (!e->len || memchr(e->name, '/', e->len))
		return 0;
	return !(e->name[0] == '.' && (e->len == 1 || (e->len == 2 && e->name[1] == '.')));
}

static int is_listed_before(const struct trawl_listing *c, size_t i, const char *name, size_t len)
{
	for (size_t j = 0; j < i; j++)
		if (is_listed_entry(&c->entries[j]) && c->entries[j].len == len &&
		    memcmp(c->entries[j].name, name, len) == 0)
			return 1;
	return 0;
}

/* Write `dir` (trimmed) + '/' + `name` at buf + *used, and return where. */
static const char *join(char *buf, size_t *used, const char *dir, size_t dir_len, const char *name,
			size_t len, size_t *out_len)
{
	char *p = buf + *used;
	size_t n = dir_len;
	memcpy(p, dir, n);
	if (n > 1)
		p[n++] = '/';
	memcpy(p + n, name, len);
	*out_len = n + len;
	*used += *out_len;
	return p;
}

/* The changes by path a listing stands for, as trawl_index_apply_listings() documents
 * them, written to `out` and applied to the model one by one: the ADD of the directory,
 * the ADD of each entry that counts and is not there with its kind, the REMOVE of each
 * child left unlisted. Returns how many (none for a path that is rejected). */
static size_t expand_listing(struct model *m, const struct trawl_listing *c,
			     struct trawl_change *out, char *buf, size_t *used)
{
	if (!c->path || !is_acceptable(c->path, c->len))
		return 0;
	size_t dir_len = c->len, n = 0;
	while (dir_len > 1 && c->path[dir_len - 1] == '/')
		dir_len--;
	out[n] = (struct trawl_change){c->path, c->len, TRAWL_CHANGE_ADD, TRAWL_KIND_DIR, c->meta};
	assert_int_equal(model_apply(m, &out[n++]), 1);
	for (size_t i = 0; i < c->n_entries; i++) {
		const struct trawl_entry *e = &c->entries[i];
		if (!is_listed_entry(e) || is_listed_before(c, i, e->name, e->len))
			continue;
		size_t len, before = *used;
		const char *p = join(buf, used, c->path, dir_len, e->name, e->len, &len);
		size_t at = model_find(m, p, len);
		if (at != SIZE_MAX && m->e[at].kind == e->kind) {
			*used = before; /* there as it is: left alone, meta and all */
			continue;
		}
		out[n] = (struct trawl_change){p, len, TRAWL_CHANGE_ADD, e->kind, {0}};
		assert_int_equal(model_apply(m, &out[n++]), 1);
	}
	size_t first_remove = n;
	for (size_t i = 0; i < m->n; i++) {
		const struct ref_entry *x = &m->e[i];
		size_t start = dir_len == 1 ? 1 : dir_len + 1;
		if (!is_under(x, c->path, dir_len) ||
		    memchr(x->path + start, '/', x->len - start) ||
		    is_listed_before(c, c->n_entries, x->path + start, x->len - start))
			continue;
		memcpy(buf + *used, x->path, x->len);
		out[n++] = (struct trawl_change){buf + *used, x->len, TRAWL_CHANGE_REMOVE, 0, {0}};
		*used += x->len;
	}
	for (size_t i = first_remove; i < n; i++)
		assert_int_equal(model_apply(m, &out[i]), 1);
	return n;
}

enum { MAX_LISTED = 24 };

/* A random listing of a directory that exists, a file or link that becomes one, or
 * a new path; its entries are children it had (some of another kind), new names,
 * names given twice, names and kinds that do not count. Sometimes the directory just
 * as it is. Names and the path go into buf. */
static void random_listing(struct trawl_listing *c, struct trawl_entry *entries, char *buf,
			   size_t *used, const struct model *m)
{
	char *path = buf + *used;
	size_t len;
	const struct ref_entry *d = &m->e[rnd((uint32_t)m->n)];
	switch (rnd(6)) {
	case 4: /* anything that exists: a file or link becomes a directory */
		break;
	case 5:
		d = NULL;
		break;
	default:
		for (int tries = 0; tries < 8 && d->kind != TRAWL_KIND_DIR; tries++)
			d = &m->e[rnd((uint32_t)m->n)];
		if (d->kind != TRAWL_KIND_DIR)
			d = &m->e[0]; /* "/" */
		break;
	}
	if (d) {
		len = d->len;
		memcpy(path, d->path, len);
	} else {
		len = random_path(path, m);
	}
	*used += len;
	size_t at = model_find(m, path, len);
	*c = (struct trawl_listing){
	    .path = path, .len = len, .meta = random_meta(), .entries = entries};
	/* The children it holds, as they are. */
	size_t n = 0;
	if (at != SIZE_MAX && m->e[at].kind == TRAWL_KIND_DIR) {
		int is_as_is = rnd(4) == 0;
		if (is_as_is && rnd(2))
			c->meta = m->e[at].meta;
		for (size_t i = 0; i < m->n && n < MAX_LISTED; i++) {
			const struct ref_entry *x = &m->e[i];
			size_t start = len == 1 ? 1 : len + 1;
			if (!is_under(x, path, len) || memchr(x->path + start, '/', x->len - start))
				continue;
			if (!is_as_is && rnd(3) == 0)
				continue; /* removed */
			static const unsigned others[] = {TRAWL_KIND_FILE, TRAWL_KIND_DIR,
							  TRAWL_KIND_LINK};
			uint8_t kind = (uint8_t)(is_as_is || rnd(4) ? x->kind : others[rnd(3)]);
			/* A copy: the model frees the paths of what it removes. */
			char *name = buf + *used;
			memcpy(name, x->path + start, x->len - start);
			*used += x->len - start;
			entries[n++] = (struct trawl_entry){name, x->len - start, kind};
		}
		if (is_as_is) {
			c->n_entries = n;
			return;
		}
	}
	static const char *const not_names[] = {"", ".", "..", "a/b", "/", "x/"};
	/* Now and then many: more than the entries whose slots are loaded ahead. */
	size_t more = rnd(4) ? rnd(6) : rnd(MAX_LISTED);
	for (size_t i = 0; i < more && n < MAX_LISTED; i++) {
		static const unsigned kinds[] = {TRAWL_KIND_FILE, TRAWL_KIND_FILE, TRAWL_KIND_DIR,
						 TRAWL_KIND_LINK};
		struct trawl_entry *e = &entries[n++];
		e->kind = (uint8_t)kinds[rnd(4)];
		switch (rnd(8)) {
		case 0: /* a name given before, maybe with another kind */
			if (n > 1) {
				*e = entries[rnd((uint32_t)n - 1)];
				e->kind = (uint8_t)kinds[rnd(4)];
				continue;
			}
			break;
		case 1:
			e->name = not_names[rnd(6)];
			e->len = strlen(e->name);
			continue;
		case 2:
			e->kind = rnd(2) ? 0 : 8;
			break;
		default:
			break;
		}
		char *name = buf + *used;
		e->len = random_name(name);
		e->name = name;
		*used += e->len;
	}
	c->n_entries = n;
}

/* Every directory's listing and meta in the index are the model's. */
static void check_every_listing(struct trawl_index *ix, const struct model *m)
{
	check_tree(ix, m);
	for (size_t i = 0; i < m->n; i++)
		if (m->e[i].kind == TRAWL_KIND_DIR)
			check_children(ix, m, &m->e[i]);
}

static void should_apply_a_listing_as_the_changes_by_path_it_stands_for(void **state)
{
	(void)state;
	const char *env = getenv("TRAWL_PROPERTY_CASES");
	int cases = env ? atoi(env) / 4 : 500;
	const char *seed = getenv("TRAWL_PROPERTY_SEED");
	rng_state = seed ? strtoull(seed, NULL, 10) + 7 : 7;
	struct trawl_matcher *mt = trawl_matcher_new();
	assert_non_null(mt);
	enum { MAX_CHANGES = 8 };
	size_t n_listings = 0, n_unchanged = 0;
	for (int k = 0; k < cases; k++) {
		struct model m = {0};
		char *list = malloc(1 << 20);
		assert_non_null(list);
		size_t list_len = random_list(list, &m, 1 + rnd(k % 10 == 9 ? 300 : 40), 4);
		/* One index takes listings, the other the changes by path they stand for.
		 * Both start from the same base, whose directories hold entries. */
		struct trawl_index *by_list = NULL, *by_path = NULL;
		assert_int_equal(
		    trawl_index_build_from_list(list, list_len, '\n', 2, &by_list, NULL), 0);
		assert_int_equal(
		    trawl_index_build_from_list(list, list_len, '\n', 2, &by_path, NULL), 0);
		int rounds = 1 + (int)rnd(5);
		for (int r = 0; r < rounds; r++) {
			if (rnd(3) == 0) {
				/* Changes by path in between, to both. */
				struct trawl_change c[4];
				char buf[4 * 1024];
				size_t n = random_batch(c, 4, buf, &m, random_meta);
				for (size_t i = 0; i < n; i++)
					model_apply(&m, &c[i]);
				assert_int_equal(trawl_index_apply(by_list, c, n, NULL), 0);
				assert_int_equal(trawl_index_apply(by_path, c, n, NULL), 0);
				continue;
			}
			size_t n = 1 + rnd(MAX_CHANGES), n_paths_out = 0, used = 0;
			size_t out_cap = n * (2 + MAX_LISTED + m.n + 64);
			struct trawl_listing lists[MAX_CHANGES];
			struct trawl_entry entries[MAX_CHANGES][MAX_LISTED];
			struct trawl_change *paths = calloc(out_cap, sizeof(*paths));
			char *buf = malloc(out_cap * 600);
			assert_non_null(paths);
			assert_non_null(buf);
			size_t want_ignored = 0;
			for (size_t i = 0; i < n; i++) {
				random_listing(&lists[i], entries[i], buf, &used, &m);
				struct model before = model_copy(&m);
				size_t got =
				    expand_listing(&m, &lists[i], paths + n_paths_out, buf, &used);
				want_ignored += got == 0 || model_same(&before, &m);
				n_unchanged += got && model_same(&before, &m);
				n_listings++;
				n_paths_out += got;
				model_release(&before);
				assert_true(n_paths_out < out_cap && used < out_cap * 500);
			}
			size_t ignored = SIZE_MAX;
			assert_int_equal(trawl_index_apply_listings(by_list, lists, n, &ignored),
					 0);
			assert_int_equal(ignored, want_ignored);
			assert_int_equal(trawl_index_apply(by_path, paths, n_paths_out, NULL), 0);
			check_every_listing(by_list, &m);
			check_every_listing(by_path, &m);
			if (rnd(4) == 0)
				assert_int_equal(trawl_index_rebuild(by_list), 0);
			free(paths);
			free(buf);
		}
		check_many(by_list, &m, mt, 4);
		trawl_index_free(by_list);
		trawl_index_free(by_path);
		model_release(&m);
		free(list);
	}
	trawl_matcher_free(mt);
	/* Both kinds of listing were tried: those that change nothing too. */
	print_message("%zu listings, %zu of them changed nothing\n", n_listings, n_unchanged);
	assert_true(n_unchanged > n_listings / 20 && n_unchanged < n_listings / 2);
}

static void should_list_a_directory_that_held_entries(void **state)
{
	(void)state;
	const char list[] = "/d/keep\n/d/gone\n/d/was_file\n/d/was_dir/x\n/d/sub/y\n";
	struct trawl_index *ix = NULL;
	assert_int_equal(trawl_index_build_from_list(list, sizeof(list) - 1, '\n', 1, &ix, NULL),
			 0);
	struct trawl_dir_meta m = {.mtime_ns = 5, .ctime_ns = 6, .mode = 040755};
	const struct trawl_entry entries[] = {
	    {"keep", 4, TRAWL_KIND_FILE},     /* there: stays */
	    {"was_file", 8, TRAWL_KIND_DIR},  /* replaced by a directory */
	    {"was_dir", 7, TRAWL_KIND_LINK},  /* replaced by a link, x goes */
	    {"sub", 3, TRAWL_KIND_DIR},	      /* there: keeps y */
	    {"\xff\xfe", 2, TRAWL_KIND_FILE}, /* not UTF-8: added byte for byte */
	    {"keep", 4, TRAWL_KIND_DIR},      /* given twice: the first counts */
	    {"a/b", 3, TRAWL_KIND_FILE},      /* not a name */
	    {"..", 2, TRAWL_KIND_FILE},	      /* not a name */
	    {"odd", 3, 0},		      /* no such kind */
	};
	struct trawl_listing l = {"/d", 2, m, entries, sizeof(entries) / sizeof(entries[0])};
	size_t ignored = SIZE_MAX;
	assert_int_equal(trawl_index_apply_listings(ix, &l, 1, &ignored), 0);
	assert_int_equal(ignored, 0);
	struct listing got = {0};
	assert_int_equal(trawl_index_children(ix, "/d", 2, collect_child, &got), 0);
	listing_sort(&got);
	static const char *const names[] = {"keep", "sub", "was_dir", "was_file", "\xff\xfe"};
	static const unsigned kinds[] = {TRAWL_KIND_FILE, TRAWL_KIND_DIR, TRAWL_KIND_LINK,
					 TRAWL_KIND_DIR, TRAWL_KIND_FILE};
	assert_int_equal(got.n, 5);
	for (size_t i = 0; i < 5; i++) {
		assert_string_equal(got.names[i], names[i]);
		assert_int_equal(got.kinds[i], kinds[i]);
	}
	struct trawl_dir_meta meta;
	assert_int_equal(trawl_index_dir_meta(ix, "/d", 2, &meta), 0);
	assert_same_meta(&meta, &m);
	assert_int_equal(trawl_index_dir_meta(ix, "/d/sub/y", 8, &meta), -ENOTDIR);
	assert_int_equal(trawl_index_dir_meta(ix, "/d/was_dir/x", 12, &meta), -ENOENT);
	struct trawl_index_stats st;
	trawl_index_stats(ix, &st);
	assert_int_equal(st.n_entries, 8); /* /, /d, its five, /d/sub/y */
	/* The same listing again changes nothing; a new directory's listing adds all. */
	const struct trawl_entry in_new[] = {{"n1", 2, TRAWL_KIND_FILE}, {"n2", 2, TRAWL_KIND_DIR}};
	const struct trawl_listing again[] = {l, {"/d/was_file/", 12, m, in_new, 2}};
	assert_int_equal(trawl_index_apply_listings(ix, again, 2, &ignored), 0);
	assert_int_equal(ignored, 1);
	trawl_index_stats(ix, &st);
	assert_int_equal(st.n_entries, 10);
	struct trawl_results r = {0};
	assert_int_equal(run_search(ix, "n2", NULL, TRAWL_KIND_DIR, 10, NULL, &r), 0);
	assert_int_equal(r.n_items, 1);
	assert_string_equal(r.items[0].path, "/d/was_file/n2");
	trawl_results_release(&r);
	free(got.names);
	free(got.kinds);
	trawl_index_free(ix);
}

/* A directory's subdirectories as trawl_index_child_dirs() gives them, names
 * sorted and joined by spaces, and the hint that came with each. */
struct hinted_dirs {
	char names[256];
	struct trawl_dir_hint hints[8];
	char (*hint_names)[16];
	size_t n;
};

static int collect_hinted_dir(void *ctx, const char *name, size_t len,
			      const struct trawl_dir_meta *meta, const struct trawl_dir_hint *hint)
{
	struct hinted_dirs *h = ctx;
	(void)meta;
	assert_true(h->n < 8 && len < 16);
	assert_non_null(hint);
	h->hints[h->n] = *hint;
	memcpy(h->hint_names[h->n], name, len);
	h->hint_names[h->n][len] = '\0';
	h->n++;
	return 0;
}

/* The subdirectories of `path` given `hint`, as "a b c"; *out (may be NULL) gets the
 * hint of the one named `name`. */
static void assert_hinted_dirs(struct trawl_index *ix, const char *path,
			       const struct trawl_dir_hint *hint, const char *want,
			       const char *name, struct trawl_dir_hint *out)
{
	char names[8][16];
	struct hinted_dirs h = {.hint_names = names};
	assert_int_equal(
	    trawl_index_child_dirs(ix, path, strlen(path), hint, collect_hinted_dir, &h), 0);
	for (size_t i = 1; i < h.n; i++)
		for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char tmp[16];
			struct trawl_dir_hint th = h.hints[j];
			memcpy(tmp, names[j], sizeof(tmp));
			memcpy(names[j], names[j - 1], sizeof(tmp));
			memcpy(names[j - 1], tmp, sizeof(tmp));
			h.hints[j] = h.hints[j - 1];
			h.hints[j - 1] = th;
		}
	size_t at = 0;
	for (size_t i = 0; i < h.n; i++) {
		at += (size_t)snprintf(h.names + at, sizeof(h.names) - at, "%s%s", i ? " " : "",
				       names[i]);
		if (name && out && strcmp(names[i], name) == 0)
			*out = h.hints[i];
	}
	assert_string_equal(h.names, want);
}

static void should_give_the_subdirectories_of_the_path_whatever_the_hint(void **state)
{
	(void)state;
	const char list[] = "/a/x/1/\n/a/x/2/\n/a/y/3/\n/a/f\n/b/x/9/\n";
	struct trawl_index *ix = NULL;
	assert_int_equal(trawl_index_build_from_list(list, sizeof(list) - 1, '\n', 1, &ix, NULL),
			 0);
	struct trawl_dir_hint hx = {0}, hy = {0}, hbx = {0}, none = {0};
	assert_hinted_dirs(ix, "/a", NULL, "x y", "x", &hx);
	assert_hinted_dirs(ix, "/a", NULL, "x y", "y", &hy);
	assert_hinted_dirs(ix, "/b", NULL, "x", "x", &hbx);
	assert_true(hx.base_serial != 0);
	/* A hint that holds, another directory's, one of the same name elsewhere, none. */
	assert_hinted_dirs(ix, "/a/x", &hx, "1 2", NULL, NULL);
	assert_hinted_dirs(ix, "/a/x/", &hx, "1 2", NULL, NULL);
	assert_hinted_dirs(ix, "/a/x", &hy, "1 2", NULL, NULL);
	assert_hinted_dirs(ix, "/b/x", &hx, "9", NULL, NULL);
	assert_hinted_dirs(ix, "/a/x", &hbx, "1 2", NULL, NULL);
	assert_hinted_dirs(ix, "/a/x", &none, "1 2", NULL, NULL);
	assert_hinted_dirs(ix, "/", &hx, "a b", NULL, NULL);
	struct trawl_dir_hint far = {.base_serial = hx.base_serial, .node = UINT32_MAX};
	assert_hinted_dirs(ix, "/a/x", &far, "1 2", NULL, NULL);
	/* The root's hint does not make "" the root. */
	struct trawl_dir_hint root = {.base_serial = hx.base_serial, .node = 0};
	assert_int_equal(trawl_index_child_dirs(ix, "", 0, &root, collect_hinted_dir, NULL),
			 -ENOENT);
	assert_hinted_dirs(ix, "/", &root, "a b", NULL, NULL);
	assert_int_equal(trawl_index_child_dirs(ix, "/a/f", 4, &hx, collect_hinted_dir, NULL),
			 -ENOTDIR);

	/* /a/x replaced by another directory of that name: its old hint no longer holds,
	 * and the new one, a delta entry's, does. */
	struct trawl_dir_meta m = {.mtime_ns = 1};
	const struct trawl_change swap[] = {
	    {.path = "/a/x", .len = 4, .op = TRAWL_CHANGE_REMOVE},
	    {.path = "/a/x", .len = 4, .op = TRAWL_CHANGE_ADD, .kind = TRAWL_KIND_DIR, .meta = m},
	    {.path = "/a/x/new", .len = 8, .op = TRAWL_CHANGE_ADD, .kind = TRAWL_KIND_DIR},
	    {.path = "/a/x/new/deep", .len = 13, .op = TRAWL_CHANGE_ADD, .kind = TRAWL_KIND_DIR},
	};
	assert_int_equal(trawl_index_apply(ix, swap, 4, NULL), 0);
	struct trawl_dir_hint hx2 = {0}, hnew = {0};
	assert_hinted_dirs(ix, "/a/x", &hx, "new", NULL, NULL);
	assert_hinted_dirs(ix, "/a", &hx, "x y", "x", &hx2);
	assert_true(hx2.node != hx.node);
	assert_hinted_dirs(ix, "/a/x", &hx2, "new", "new", &hnew);
	assert_hinted_dirs(ix, "/a/x/new", &hnew, "deep", NULL, NULL);
	assert_hinted_dirs(ix, "/a/y", &hnew, "3", NULL, NULL);

	/* A rebuild numbers the entries anew: whatever node a hint of the new base names,
	 * every directory still gives its own subdirectories. */
	assert_int_equal(trawl_index_rebuild(ix), 0);
	struct trawl_dir_hint fresh = {0};
	assert_hinted_dirs(ix, "/a/x", &hx2, "new", NULL, NULL);
	assert_hinted_dirs(ix, "/a/x/new", &hnew, "deep", NULL, NULL);
	assert_hinted_dirs(ix, "/a", &hnew, "x y", "x", &fresh);
	assert_true(fresh.base_serial != hx.base_serial);
	struct trawl_index_stats st;
	trawl_index_stats(ix, &st);
	for (uint32_t node = 0; node < st.n_base + 2; node++) {
		struct trawl_dir_hint h = {.base_serial = fresh.base_serial, .node = node};
		assert_hinted_dirs(ix, "/", &h, "a b", NULL, NULL);
		assert_hinted_dirs(ix, "/a", &h, "x y", NULL, NULL);
		assert_hinted_dirs(ix, "/a/x", &h, "new", NULL, NULL);
		assert_hinted_dirs(ix, "/a/x/new", &h, "deep", NULL, NULL);
		assert_hinted_dirs(ix, "/a/y", &h, "3", NULL, NULL);
		assert_hinted_dirs(ix, "/b/x", &h, "9", NULL, NULL);
		assert_hinted_dirs(ix, "/b/x/9", &h, "", NULL, NULL);
	}
	trawl_index_free(ix);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(should_equal_brute_force_on_random_trees),
	    cmocka_unit_test(should_score_a_scan_as_whole_paths_are_scored),
	    cmocka_unit_test(should_rank_a_name_whose_fold_moves_its_basename),
	    cmocka_unit_test(should_rank_a_term_in_the_directories_of_a_name_that_holds_it),
	    cmocka_unit_test(should_bound_ascii_names_no_tighter_than_they_score),
	    cmocka_unit_test(should_show_each_user_what_it_could_list),
	    cmocka_unit_test(should_hide_what_closed_directories_hold),
	    cmocka_unit_test(should_reject_paths_it_cannot_index),
	    cmocka_unit_test(should_report_an_unknown_scope),
	    cmocka_unit_test(should_accept_nul_separated_lists_with_newlines_in_names),
	    cmocka_unit_test(should_build_from_batches_the_index_a_list_builds),
	    cmocka_unit_test(should_replace_an_entry_added_with_another_kind),
	    cmocka_unit_test(should_keep_the_root_when_everything_is_removed),
	    cmocka_unit_test(should_find_a_path_removed_and_added_again_many_times),
	    cmocka_unit_test(should_stop_a_cancelled_search),
	    cmocka_unit_test(should_answer_readers_while_a_writer_applies_and_rebuilds),
	    cmocka_unit_test(should_apply_a_listing_as_the_changes_by_path_it_stands_for),
	    cmocka_unit_test(should_list_a_directory_that_held_entries),
	    cmocka_unit_test(should_give_the_subdirectories_of_the_path_whatever_the_hint),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
