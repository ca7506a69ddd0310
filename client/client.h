/* client.h: the pieces of the trawl command that main.c dispatches to. */
#ifndef TRAWL_CLIENT_H
#define TRAWL_CLIENT_H

#include <stddef.h>

enum color_mode { COLOR_AUTO, COLOR_ALWAYS, COLOR_NEVER };

struct filter_options {
	const char *query;
	size_t limit;  /* 0: every match */
	int is_read0;  /* input paths are NUL-separated */
	int is_print0; /* output paths are NUL-separated */
	int is_scores; /* print the score before each path */
	enum color_mode color;
};

/**
 * Rank the paths read from standard input against opts->query and print them, best
 * first. Returns the exit status: 0 when something matched, 1 when nothing did, 2 on an
 * error (already reported on stderr).
 */
int filter_run(const struct filter_options *opts);

#endif
