/* walk_bench.c: time one walk of the given roots with the walker (io_uring or plain) and
 * print what it saw: entries, directories, errors, seconds and entries per second. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "walk.h"

static int count_dir(void *ctx, const struct walk_dir *d)
{
	(void)ctx;
	(void)d;
	return 0;
}

/* --print: every path below the roots, one a line, as `find ROOT -mindepth 1` would. */
static int print_dir(void *ctx, const struct walk_dir *d)
{
	(void)ctx;
	const char *sep = d->path_len > 1 ? "/" : "";
	for (size_t i = 0; i < d->n_children; i++)
		printf("%s%s%s\n", d->path, sep, d->children[i].name);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: walk_bench [--plain] [--threads N] [--cross-fs] [--no-prune] "
			"[--print] ROOT...\n");
}

int main(int argc, char **argv)
{
	struct walk_options opts = {.prune.fs_types = walk_default_prune_fs};
	int i = 1, is_print = 0;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--plain") == 0) {
			opts.is_uring_disabled = 1;
		} else if (strcmp(argv[i], "--cross-fs") == 0) {
			opts.is_cross_fs = 1;
		} else if (strcmp(argv[i], "--print") == 0) {
			is_print = 1;
		} else if (strcmp(argv[i], "--no-prune") == 0) {
			opts.prune.fs_types = NULL;
		} else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
			opts.threads = (unsigned)atoi(argv[++i]);
		} else {
			usage();
			return 2;
		}
	}
	if (i == argc) {
		usage();
		return 2;
	}
	opts.roots = (const char *const *)(argv + i);
	struct walk_callbacks cb = {.dir = is_print ? print_dir : count_dir};
	struct walk_stats st;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = walk_run(&opts, &cb, &st);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc < 0) {
		fprintf(stderr, "walk_bench: walk: %s\n", strerror(-rc));
		return 1;
	}
	if (is_print)
		return 0;
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* Roots are entries too, as find prints them. */
	unsigned long long entries =
	    (unsigned long long)st.entries + (unsigned long long)(argc - i);
	printf("backend %s threads %u\n", st.is_uring ? "io_uring" : "plain",
	       opts.threads ? opts.threads : 2);
	printf("entries %llu dirs %llu pruned %llu vanished %llu denied %llu errors %llu\n",
	       entries, (unsigned long long)st.dirs_read, (unsigned long long)st.pruned,
	       (unsigned long long)st.vanished, (unsigned long long)st.denied,
	       (unsigned long long)st.errors);
	printf("seconds %.3f entries/s %.0f\n", s, (double)entries / s);
	return 0;
}
