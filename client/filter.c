/* filter.c: `trawl --filter QUERY`: rank paths from standard input, as `fzf --filter`
 * does, with trawl's matcher. Used in scripts and by the ranking benchmark. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "trawl_index.h"

/* Positions shown per path; paths matched on more characters are highlighted up to here. */
#define HIGHLIGHT_MAX_POSITIONS 1024

struct hit {
	const char *path;
	size_t len;
	int32_t score;
};

static int hit_cmp(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;
	return trawl_rank_cmp(x->score, x->path, x->len, y->score, y->path, y->len);
}

/* Read all of standard input. */
static char *slurp(FILE *in, size_t *len)
{
	size_t cap = 1 << 20, n = 0;
	char *buf = malloc(cap);
	if (!buf)
		return NULL;
	for (;;) {
		if (n == cap) {
			char *bigger = realloc(buf, cap *= 2);
			if (!bigger) {
				free(buf);
				return NULL;
			}
			buf = bigger;
		}
		size_t got = fread(buf + n, 1, cap - n, in);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(in)) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

static void print_highlighted(struct trawl_matcher *m, const struct trawl_query *q,
			      const struct hit *h, int is_tty)
{
	uint32_t pos[HIGHLIGHT_MAX_POSITIONS];
	size_t n = 0;
	int32_t score;
	if (trawl_match_positions(m, q, h->path, h->len, &score, pos, HIGHLIGHT_MAX_POSITIONS,
				  &n) <= 0)
		n = 0;
	highlight_write(stdout, h->path, h->len, pos, n, is_tty);
}

int filter_run(const struct filter_options *opts)
{
	struct trawl_query_error err = {0};
	struct trawl_query *q = NULL;
	int rc = trawl_query_parse(opts->query, strlen(opts->query), &q, &err);
	if (rc == -EINVAL) {
		fprintf(stderr, "trawl: bad query at byte %zu: %s\n", err.offset_bytes,
			err.message);
		return 2;
	}
	if (rc < 0) {
		fprintf(stderr, "trawl: query: %s\n", strerror(-rc));
		return 2;
	}
	size_t len = 0;
	char *input = slurp(stdin, &len);
	struct trawl_matcher *m = trawl_matcher_new();
	struct hit *hits = NULL;
	size_t n_hits = 0, cap_hits = 0;
	int status = 2;
	if (!input || !m) {
		fprintf(stderr, "trawl: read standard input: %s\n",
			strerror(errno ? errno : ENOMEM));
		goto out;
	}
	const char sep = opts->is_read0 ? '\0' : '\n';
	for (size_t i = 0; i < len;) {
		const char *end = memchr(input + i, sep, len - i);
		size_t line_len = end ? (size_t)(end - (input + i)) : len - i;
		int32_t score;
		int matched = line_len ? trawl_match(m, q, input + i, line_len, &score) : 0;
		if (matched < 0) {
			fprintf(stderr, "trawl: match: %s\n", strerror(-matched));
			goto out;
		}
		if (matched) {
			if (n_hits == cap_hits) {
				cap_hits = cap_hits ? cap_hits * 2 : 1024;
				struct hit *bigger = realloc(hits, cap_hits * sizeof(*hits));
				if (!bigger) {
					fprintf(stderr, "trawl: %s\n", strerror(ENOMEM));
					goto out;
				}
				hits = bigger;
			}
			hits[n_hits++] = (struct hit){input + i, line_len, score};
		}
		i += line_len + 1;
	}
	if (n_hits)
		qsort(hits, n_hits, sizeof(*hits), hit_cmp);
	size_t shown = opts->limit && opts->limit < n_hits ? opts->limit : n_hits;
	const int is_tty = isatty(STDOUT_FILENO);
	const int is_color = opts->color == COLOR_ALWAYS || (opts->color == COLOR_AUTO && is_tty);
	for (size_t k = 0; k < shown; k++) {
		if (opts->is_scores)
			printf("%d\t", hits[k].score);
		if (is_color)
			print_highlighted(m, q, &hits[k], is_tty);
		else if (is_tty)
			highlight_write(stdout, hits[k].path, hits[k].len, NULL, 0, is_tty);
		else
			fwrite(hits[k].path, 1, hits[k].len, stdout);
		putchar(opts->is_print0 ? '\0' : '\n');
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "trawl: write: %s\n", strerror(errno));
		goto out;
	}
	status = n_hits ? 0 : 1;
out:
	free(hits);
	free(input);
	trawl_matcher_free(m);
	trawl_query_free(q);
	return status;
}
