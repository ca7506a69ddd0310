/* client.h: the pieces of the trawl command that main.c dispatches to. */
#ifndef TRAWL_CLIENT_H
#define TRAWL_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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

/** What `trawl` asks the daemon (client/remote.c). */
enum remote_action { REMOTE_QUERY, REMOTE_STATUS, REMOTE_RESCAN, REMOTE_STOP };

struct remote_options {
	enum remote_action action;
	const char *socket; /* --socket PATH, or NULL for the protocol's search order */
	const char *query;  /* REMOTE_QUERY: the query language of docs/QUERY.md */
	unsigned limit;	    /* results wanted, 1 to 10000 */
	const char *under;  /* an absolute directory, or NULL */
	const char *type;   /* "f", "d", "l", or NULL for all */
	int is_json;	    /* print the daemon's answer lines instead of paths */
	int is_print0;	    /* separate paths with NUL bytes */
	int is_scores;	    /* print each path's score and a tab before it */
	int is_no_start;    /* never start a daemon */
	int is_no_wait;	    /* query a daemon whose first walk is still running */
	enum color_mode color;
};

/**
 * Do opts->action with the daemon, starting one for a query when none answers (unless
 * is_no_start). Returns the exit status: 0 when something matched (or the action was
 * done), 1 when nothing matched (--stop: no daemon to stop), 2 on an error (already
 * reported on stderr).
 */
int remote_run(const struct remote_options *opts);

/**
 * Write the `len` bytes of `path` to `out`, the character at each of the `n_pos`
 * ascending byte offsets `pos` in color (NULL, 0: none). With `is_tty_safe`, control
 * bytes are written as '?', as ls does on a terminal.
 */
void highlight_write(FILE *out, const char *path, size_t len, const uint32_t *pos, size_t n_pos,
		     int is_tty_safe);

#endif
