/* picker_daemon.c: the picker's side of the protocol: the query for what is typed, the
 * status while the index grows, the results and the marks on them, and the picks told
 * back. Lines of any query but the latest are dropped: the daemon has cancelled it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "picker_impl.h"

static void results_clear(struct picker_results *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		free(rs->items[i].path);
		free(rs->items[i].pos);
	}
	rs->n = 0;
	rs->matched = 0;
	rs->is_estimate = 0;
}

static void results_release(struct picker_results *rs)
{
	results_clear(rs);
	free(rs->items);
	memset(rs, 0, sizeof(*rs));
}

/* Add a result line to `rs`. Returns 0, -EPROTO for a line without a path, -ENOMEM. */
static int results_add(struct picker_results *rs, json_t *line)
{
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 256;
		struct picker_result *items = realloc(rs->items, cap * sizeof(*items));
		if (!items)
			return -ENOMEM;
		rs->items = items;
		rs->cap = cap;
	}
	struct picker_result *r = &rs->items[rs->n];
	memset(r, 0, sizeof(*r));
	int rc = conn_result_path(line, &r->path, &r->len);
	if (rc < 0)
		return rc;
	const char *type = json_string_value(json_object_get(line, "type"));
	r->type = type ? type[0] : 'f';
	json_t *pos = json_object_get(line, "positions");
	size_t n = json_is_array(pos) ? json_array_size(pos) : 0;
	if (n) {
		r->pos = malloc(n * sizeof(*r->pos));
		if (!r->pos) {
			free(r->path);
			return -ENOMEM;
		}
		for (size_t i = 0; i < n; i++) {
			json_int_t v = json_integer_value(json_array_get(pos, i));
			/* Drop what is out of order or out of range: they only highlight. */
			if (v >= 0 && (size_t)v < r->len &&
			    (r->n_pos == 0 || (uint32_t)v > r->pos[r->n_pos - 1]))
				r->pos[r->n_pos++] = (uint32_t)v;
		}
	}
	rs->n++;
	return 0;
}

static void marks_release(struct picker *p)
{
	for (size_t i = 0; i < p->n_marks; i++)
		free(p->marks[i].path);
	free(p->marks);
	p->marks = NULL;
	p->n_marks = p->cap_marks = 0;
}

/* Mark or unmark the current result. Returns 0 or -ENOMEM. */
int picker_daemon_mark(struct picker *p)
{
	if (p->cursor >= p->shown.n)
		return 0;
	const struct picker_result *r = &p->shown.items[p->cursor];
	for (size_t i = 0; i < p->n_marks; i++) {
		if (p->marks[i].len == r->len && !memcmp(p->marks[i].path, r->path, r->len)) {
			free(p->marks[i].path);
			memmove(&p->marks[i], &p->marks[i + 1],
				(p->n_marks - i - 1) * sizeof(*p->marks));
			p->n_marks--;
			return 0;
		}
	}
	if (p->n_marks == p->cap_marks) {
		size_t cap = p->cap_marks ? p->cap_marks * 2 : 16;
		struct picker_mark *marks = realloc(p->marks, cap * sizeof(*marks));
		if (!marks)
			return -ENOMEM;
		p->marks = marks;
		p->cap_marks = cap;
	}
	char *copy = malloc(r->len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, r->path, r->len + 1);
	p->marks[p->n_marks++] = (struct picker_mark){copy, r->len};
	return 0;
}

/* Send `req` (consumed). Returns the id (> 0) or -errno, which is also kept in
 * p->io_error for the loop to report. */
static long long send_request(struct picker *p, json_t *req)
{
	if (!req)
		return -ENOMEM;
	long long id = conn_request(&p->conn, req);
	json_decref(req);
	if (id < 0 && !p->io_error)
		p->io_error = (int)id;
	return id;
}

int picker_daemon_status(struct picker *p)
{
	long long id = send_request(p, json_pack("{s:s}", "op", "status"));
	if (id < 0)
		return (int)id;
	p->status_id = id;
	return 0;
}

/* Ask for the current query text. `is_new_text`: the text changed (the cursor goes back
 * to the best result when the answer comes); else the same text again, for more results
 * or a grown index. Returns 0 or -errno. */
static int send_query(struct picker *p, int is_new_text)
{
	/* A blank query matches everything and highlights nothing: no positions to ask. */
	int is_blank = strspn(p->line.text, " ") == p->line.len;
	json_t *req = json_pack("{s:s, s:s%, s:I, s:b, s:b}", "op", "query", "query", p->line.text,
				p->line.len, "limit", (json_int_t)p->limit, "positions", !is_blank,
				"frecency", 1);
	if (req && p->o->type && json_object_set_new(req, "type", json_string(p->o->type)) < 0)
		req = (json_decref(req), NULL);
	if (req && p->o->under && conn_set_path(req, "under", p->o->under, strlen(p->o->under)) < 0)
		req = (json_decref(req), NULL);
	long long id = send_request(p, req);
	if (id < 0)
		return (int)id;
	p->latest_id = id;
	p->is_latest_done = 0;
	p->is_latest_while_ready = p->has_status && p->is_ready;
	p->is_latest_new_text |= is_new_text;
	p->entries_queried = p->entries;
	results_clear(&p->incoming);
	return 0;
}

/* Ask for a first page of results for the text: PICKER_FIRST_SCREENS screenfuls. The
 * first query goes out before the screen is open, so the height comes from the terminal. */
int picker_daemon_query(struct picker *p)
{
	int height = p->is_ui_open ? p->height : picker_height(p, p->term.rows);
	size_t rows = height > 2 ? (size_t)height - 2 : 1;
	p->limit = rows * PICKER_FIRST_SCREENS;
	if (p->limit > PICKER_LIMIT_MAX)
		p->limit = PICKER_LIMIT_MAX;
	return send_query(p, 1);
}

/* The user changed the text: -1 and -0 no longer apply. */
int picker_daemon_query_changed(struct picker *p)
{
	p->is_auto_pending = 0;
	return picker_daemon_query(p);
}

/* ---------------------------------------------------------------------------------------
 * Picking
 */

static int print_path(const char *path, size_t len, int is_print0)
{
	if (fwrite(path, 1, len, stdout) != len || putchar(is_print0 ? '\0' : '\n') == EOF)
		return -EIO;
	return 0;
}

/* Tell the daemon what was picked, and wait (briefly) until it has heard. */
static void send_picks(struct picker *p, const struct picker_mark *picks, size_t n)
{
	if (!p->is_latest_done && p->latest_id > 0) {
		/* A running query would hold the picks back until it ends. */
		send_request(
		    p, json_pack("{s:s, s:I}", "op", "cancel", "target", (json_int_t)p->latest_id));
	}
	long long last_id = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *req = json_pack("{s:s}", "op", "pick");
		if (req && conn_set_path(req, "path", picks[i].path, picks[i].len) < 0)
			req = (json_decref(req), NULL);
		long long id = send_request(p, req);
		if (id > 0)
			last_id = id;
	}
	uint64_t deadline = picker_now_ms() + PICKER_PICK_TIMEOUT_MS;
	while (last_id > 0) {
		uint64_t now = picker_now_ms();
		json_t *line = NULL;
		if (now >= deadline || conn_read(&p->conn, &line, (int)(deadline - now)) < 0)
			break;
		int is_last = json_integer_value(json_object_get(line, "id")) == last_id;
		json_decref(line);
		if (is_last)
			break;
	}
}

/* Print the picks (the marked paths, else the current one) and leave. Returns the exit
 * status. */
int picker_daemon_accept(struct picker *p)
{
	struct picker_mark current = {0}, *picks = p->marks;
	size_t n = p->n_marks;
	if (n == 0) {
		if (p->cursor >= p->shown.n) {
			picker_screen_close(p);
			return 1;
		}
		current.path = p->shown.items[p->cursor].path;
		current.len = p->shown.items[p->cursor].len;
		picks = &current;
		n = 1;
	}
	picker_screen_close(p);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = print_path(picks[i].path, picks[i].len, p->o->is_print0);
	if (rc == 0 && fflush(stdout) == EOF)
		rc = -EIO;
	if (rc < 0) {
		fprintf(stderr, "trawl: write: %s\n", strerror(errno ? errno : EIO));
		return 2;
	}
	send_picks(p, picks, n);
	return 0;
}

/* ---------------------------------------------------------------------------------------
 * Answers
 */

static void on_status(struct picker *p, json_t *line)
{
	p->status_id = 0;
	p->has_status = 1;
	p->is_ready = json_is_true(json_object_get(line, "ready"));
	p->entries = json_integer_value(json_object_get(line, "entries"));
	json_t *walk = json_object_get(line, "walk");
	p->walk_seen = json_integer_value(json_object_get(walk, "entries_seen"));
	p->next_status_ms =
	    picker_now_ms() + (p->is_ready ? PICKER_STATUS_READY_MS : PICKER_STATUS_WALKING_MS);
	p->is_dirty = 1;
}

/* Apply -1 and -0 to the answer of the initial query. Returns RUNNING or an exit status. */
static int decide_auto(struct picker *p)
{
	p->is_auto_pending = 0;
	if (p->o->is_exit_0 && p->shown.matched == 0 && p->shown.n == 0) {
		picker_screen_close(p);
		return 1;
	}
	if (p->o->is_select_1 && p->shown.n == 1 && p->shown.matched == 1 &&
	    !p->shown.is_estimate) {
		p->cursor = 0;
		return picker_daemon_accept(p);
	}
	return RUNNING;
}

static int on_done(struct picker *p, json_t *line)
{
	struct picker_results tmp = p->shown;
	p->shown = p->incoming;
	p->incoming = tmp;
	results_clear(&p->incoming);
	p->shown.matched = json_integer_value(json_object_get(line, "matched"));
	p->shown.is_estimate = json_is_true(json_object_get(line, "matched_is_estimate"));
	p->is_latest_done = 1;
	p->error[0] = '\0';
	if (p->is_latest_new_text) {
		p->cursor = p->scroll = 0;
		p->is_latest_new_text = 0;
	}
	p->is_dirty = 1;
	if (p->is_auto_pending && p->is_latest_while_ready)
		return decide_auto(p);
	return RUNNING;
}

static int on_line(struct picker *p, json_t *line)
{
	json_t *id = json_object_get(line, "id");
	long long n = json_is_integer(id) ? json_integer_value(id) : -1;
	if (n > 0 && n == p->status_id) {
		if (!json_object_get(line, "error"))
			on_status(p, line);
		else
			p->status_id = 0;
		return RUNNING;
	}
	if (n != p->latest_id || p->is_latest_done)
		return RUNNING;
	const char *error = json_string_value(json_object_get(line, "error"));
	if (error) {
		snprintf(p->error, sizeof(p->error), "%s", error);
		p->is_latest_done = 1;
		p->is_auto_pending = 0;
		p->is_latest_new_text = 0;
		p->is_dirty = 1;
		return RUNNING;
	}
	if (json_is_true(json_object_get(line, "done")))
		return json_is_true(json_object_get(line, "cancelled")) ? RUNNING
									: on_done(p, line);
	int rc = results_add(&p->incoming, line);
	if (rc == -ENOMEM) {
		picker_screen_close(p);
		fprintf(stderr, "trawl: %s\n", strerror(ENOMEM));
		return 2;
	}
	return RUNNING; /* a line without a path: ignore it, as unknown fields */
}

int picker_daemon_read(struct picker *p)
{
	for (;;) {
		json_t *line = NULL;
		int rc = conn_read(&p->conn, &line, 0);
		if (rc == -EAGAIN)
			return RUNNING;
		if (rc < 0) {
			picker_screen_close(p);
			if (rc == -EPIPE)
				fprintf(stderr, "trawl: trawld on '%s' closed the connection\n",
					p->sock_path);
			else if (rc == -EPROTO)
				fprintf(stderr,
					"trawl: trawld on '%s' sent a line that is not a JSON "
					"object\n",
					p->sock_path);
			else
				fprintf(stderr, "trawl: talking to trawld on '%s': %s\n",
					p->sock_path, strerror(-rc));
			return 2;
		}
		int status = on_line(p, line);
		json_decref(line);
		if (status != RUNNING)
			return status;
	}
}

/* After answers and status: ask again when the shown results are stale or too few. */
int picker_daemon_refresh(struct picker *p)
{
	if (!p->is_latest_done || p->latest_id == 0)
		return 0;
	/* The first walk is adding entries, or has just finished: ask again. */
	if (p->has_status && !p->is_ready && p->entries != p->entries_queried)
		return send_query(p, 0);
	if (p->has_status && p->is_ready && !p->is_latest_while_ready)
		return send_query(p, 0);
	/* Near the end of what was sent, and the daemon has more. */
	size_t rows = (size_t)picker_list_rows(p);
	if (p->is_ui_open && p->cursor + rows >= p->shown.n && p->shown.n >= p->limit &&
	    p->limit < PICKER_LIMIT_MAX && (long long)p->shown.n < p->shown.matched) {
		p->limit = p->limit * PICKER_LIMIT_GROWTH < PICKER_LIMIT_MAX
			       ? p->limit * PICKER_LIMIT_GROWTH
			       : PICKER_LIMIT_MAX;
		return send_query(p, 0);
	}
	return 0;
}

void picker_daemon_release(struct picker *p)
{
	results_release(&p->shown);
	results_release(&p->incoming);
	marks_release(p);
}
