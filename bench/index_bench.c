/* index_bench.c: build the index from a path list and measure what issue "the index"
 * asks for: build time, memory per entry, per-keystroke query latency, snapshot size
 * and load time. Prints one Markdown table row per run.
 *
 * usage: index_bench LIST [--sample N] [--threads T] [--queries FILE] [--limit K]
 *                         [--snapshot PATH] [--repeat N | --session]
 * LIST is newline-separated absolute paths. --sample keeps N evenly spread paths.
 * --queries holds one final query a line; each is replayed keystroke by keystroke.
 * --repeat runs each keystroke N times and keeps its fastest: for comparing builds on a
 * machine that is not quiet (RESULTS.md figures are single runs). --session replays all
 * keystrokes through one search session, as the daemon does for a picker's connection:
 * a keystroke may then narrow to what the one before it could not rule out. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "trawl_index.h"

/* Keep `want` evenly spread lines of buf (in place). */
static size_t sample_lines(char *buf, size_t len, size_t want)
{
	size_t total = 0;
	for (size_t i = 0; i < len; i++)
		total += buf[i] == '\n';
	if (want == 0 || want >= total)
		return len;
	double step = (double)total / (double)want;
	size_t out = 0, line = 0, next = 0, taken = 0;
	for (size_t i = 0; i < len && taken < want;) {
		char *end = memchr(buf + i, '\n', len - i);
		size_t n = end ? (size_t)(end - (buf + i)) + 1 : len - i;
		if (line == next) {
			memmove(buf + out, buf + i, n);
			out += n;
			taken++;
			next = (size_t)(taken * step);
		}
		line++;
		i += n;
	}
	return out;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	const char *list = NULL, *queries = NULL;
	size_t sample = 0, limit = 50;
	unsigned threads = 2, repeat = 1;
	int use_session = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--sample") && i + 1 < argc)
			sample = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--queries") && i + 1 < argc)
			queries = argv[++i];
		else if (!strcmp(argv[i], "--limit") && i + 1 < argc)
			limit = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--repeat") && i + 1 < argc && atoi(argv[i + 1]) > 0)
			repeat = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--session"))
			use_session = 1;
		else if (argv[i][0] != '-' && !list)
			list = argv[i];
		else {
			fprintf(stderr, "usage: index_bench LIST [--sample N] [--threads T] "
					"[--queries FILE] [--limit K] [--repeat N | --session]\n");
			return 2;
		}
	}
	if (!list) {
		fprintf(stderr, "index_bench: no path list given\n");
		return 2;
	}
	if (use_session && repeat > 1) {
		fprintf(stderr,
			"index_bench: --session replays each keystroke once: no --repeat\n");
		return 2;
	}
	size_t len;
	char *buf = read_file("index_bench", list, &len);
	len = sample_lines(buf, len, sample);
	long rss_before = rss_kb();
	double t0 = now_ms();
	struct trawl_index *ix = NULL;
	size_t rejected = 0;
	int rc = trawl_index_build_from_list(buf, len, '\n', threads, &ix, &rejected);
	double build_ms = now_ms() - t0;
	if (rc < 0) {
		fprintf(stderr, "index_bench: build: %s\n", strerror(-rc));
		free(buf);
		return 1;
	}
	/* Measured with the list still held, as before the build: the delta is the index. */
	long rss_after_build = rss_kb();
	free(buf);
	long rss_after = rss_after_build;
	struct trawl_index_stats st;
	trawl_index_stats(ix, &st);

	/* Keystroke replay. */
	double *lat = NULL;
	size_t n_lat = 0, cap_lat = 0;
	if (queries) {
		size_t qlen;
		char *qbuf = read_file("index_bench", queries, &qlen);
		struct trawl_results r = {0};
		struct trawl_session *session = use_session ? trawl_session_new() : NULL;
		if (use_session && !session) {
			fprintf(stderr, "index_bench: out of memory\n");
			exit(1);
		}
		struct trawl_search_options opts = {
		    .limit = limit, .threads = threads, .session = session};
		for (size_t i = 0; i < qlen;) {
			char *end = memchr(qbuf + i, '\n', qlen - i);
			size_t n = end ? (size_t)(end - (qbuf + i)) : qlen - i;
			for (size_t k = 1; k <= n; k++) {
				if (qbuf[i + k - 1] == ' ')
					continue; /* a space alone changes no term */
				struct trawl_query *q = NULL;
				if (trawl_query_parse(qbuf + i, k, &q, NULL) != 0)
					continue;
				double best = 0;
				for (unsigned k_rep = 0; k_rep < repeat; k_rep++) {
					double a = now_ms();
					rc = trawl_index_search(ix, q, &opts, &r);
					double b = now_ms();
					if (rc < 0)
						break;
					if (k_rep == 0 || b - a < best)
						best = b - a;
				}
				trawl_query_free(q);
				if (rc < 0) {
					fprintf(stderr, "index_bench: search: %s\n", strerror(-rc));
					exit(1);
				}
				if (n_lat == cap_lat) {
					cap_lat = cap_lat ? cap_lat * 2 : 256;
					double *bigger = realloc(lat, cap_lat * sizeof(*lat));
					if (!bigger) {
						fprintf(stderr, "index_bench: out of memory\n");
						exit(1);
					}
					lat = bigger;
				}
				lat[n_lat++] = best;
				if (getenv("INDEX_BENCH_VERBOSE"))
					fprintf(stderr, "%8.2f ms  %9llu matched  '%.*s'\n", best,
						(unsigned long long)r.n_matched, (int)k, qbuf + i);
			}
			i += n + 1;
		}
		trawl_results_release(&r);
		trawl_session_free(session);
		free(qbuf);
		if (n_lat)
			qsort(lat, n_lat, sizeof(*lat), cmp_double);
	}
	double p50 = n_lat ? lat[n_lat / 2] : 0, p99 = n_lat ? lat[(n_lat * 99) / 100] : 0;
	double mean = 0;
	for (size_t i = 0; i < n_lat; i++)
		mean += lat[i] / n_lat;
	printf("| %llu | %.2f | %.1f | %.1f | %.1f | %.1f | %zu | %.2f | %.2f | %.2f |\n",
	       (unsigned long long)st.n_entries, build_ms / 1e3,
	       (double)(rss_after - rss_before) * 1024.0 / st.n_entries,
	       (double)st.store_bytes / st.n_entries, (double)st.postings_bytes / st.n_entries,
	       (double)(st.store_bytes + st.postings_bytes) / st.n_entries, n_lat, p50, p99, mean);
	free(lat);
	trawl_index_free(ix);
	return 0;
}
