/* snapshot_bench.c: what a snapshot costs and saves: its size, the time to write it, and
 * the time from opening it to the first answer, in a fresh process.
 *
 * usage: snapshot_bench save LIST SNAPSHOT [--threads T] [--check QUERIES] [--query Q]
 *        snapshot_bench load SNAPSHOT [--query Q] [--limit K] [--threads T] [--cold]
 *
 * save builds the index from LIST (newline-separated absolute paths) and saves it; with
 * --check it loads the snapshot back, compares every keystroke prefix of every query in
 * QUERIES (one a line) on both indexes and times Q on both. load times trawl_index_load()
 * and the first search of Q (default "nginx.conf"); --cold first evicts the snapshot from
 * the page cache (posix_fadvise DONTNEED on that file only). Prints Markdown tables. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "trawl_index.h"

static int search(struct trawl_index *ix, const char *text, size_t len, size_t limit,
		  struct trawl_results *r)
{
	struct trawl_query *q = NULL;
	int rc = trawl_query_parse(text, len, &q, NULL);
	if (rc < 0)
		return rc;
	struct trawl_search_options opts = {.limit = limit};
	rc = trawl_index_search(ix, q, &opts, r);
	trawl_query_free(q);
	return rc;
}

static int same_results(const struct trawl_results *a, const struct trawl_results *b)
{
	if (a->n_items != b->n_items || a->n_matched != b->n_matched)
		return 0;
	for (size_t i = 0; i < a->n_items; i++)
		if (a->items[i].score != b->items[i].score ||
		    a->items[i].kind != b->items[i].kind ||
		    a->items[i].path_len != b->items[i].path_len ||
		    memcmp(a->items[i].path, b->items[i].path, a->items[i].path_len) != 0)
			return 0;
	return 1;
}

/* Every keystroke prefix of every query line: the same answers from both indexes. */
static int check(struct trawl_index *built, struct trawl_index *loaded, const char *queries)
{
	size_t qlen, n_checked = 0;
	char *qbuf = read_file("snapshot_bench", queries, &qlen);
	struct trawl_results a = {0}, b = {0};
	int ok = 1;
	for (size_t i = 0; i < qlen && ok;) {
		char *end = memchr(qbuf + i, '\n', qlen - i);
		size_t n = end ? (size_t)(end - (qbuf + i)) : qlen - i;
		for (size_t k = 1; k <= n && ok; k++) {
			int ra = search(built, qbuf + i, k, 50, &a);
			int rb = search(loaded, qbuf + i, k, 50, &b);
			if (ra == -EINVAL && rb == -EINVAL)
				continue;
			ok = ra == 0 && rb == 0 && same_results(&a, &b);
			if (!ok)
				fprintf(stderr, "snapshot_bench: '%.*s' differs\n", (int)k,
					qbuf + i);
			n_checked++;
		}
		i += n + 1;
	}
	trawl_results_release(&a);
	trawl_results_release(&b);
	free(qbuf);
	fprintf(stderr, "checked %zu queries: %s\n", n_checked, ok ? "identical" : "DIFFERENT");
	return ok;
}

/* The best of five runs of `query`, in ms. */
static double best_search_ms(struct trawl_index *ix, const char *query)
{
	struct trawl_results r = {0};
	double best = 1e30;
	for (int i = 0; i < 5; i++) {
		double t0 = now_ms();
		if (search(ix, query, strlen(query), 50, &r) < 0)
			best = -1;
		double t = now_ms() - t0;
		if (best >= 0 && t < best)
			best = t;
	}
	trawl_results_release(&r);
	return best;
}

static int cmd_save(const char *list, const char *snapshot, unsigned threads, const char *queries,
		    const char *query)
{
	size_t len;
	char *buf = read_file("snapshot_bench", list, &len);
	struct trawl_index *ix = NULL;
	double t0 = now_ms();
	int rc = trawl_index_build_from_list(buf, len, '\n', threads, &ix, NULL);
	double t1 = now_ms();
	free(buf);
	if (rc < 0) {
		fprintf(stderr, "snapshot_bench: build: %s\n", strerror(-rc));
		return 1;
	}
	rc = trawl_index_save(ix, snapshot);
	double t2 = now_ms();
	if (rc < 0) {
		fprintf(stderr, "snapshot_bench: save '%s': %s\n", snapshot, strerror(-rc));
		trawl_index_free(ix);
		return 1;
	}
	struct trawl_index_stats st;
	trawl_index_stats(ix, &st);
	struct stat sb;
	if (stat(snapshot, &sb) < 0) {
		fprintf(stderr, "snapshot_bench: stat '%s': %s\n", snapshot, strerror(errno));
		trawl_index_free(ix);
		return 1;
	}
	printf(
	    "| entries | names | trigrams | build s | save s | snapshot bytes | bytes/entry |\n");
	printf("|---|---|---|---|---|---|---|\n");
	printf("| %llu | %llu | %llu | %.2f | %.2f | %lld | %.1f |\n",
	       (unsigned long long)st.n_entries, (unsigned long long)st.n_names,
	       (unsigned long long)st.n_trigrams, (t1 - t0) / 1e3, (t2 - t1) / 1e3,
	       (long long)sb.st_size, (double)sb.st_size / (double)st.n_entries);
	int ok = 1;
	if (queries) {
		struct trawl_index *loaded = NULL;
		rc = trawl_index_load(snapshot, threads, &loaded);
		if (rc < 0) {
			fprintf(stderr, "snapshot_bench: load '%s': %s\n", snapshot, strerror(-rc));
			ok = 0;
		} else {
			ok = check(ix, loaded, queries);
			fprintf(stderr, "'%s': best of 5: %.1f ms built, %.1f ms loaded\n", query,
				best_search_ms(ix, query), best_search_ms(loaded, query));
		}
		trawl_index_free(loaded);
	}
	trawl_index_free(ix);
	return ok ? 0 : 1;
}

static int cmd_load(const char *snapshot, const char *query, size_t limit, unsigned threads,
		    int is_cold)
{
	if (is_cold) {
		int fd = open(snapshot, O_RDONLY);
		int rc = fd < 0 ? errno : posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		if (fd >= 0)
			close(fd);
		if (rc) {
			fprintf(stderr, "snapshot_bench: evict '%s': %s\n", snapshot, strerror(rc));
			return 1;
		}
	}
	long rss0 = rss_kb();
	struct trawl_index *ix = NULL;
	struct trawl_results r = {0};
	double c0 = cpu_ms(), t0 = now_ms();
	int rc = trawl_index_load(snapshot, threads, &ix);
	double t1 = now_ms(), c1 = cpu_ms();
	if (rc < 0) {
		fprintf(stderr, "snapshot_bench: load '%s': %s\n", snapshot, strerror(-rc));
		return 1;
	}
	rc = search(ix, query, strlen(query), limit, &r);
	double t2 = now_ms();
	if (rc < 0) {
		fprintf(stderr, "snapshot_bench: search '%s': %s\n", query, strerror(-rc));
		trawl_index_free(ix);
		return 1;
	}
	long rss1 = rss_kb();
	uint64_t matched = r.n_matched;
	char top[256] = "-";
	if (r.n_items)
		snprintf(top, sizeof(top), "%.*s", (int)r.items[0].path_len, r.items[0].path);
	double t3 = now_ms();
	rc = search(ix, query, strlen(query), limit, &r);
	double t4 = now_ms();
	printf("| cache | threads | load ms | load CPU ms | first search ms | open to first answer "
	       "ms | next search ms | matched | first result | RSS MB |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|\n");
	printf("| %s | %u | %.1f | %.1f | %.1f | %.1f | %.1f | %llu | %s | %.0f |\n",
	       is_cold ? "cold" : "warm", threads, t1 - t0, c1 - c0, t2 - t1, t2 - t0, t4 - t3,
	       (unsigned long long)matched, top, (double)(rss1 - rss0) / 1024.0);
	trawl_results_release(&r);
	trawl_index_free(ix);
	return rc < 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: snapshot_bench save LIST SNAPSHOT [--threads T] [--check QUERIES] "
			"[--query Q]\n"
			"       snapshot_bench load SNAPSHOT [--query Q] [--limit K] [--threads T] "
			"[--cold]\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *query = "nginx.conf", *queries = NULL, *args[2] = {NULL, NULL};
	size_t limit = 50, n_args = 0;
	unsigned threads = 2;
	int is_cold = 0;
	if (argc < 2)
		return usage();
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--query") && i + 1 < argc)
			query = argv[++i];
		else if (!strcmp(argv[i], "--limit") && i + 1 < argc)
			limit = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--check") && i + 1 < argc)
			queries = argv[++i];
		else if (!strcmp(argv[i], "--cold"))
			is_cold = 1;
		else if (argv[i][0] != '-' && n_args < 2)
			args[n_args++] = argv[i];
		else
			return usage();
	}
	if (!strcmp(argv[1], "save") && n_args == 2)
		return cmd_save(args[0], args[1], threads, queries, query);
	if (!strcmp(argv[1], "load") && n_args == 1)
		return cmd_load(args[0], query, limit, threads, is_cold);
	return usage();
}
