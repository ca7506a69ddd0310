/* picker.h: the interactive picker, `trawl` with no query on a terminal: results from
 * the daemon as you type, fzf's keys, the UI on /dev/tty and the picked paths on stdout. */
#ifndef TRAWL_PICKER_H
#define TRAWL_PICKER_H

#include "conn.h"

struct picker_options {
	const char *socket;		/* --socket PATH; NULL: conn_socket_path()'s order */
	const struct conn_start *start; /* how to start trawld when none answers; NULL: never */
	const char *query;		/* -q QUERY: the initial query; NULL: empty */
	const char *under;		/* --under DIR: an absolute directory; NULL: everywhere */
	const char *type;		/* --type f|d|l; NULL: every kind */
	const char *height;		/* --height N or N%: inline below the cursor; NULL or
					 * "100%": full screen on the alternate screen */
	int min_height;			/* --min-height N: floor for a percent height; 0: 10 */
	int is_reverse;			/* --reverse: the prompt on top, the list below it */
	int is_multi;			/* -m, --multi: tab and shift-tab select several */
	int is_select_1;		/* -1, --select-1: one match for the initial query is
					 * printed without showing the picker */
	int is_exit_0;			/* --exit-0: no match for the initial query exits 1
					 * without showing the picker */
	int is_print0;			/* --print0: end each printed path with NUL, not newline */
	int is_no_color;		/* --color=never (also when $NO_COLOR is set) */
};

/**
 * Run the picker. Prints the picked paths on stdout, byte for byte, and tells the daemon
 * about each (`pick`, for frecency). Returns the exit status as fzf's: 0 when something
 * was picked, 1 when nothing matched, 2 on an error (reported on stderr as
 * "trawl: ..."), 130 when the user aborted (esc, ctrl-c, ctrl-g, SIGINT), 128+N on
 * another terminating signal N. The terminal is restored on every one of these paths.
 */
int picker_run(const struct picker_options *o);

#endif
