/* visibility_bench.c: what system mode costs: building one user's visibility
 * (trawl_visibility_new()) over a large index, its size, and searches with it beside the
 * same searches without. Prints Markdown.
 *
 * usage: visibility_bench LIST [--metas] [--sample N] [--rounds R]
 * LIST is newline-separated absolute paths; directories get made-up meta (hashed from
 * the path: mostly 0755 root's, some 0700 and 0750 of other users and groups, some 0711,
 * the first two levels open). With --metas each line is "TYPE MODE UID GID PATH" instead, as
 * `find / -xdev -printf '%y %m %U %G %p\n'` writes it, and directories (TYPE d) get
 * their real mode and owner. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "trawl_index.h"
#include "visibility.h"

#define APPLY_BATCH 65536

struct dir_meta {
	char *path;
	size_t len;
	struct trawl_dir_meta meta;
};

struct dirs {
	struct dir_meta *d;
	size_t n, cap;
};

static void dirs_push(struct dirs *ds, const char *path, size_t len, struct trawl_dir_meta m)
{
	if (ds->n == ds->cap) {
		ds->cap = ds->cap ? ds->cap * 2 : 4096;
		ds->d = realloc(ds->d, ds->cap * sizeof(*ds->d));
		if (!ds->d)
			exit(3);
	}
	ds->d[ds->n].path = strndup(path, len);
	ds->d[ds->n].len = len;
	ds->d[ds->n].meta = m;
	if (!ds->d[ds->n++].path)
		exit(3);
}

static uint64_t hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

/* Made-up meta: below the first two levels (open, as /usr and /usr/share are), 3%
 * private to one of 50 users, 2% for one of 20 groups, 1% enter-only, the rest open. */
static struct trawl_dir_meta fake_meta(const char *path, size_t len)
{
	uint64_t h = hash(path, len);
	unsigned pick = (unsigned)(h % 100), depth = 0;
	for (size_t i = 1; i < len; i++)
		depth += path[i] == '/';
	struct trawl_dir_meta m = {.mode = 040755};
	if (depth < 2)
		return m;
	if (pick < 3) {
		m.mode = 040700;
		m.uid = 1000 + (uint32_t)(h >> 32) % 50;
		m.gid = m.uid;
	} else if (pick < 5) {
		m.mode = 040750;
		m.gid = 100 + (uint32_t)(h >> 32) % 20;
	} else if (pick < 6) {
		m.mode = 040711;
	}
	return m;
}

struct walker {
	struct trawl_index *ix;
	struct dirs *ds;
	char *path;
	size_t len, cap;
};

static int visit(void *ctx, const char *name, size_t len, unsigned kind);

/* Collect every directory under w->path (depth first) with made-up meta. */
static void collect_dirs(struct walker *w)
{
	dirs_push(w->ds, w->path, w->len, fake_meta(w->path, w->len));
	trawl_index_children(w->ix, w->path, w->len, visit, w);
}

static int visit(void *ctx, const char *name, size_t len, unsigned kind)
{
	struct walker *w = ctx;
	if (kind != TRAWL_KIND_DIR)
		return 0;
	size_t at = w->len;
	if (at + len + 2 > w->cap) {
		w->cap = (at + len + 2) * 2;
		w->path = realloc(w->path, w->cap);
		if (!w->path)
			exit(3);
	}
	if (at > 1)
		w->path[w->len++] = '/';
	memcpy(w->path + w->len, name, len);
	w->len += len;
	collect_dirs(w);
	w->len = at;
	return 0;
}

static void apply_metas(struct trawl_index *ix, const struct dirs *ds)
{
	struct trawl_change *c = malloc(APPLY_BATCH * sizeof(*c));
	if (!c)
		exit(3);
	for (size_t i = 0; i < ds->n;) {
		size_t n = 0;
		for (; i < ds->n && n < APPLY_BATCH; i++, n++)
			c[n] = (struct trawl_change){.path = ds->d[i].path,
						     .len = ds->d[i].len,
						     .op = TRAWL_CHANGE_META,
						     .meta = ds->d[i].meta};
		if (trawl_index_apply(ix, c, n, NULL) < 0) {
			fprintf(stderr, "visibility_bench: apply failed\n");
			exit(1);
		}
	}
	free(c);
}

/* --metas: lines "TYPE MODE UID GID PATH" into a plain list (in place) and the
 * directories' meta. */
static size_t parse_metas(char *buf, size_t len, struct dirs *ds)
{
	size_t out = 0;
	for (size_t i = 0; i < len;) {
		char *end = memchr(buf + i, '\n', len - i);
		size_t n = end ? (size_t)(end - (buf + i)) : len - i;
		char type;
		unsigned mode, uid, gid;
		int skip = 0;
		char line_head[64];
		size_t head = n < sizeof(line_head) - 1 ? n : sizeof(line_head) - 1;
		memcpy(line_head, buf + i, head);
		line_head[head] = '\0';
		if (sscanf(line_head, "%c %o %u %u %n", &type, &mode, &uid, &gid, &skip) == 4 &&
		    skip > 0 && (size_t)skip < n && buf[i + (size_t)skip] == '/') {
			const char *path = buf + i + skip;
			size_t plen = n - (size_t)skip;
			if (type == 'd')
				dirs_push(ds, path, plen,
					  (struct trawl_dir_meta){
					      .mode = 040000 | mode, .uid = uid, .gid = gid});
			memmove(buf + out, path, plen);
			out += plen;
			if (type == 'd' && plen > 1)
				buf[out++] = '/';
			buf[out++] = '\n';
		}
		i += n + 1;
	}
	return out;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static double search_ms(struct trawl_index *ix, const char *text,
			const struct trawl_visibility *vis, int rounds, uint64_t *matched)
{
	struct trawl_query *q = NULL;
	if (trawl_query_parse(text, strlen(text), &q, NULL) < 0)
		exit(1);
	double t[64];
	struct trawl_results r = {0};
	for (int k = 0; k < rounds; k++) {
		struct trawl_search_options o = {.limit = 50, .visible = vis};
		double t0 = now_ms();
		if (trawl_index_search(ix, q, &o, &r) < 0)
			exit(1);
		t[k] = now_ms() - t0;
	}
	*matched = r.n_matched;
	trawl_results_release(&r);
	trawl_query_free(q);
	return median(t, rounds);
}

int main(int argc, char **argv)
{
	const char *list = NULL;
	int is_metas = 0, rounds = 5;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--metas"))
			is_metas = 1;
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (argv[i][0] != '-' && !list)
			list = argv[i];
		else {
			fprintf(stderr, "usage: visibility_bench LIST [--metas] [--rounds R]\n");
			return 2;
		}
	}
	if (!list || rounds < 1 || rounds > 64) {
		fprintf(stderr, "usage: visibility_bench LIST [--metas] [--rounds R]\n");
		return 2;
	}
	size_t len = 0;
	char *buf = read_file("visibility_bench", list, &len);
	struct dirs ds = {0};
	if (is_metas)
		len = parse_metas(buf, len, &ds);
	struct trawl_index *ix = NULL;
	double t0 = now_ms();
	if (trawl_index_build_from_list(buf, len, '\n', 2, &ix, NULL) < 0)
		exit(1);
	double build = now_ms() - t0;
	free(buf);
	if (!is_metas) {
		struct walker w = {
		    .ix = ix, .ds = &ds, .path = malloc(4096), .len = 1, .cap = 4096};
		if (!w.path)
			exit(3);
		w.path[0] = '/';
		collect_dirs(&w);
		free(w.path);
	}
	t0 = now_ms();
	apply_metas(ix, &ds);
	if (trawl_index_rebuild(ix) < 0)
		exit(1);
	double metas = now_ms() - t0;
	struct trawl_index_stats st;
	trawl_index_stats(ix, &st);
	printf("%llu entries, %zu directories with meta (%s); built in %.0f ms, meta applied and "
	       "folded in %.0f ms\n\n",
	       (unsigned long long)st.n_entries, ds.n, is_metas ? "real" : "made up", build, metas);

	static const uint32_t groups[] = {100, 101, 102, 103, 104, 105, 106, 107};
	struct {
		const char *who;
		struct trawl_cred cred;
	} users[] = {
	    {"uid 1000, no groups", {.uid = 1000, .gid = 1000}},
	    {"uid 1001, 8 groups", {.uid = 1001, .gid = 1001, .groups = groups, .n_groups = 8}},
	    {"uid 65534 (nobody)", {.uid = 65534, .gid = 65534}},
	};
	printf("| user | build ms (median of %d) | hidden entries | bitmap bytes |\n", rounds);
	printf("|---|---|---|---|\n");
	struct trawl_visibility *vis[3] = {NULL};
	for (size_t u = 0; u < 3; u++) {
		double t[64];
		for (int k = 0; k < rounds; k++) {
			trawl_visibility_free(vis[u]);
			double s = now_ms();
			if (trawl_visibility_new(ix, &users[u].cred, &vis[u]) < 0)
				exit(1);
			t[k] = now_ms() - s;
		}
		printf("| %s | %.2f | %llu | %zu |\n", users[u].who, median(t, rounds),
		       (unsigned long long)roaring_bitmap_get_cardinality(vis[u]->hidden),
		       roaring_bitmap_portable_size_in_bytes(vis[u]->hidden));
	}

	static const char *const queries[] = {"", "conf", "lib so", "usr share doc"};
	printf("\n| query | without ms | matched | uid 1000 ms | matched | stale uid 1000 ms |\n");
	printf("|---|---|---|---|---|---|\n");
	for (size_t k = 0; k < sizeof(queries) / sizeof(queries[0]); k++) {
		uint64_t m0, m1, m2;
		double plain = search_ms(ix, queries[k], NULL, rounds, &m0);
		double seen = search_ms(ix, queries[k], vis[0], rounds, &m1);
		/* A chmod of the root makes every visibility stale: each search rebuilds. */
		struct trawl_change c = {.path = "/",
					 .len = 1,
					 .op = TRAWL_CHANGE_META,
					 .meta = {.mode = k % 2 ? 040755 : 040775}};
		trawl_index_apply(ix, &c, 1, NULL);
		double stale = search_ms(ix, queries[k], vis[0], rounds, &m2);
		printf("| '%s' | %.2f | %llu | %.2f | %llu | %.2f |\n", queries[k], plain,
		       (unsigned long long)m0, seen, (unsigned long long)m1, stale);
		trawl_visibility_free(vis[0]);
		if (trawl_visibility_new(ix, &users[0].cred, &vis[0]) < 0)
			exit(1);
	}
	for (size_t u = 0; u < 3; u++)
		trawl_visibility_free(vis[u]);
	for (size_t i = 0; i < ds.n; i++)
		free(ds.d[i].path);
	free(ds.d);
	trawl_index_free(ix);
	return 0;
}
