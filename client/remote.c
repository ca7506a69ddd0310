/* remote.c: `trawl QUERY...`, --status, --rescan and --stop: one connection to trawld and
 * its answers printed for people (paths, highlighted) or programs (-0, --json). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "conn.h"

/* How long one answer may take: a query is answered in milliseconds, a status at once;
 * a daemon silent for a minute is stuck. */
#define ANSWER_TIMEOUT_MS 60000
/* How long --stop waits for the daemon to save its snapshot and close the connection. */
#define STOP_TIMEOUT_MS 60000
/* How often a client waiting for the first walk asks for its progress. */
#define READY_POLL_MS 100
/* Matched positions highlighted per path; later ones are shown plain. */
#define HIGHLIGHT_MAX_POSITIONS 1024

struct session {
	struct conn conn;
	const struct remote_options *opts;
	char sock_path[108];
};

/* Report a failed exchange with the daemon; returns exit status 2. */
static int fail(const struct session *s, int rc)
{
	if (rc == -EAGAIN)
		fprintf(stderr, "trawl: no answer from trawld on '%s' within %d s\n", s->sock_path,
			ANSWER_TIMEOUT_MS / 1000);
	else if (rc == -EPIPE)
		fprintf(stderr, "trawl: trawld on '%s' closed the connection\n", s->sock_path);
	else if (rc == -EPROTO)
		fprintf(stderr, "trawl: trawld on '%s' sent a line that is not a JSON object\n",
			s->sock_path);
	else
		fprintf(stderr, "trawl: talking to trawld on '%s': %s\n", s->sock_path,
			strerror(-rc));
	return 2;
}

/* Report an answer's "error"; returns exit status 2. */
static int fail_answer(json_t *answer)
{
	const char *msg = json_string_value(json_object_get(answer, "error"));
	json_t *offset = json_object_get(answer, "offset");
	if (!msg)
		msg = "unknown error";
	if (json_is_integer(offset) && !strncmp(msg, "query: ", 7))
		fprintf(stderr, "trawl: bad query at byte %lld: %s\n",
			(long long)json_integer_value(offset), msg + 7);
	else
		fprintf(stderr, "trawl: %s\n", msg);
	return 2;
}

/* The next line answering request `id`, skipping others; an "id":null line is an error
 * about the connection and answers every request. */
static int read_answer(struct session *s, long long id, json_t **out, int timeout_ms)
{
	for (;;) {
		int rc = conn_read(&s->conn, out, timeout_ms);
		if (rc < 0)
			return rc;
		json_t *got = json_object_get(*out, "id");
		if (json_is_null(got) || (json_is_integer(got) && json_integer_value(got) == id))
			return 0;
		json_decref(*out);
	}
}

/* Send `req` (stolen) and read its one-line answer into *out. */
static int call(struct session *s, json_t *req, json_t **out)
{
	if (!req)
		return -ENOMEM;
	long long id = conn_request(&s->conn, req);
	json_decref(req);
	if (id < 0)
		return (int)id;
	return read_answer(s, id, out, ANSWER_TIMEOUT_MS);
}

static int print_json(json_t *line)
{
	char *text = json_dumps(line, JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	puts(text);
	free(text);
	return 0;
}

static long long int_at(json_t *obj, const char *key)
{
	return json_integer_value(json_object_get(obj, key));
}

/* The first walk has not finished: wait for it, drawing its progress on a terminal. A
 * query now would miss what the walk has not reached, and a script could not tell. */
static int wait_ready(struct session *s)
{
	int is_drawn = 0, rc;
	for (;;) {
		json_t *st;
		rc = call(s, json_pack("{s:s}", "op", "status"), &st);
		if (rc < 0)
			break;
		if (json_object_get(st, "error")) {
			rc = fail_answer(st);
			json_decref(st);
			return rc;
		}
		int is_ready = !json_is_false(json_object_get(st, "ready"));
		json_t *walk = json_object_get(st, "walk");
		long long seen = json_object_get(walk, "entries_seen")
				     ? int_at(walk, "entries_seen")
				     : int_at(st, "entries");
		json_decref(st);
		if (is_ready)
			break;
		if (isatty(STDERR_FILENO)) {
			fprintf(stderr,
				"\rtrawl: waiting for the first walk: %lld entries so far\033[K",
				seen);
			is_drawn = 1;
		}
		struct timespec pause = {0, READY_POLL_MS * 1000000L};
		nanosleep(&pause, NULL);
	}
	if (is_drawn)
		fputs("\r\033[K", stderr);
	return rc < 0 ? fail(s, rc) : 0;
}

static json_t *query_request(const struct remote_options *opts)
{
	json_t *req = json_pack("{s:s, s:s%, s:I}", "op", "query", "query", opts->query,
				strlen(opts->query), "limit", (json_int_t)opts->limit);
	if (!req)
		return NULL;
	int is_tty = isatty(STDOUT_FILENO);
	int is_positions =
	    opts->is_json || opts->color == COLOR_ALWAYS || (opts->color == COLOR_AUTO && is_tty);
	if ((opts->under && conn_set_path(req, "under", opts->under, strlen(opts->under)) < 0) ||
	    (opts->type && json_object_set_new(req, "type", json_string(opts->type)) < 0) ||
	    (is_positions && json_object_set_new(req, "positions", json_true()) < 0)) {
		json_decref(req);
		return NULL;
	}
	return req;
}

static int print_result(json_t *result, const struct remote_options *opts, int is_tty)
{
	char *path;
	size_t len;
	int rc = conn_result_path(result, &path, &len);
	if (rc < 0)
		return rc;
	if (opts->is_scores)
		printf("%lld\t", int_at(result, "score"));
	int is_color = opts->color == COLOR_ALWAYS || (opts->color == COLOR_AUTO && is_tty);
	json_t *positions = json_object_get(result, "positions");
	uint32_t pos[HIGHLIGHT_MAX_POSITIONS];
	size_t n_pos = 0;
	for (size_t i = 0;
	     is_color && i < json_array_size(positions) && n_pos < HIGHLIGHT_MAX_POSITIONS; i++) {
		json_int_t p = json_integer_value(json_array_get(positions, i));
		if (p >= 0 && (size_t)p < len)
			pos[n_pos++] = (uint32_t)p;
	}
	if (is_color || is_tty)
		highlight_write(stdout, path, len, pos, n_pos, is_tty);
	else
		fwrite(path, 1, len, stdout);
	putchar(opts->is_print0 ? '\0' : '\n');
	free(path);
	return 0;
}

static int run_query(struct session *s)
{
	const struct remote_options *opts = s->opts;
	json_t *text = json_stringn(opts->query, strlen(opts->query));
	if (!text) {
		fputs("trawl: the query is not valid UTF-8\n", stderr);
		return 2;
	}
	json_decref(text);
	if (!opts->is_no_wait) {
		int rc = wait_ready(s);
		if (rc)
			return rc;
	}
	json_t *req = query_request(opts);
	if (!req)
		return fail(s, -ENOMEM);
	long long id = conn_request(&s->conn, req);
	json_decref(req);
	if (id < 0)
		return fail(s, (int)id);
	const int is_tty = isatty(STDOUT_FILENO);
	size_t n_results = 0;
	for (;;) {
		json_t *line;
		int rc = read_answer(s, id, &line, ANSWER_TIMEOUT_MS);
		if (rc < 0)
			return fail(s, rc);
		if (json_object_get(line, "error")) {
			rc = fail_answer(line);
			json_decref(line);
			return rc;
		}
		int is_done = json_is_true(json_object_get(line, "done"));
		int is_cancelled = json_is_true(json_object_get(line, "cancelled"));
		if (opts->is_json)
			rc = print_json(line);
		else if (!is_done)
			rc = print_result(line, opts, is_tty);
		json_decref(line);
		if (rc < 0)
			return fail(s, rc);
		if (is_cancelled) {
			fputs("trawl: the query was cancelled\n", stderr);
			return 2;
		}
		if (is_done)
			break;
		n_results++;
	}
	return n_results ? 0 : 1;
}

struct field {
	const char *key, *label;
};

/* Print "<value> <label>" for each integer field of `obj` that is there, with commas:
 * a daemon may add fields and leave some out, and the line says only what it knows. */
static void print_fields(json_t *obj, const struct field *fields, size_t n)
{
	const char *sep = "";
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_object_get(obj, fields[i].key);
		if (json_is_integer(v)) {
			printf("%s%lld %s", sep, (long long)json_integer_value(v), fields[i].label);
			sep = ", ";
		}
	}
}

#define N_FIELDS(a) (sizeof(a) / sizeof((a)[0]))

static void print_status(const struct session *s, json_t *st)
{
	static const struct field kinds[] = {
	    {"files", "files"}, {"directories", "directories"}, {"symlinks", "symlinks"}};
	static const struct field walk_counts[] = {{"walks", "walks"},
						   {"dirs_read", "directories read"},
						   {"dirs_unchanged", "unchanged"},
						   {"entries_seen", "entries seen"},
						   {"errors", "errors"},
						   {"vanished", "vanished"},
						   {"denied", "denied"},
						   {"pruned", "pruned"},
						   {"entries_per_s", "entries/s"}};
	static const struct field index_counts[] = {
	    {"base", "base"}, {"delta", "delta"}, {"tombstones", "tombstones"}};
	json_t *walk = json_object_get(st, "walk"), *index = json_object_get(st, "index"),
	       *snap = json_object_get(st, "snapshot"), *watch = json_object_get(st, "watch");

	const char *version = json_string_value(json_object_get(st, "version"));
	if (version && !strncmp(version, "trawld ", 7))
		version += 7; /* PROTOCOL.md says "0.1.0"; some daemons say "trawld 0.1.0" */
	printf("trawld%s%s", version ? " " : "", version ? version : "");
	if (json_is_integer(json_object_get(st, "pid")))
		printf(", pid %lld", int_at(st, "pid"));
	printf(", socket %s\n", s->sock_path);
	printf("ready:     %s\n", json_is_false(json_object_get(st, "ready")) ? "no" : "yes");
	printf("entries:   %lld", int_at(st, "entries"));
	for (size_t i = 0; i < N_FIELDS(kinds); i++) {
		if (json_object_get(st, kinds[i].key)) {
			fputs(" (", stdout);
			print_fields(st, kinds, N_FIELDS(kinds));
			putchar(')');
			break;
		}
	}
	putchar('\n');
	json_t *roots = json_object_get(st, "roots");
	if (json_array_size(roots)) {
		fputs("roots:    ", stdout);
		for (size_t i = 0; i < json_array_size(roots); i++) {
			const char *root = json_string_value(json_array_get(roots, i));
			printf(" %s", root ? root : "?");
		}
		putchar('\n');
	}
	if (walk) {
		const char *state = json_string_value(json_object_get(walk, "state"));
		const char *backend = json_string_value(json_object_get(walk, "backend"));
		printf("walk:      %s; ", state ? state : "?");
		print_fields(walk, walk_counts, N_FIELDS(walk_counts));
		printf("; %.2f s, %s\n", (double)int_at(walk, "elapsed_ms") / 1000,
		       backend ? backend : "?");
	}
	if (index) {
		fputs("index:     ", stdout);
		print_fields(index, index_counts, N_FIELDS(index_counts));
		printf("; %.1f MiB\n", (double)int_at(index, "memory_bytes") / (1 << 20));
	}
	if (snap) {
		const char *path = json_string_value(json_object_get(snap, "path"));
		const char *error = json_string_value(json_object_get(snap, "error"));
		time_t saved = (time_t)int_at(snap, "saved_at");
		char when[64] = "never";
		struct tm tm;
		if (saved > 0 && localtime_r(&saved, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		printf("snapshot:  %s (%s at start; saved %s)%s%s\n", path ? path : "?",
		       json_is_true(json_object_get(snap, "loaded")) ? "loaded" : "not loaded",
		       when, error ? "; last save failed: " : "", error ? error : "");
	}
	if (watch) {
		const char *backend = json_string_value(json_object_get(watch, "backend"));
		printf("watch:     %s\n", backend ? backend : "?");
	}
	if (json_is_integer(json_object_get(st, "picks")))
		printf("picks:     %lld\n", int_at(st, "picks"));
	if (json_is_integer(json_object_get(st, "clients")))
		printf("clients:   %lld\n", int_at(st, "clients"));
}

/* --status, --rescan, --stop: one request, one answer. */
static int run_action(struct session *s)
{
	static const char *const ops[] = {
	    [REMOTE_STATUS] = "status", [REMOTE_RESCAN] = "rescan", [REMOTE_STOP] = "shutdown"};
	json_t *answer;
	int rc = call(s, json_pack("{s:s}", "op", ops[s->opts->action]), &answer);
	if (rc < 0)
		return fail(s, rc);
	if (json_object_get(answer, "error")) {
		rc = fail_answer(answer);
		json_decref(answer);
		return rc;
	}
	if (s->opts->is_json)
		rc = print_json(answer);
	else if (s->opts->action == REMOTE_STATUS)
		print_status(s, answer);
	json_decref(answer);
	if (rc < 0)
		return fail(s, rc);
	if (s->opts->action == REMOTE_STOP) {
		/* The daemon closes the connection when it exits: wait for that, so that
		 * after `trawl --stop` the socket is free and the snapshot saved. */
		do {
			rc = conn_read(&s->conn, &answer, STOP_TIMEOUT_MS);
			if (rc == 0)
				json_decref(answer);
		} while (rc == 0 || rc == -EPROTO);
		if (rc != -EPIPE) {
			fprintf(stderr, "trawl: trawld on '%s' did not stop within %d s\n",
				s->sock_path, STOP_TIMEOUT_MS / 1000);
			return 2;
		}
	}
	return 0;
}

int remote_run(const struct remote_options *opts)
{
	struct session s = {.opts = opts};
	int rc = conn_socket_path(opts->socket, s.sock_path, sizeof(s.sock_path));
	if (rc < 0) {
		fprintf(stderr, "trawl: socket path too long: '%s'\n",
			opts->socket ? opts->socket : "$TRAWL_SOCKET");
		return 2;
	}
	/* Only a query starts a daemon: a status of one just started says nothing, a
	 * rescan right after its first walk finds nothing, and --stop would stop it. */
	const struct conn_start start = {
	    .is_enabled = opts->action == REMOTE_QUERY && !opts->is_no_start,
	    .is_progress_tty = isatty(STDERR_FILENO),
	};
	rc = conn_open(&s.conn, s.sock_path, &start);
	if (rc < 0) {
		int is_absent = rc == -ENOENT || rc == -ECONNREFUSED;
		char log[4096];
		if (is_absent && opts->action == REMOTE_STOP) {
			fprintf(stderr, "trawl: no trawld answers on '%s'\n", s.sock_path);
			return 1;
		}
		if (rc == -ECHILD && conn_log_path(log, sizeof(log)) == 0)
			fprintf(stderr,
				"trawl: cannot connect to '%s': trawld did not start (see '%s')\n",
				s.sock_path, log);
		else if (rc == -ETIMEDOUT && conn_log_path(log, sizeof(log)) == 0)
			fprintf(stderr,
				"trawl: cannot connect to '%s': the trawld started did not answer "
				"(see '%s')\n",
				s.sock_path, log);
		else
			fprintf(stderr, "trawl: cannot connect to '%s': %s\n", s.sock_path,
				strerror(-rc));
		return 2;
	}
	rc = opts->action == REMOTE_QUERY ? run_query(&s) : run_action(&s);
	conn_close(&s.conn);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "trawl: write: %s\n", strerror(errno));
		return 2;
	}
	return rc;
}
