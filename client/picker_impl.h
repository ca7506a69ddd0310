/* picker_impl.h: the picker's state and tunables, shared by its loop (picker.c), its side
 * of the protocol (picker_daemon.c), its keys (picker_keys.c) and the terminal
 * (picker_screen.c, picker_draw.c). Internal to the picker. */
#ifndef TRAWL_PICKER_IMPL_H
#define TRAWL_PICKER_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "picker.h"
#include "picker_line.h"
#include "picker_text.h"
#include "term.h"

/* Tunables of the picker. */

/* Results asked for a new query text: this many screenfuls of the list, the one shown and
 * the next. Not more: the index answers a small top-K far sooner than a large one (its
 * shortcuts stop once the K-th best beats a bound; on the picker benchmark at 7.9M
 * entries, the daemon's median keystroke takes 5 ms for 76 results and 24 ms for 200).
 * Scrolling near the end asks again for PICKER_LIMIT_GROWTH times as many, up to the
 * protocol's PICKER_LIMIT_MAX. */
#define PICKER_FIRST_SCREENS 2
#define PICKER_LIMIT_GROWTH  4
#define PICKER_LIMIT_MAX     10000
/* How often to ask the daemon's status: often while the first walk runs (the count and
 * the results grow), rarely after (only the total changes). */
#define PICKER_STATUS_WALKING_MS 250
#define PICKER_STATUS_READY_MS	 2000
/* A lone escape byte is the escape key when nothing follows it this soon; terminals send
 * a key's sequence in one write, so this only needs to cover a slow link. */
#define PICKER_ESC_TIMEOUT_MS 50
/* How long to wait for the terminal's cursor position report (inline mode only). */
#define PICKER_CPR_TIMEOUT_MS 500
/* How long to wait for the daemon to confirm the picks before exiting anyway. */
#define PICKER_PICK_TIMEOUT_MS 1000
/* Lines of the terminal used when --min-height is not given, as fzf. */
#define PICKER_MIN_HEIGHT 10

/* What the picker's steps return to go on; otherwise they return the exit status. */
enum { RUNNING = -1 };

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

/* picker.c */

/** Milliseconds on the monotonic clock. */
uint64_t picker_now_ms(void);

/* picker_daemon.c. The functions that send record a failed request in p->io_error, which
 * the loop reports. */

/** Ask the daemon's status (ready, entries). Returns 0 or -errno. */
int picker_daemon_status(struct picker *p);

/** Ask for a first page of results for the query line. Returns 0 or -errno. */
int picker_daemon_query(struct picker *p);

/** The user changed the query line: ask again; -1 and -0 no longer apply. */
int picker_daemon_query_changed(struct picker *p);

/** Read every answer line that has come. Returns RUNNING or an exit status (then the
 * screen is closed and the reason reported). */
int picker_daemon_read(struct picker *p);

/** Ask again when the shown results are stale (the index grew) or run out while
 * scrolling. Returns 0 or -errno. */
int picker_daemon_refresh(struct picker *p);

/** Mark or unmark the current result. Returns 0 or -ENOMEM. */
int picker_daemon_mark(struct picker *p);

/** Close the screen, print the marked paths (else the current one), tell the daemon they
 * were picked. Returns the exit status: 0, 1 when there is nothing to pick, 2. */
int picker_daemon_accept(struct picker *p);

/** Free the results and marks. */
void picker_daemon_release(struct picker *p);

/* picker_keys.c */

/** Decode and act on the keys in p->in. `is_final`: nothing more is coming now, so a
 * lone escape is the escape key. Returns RUNNING or an exit status. */
int picker_keys_on_input(struct picker *p, int is_final);

/* picker_screen.c */

/** Put the terminal in raw mode and make room for the picker. Returns 0 or -errno. */
int picker_screen_open(struct picker *p);

/** picker_screen_open(), or close again and report why not. Returns RUNNING or 2. */
int picker_screen_open_or_fail(struct picker *p);

/** Erase the picker and put the terminal back as it was. A no-op when not open. */
void picker_screen_close(struct picker *p);

/** Fit the picker to the terminal's new size. Returns 0 or -errno. */
int picker_screen_resize(struct picker *p);

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
