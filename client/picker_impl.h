/* picker_impl.h: the picker's state, shared by its event loop (picker.c) and its drawing
 * (picker_draw.c). Internal to the picker. */
#ifndef TRAWL_PICKER_IMPL_H
#define TRAWL_PICKER_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "picker.h"
#include "picker_line.h"
#include "picker_text.h"
#include "term.h"

/* One result of a query, as the daemon sent it. */
struct picker_result {
	char *path; /* the raw bytes, NUL-terminated (a name may hold any byte but NUL) */
	size_t len;
	uint32_t *pos; /* byte offsets of the matched characters, ascending */
	size_t n_pos;
	char type; /* 'f', 'd', 'l' */
};

struct picker_results {
	struct picker_result *items;
	size_t n, cap;
	long long matched; /* from the done line: every match, not only those sent */
	int is_estimate;   /* matched is an upper bound */
};

/* A path picked with tab, kept across queries. */
struct picker_mark {
	char *path;
	size_t len;
};

struct picker {
	const struct picker_options *o;
	struct term term;
	struct conn conn;
	char sock_path[4096];
	int io_error; /* the first failed request (-errno), reported by the loop */
	struct picker_line line;
	struct picker_buf frame;

	/* Screen. The UI is `height` lines; the cursor rests on line `parked` of them. */
	int is_ui_open;
	int is_fullscreen;
	int height_spec; /* --height: lines, or a percentage of the terminal's rows */
	int is_height_percent;
	int min_height;
	int height;
	int parked;
	int start_col;	   /* inline: the cursor's column before we began (0: unknown) */
	int is_moved_down; /* inline: we began on the line below the cursor's */
	int is_color;
	int is_dirty;

	/* Results: `shown` on screen; `incoming` collects the latest query's answer. */
	struct picker_results shown, incoming;
	long long latest_id; /* the query whose lines count; others are dropped */
	int is_latest_done;
	int is_latest_while_ready; /* sent after the daemon said it was ready */
	int is_latest_new_text;	   /* its text differs from the shown results' (cursor to top) */
	size_t limit;		   /* results the latest query asked for */
	char error[160];	   /* the latest query's error, shown in the info line */
	size_t cursor;		   /* index of the current result */
	size_t scroll;		   /* index of the first result on screen */

	struct picker_mark *marks;
	size_t n_marks, cap_marks;

	/* The daemon's state, from `status`. */
	long long status_id; /* the status request in flight, 0 when none */
	int has_status;
	int is_ready;
	long long entries;	   /* entries served */
	long long walk_seen;	   /* entries the running walk has seen */
	long long entries_queried; /* `entries` when the latest query was sent */
	uint64_t next_status_ms;

	int is_auto_pending; /* -1/-0 still to be decided on the initial query */

	/* Keyboard input not yet decoded. */
	char in[4096];
	size_t in_len;
	int is_paste;
	uint64_t esc_deadline_ms; /* decide a lone escape at this time (0: none pending) */
};

/* picker_draw.c */

/** The picker's height in lines for a terminal of `rows` rows. */
int picker_height(const struct picker *p, int rows);

/** Lines of results on screen. */
int picker_list_rows(const struct picker *p);

/** Write one frame: the prompt, the info line and the visible results. Returns 0 or
 * -errno. */
int picker_draw(struct picker *p);

/** "123", "12.3k", "7.9M": a count in at most five characters (plus NUL) */
void picker_format_count(long long n, char *buf, size_t cap);

#endif
