/* server.c: the event loop. The loop thread owns every connection: it reads, parses and
 * answers requests, and writes answers without ever blocking. Queries go to worker
 * threads as jobs; a finished job comes back through an eventfd, and only the loop
 * thread touches the connection it belongs to. */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "protocol.h"
#include "vis_cache.h"

/* Bytes read from a socket at once. */
#define READ_CHUNK_BYTES 65536

enum source_type { SRC_LISTEN, SRC_SIGNAL, SRC_JOBS, SRC_TIMER, SRC_CONN };

struct source {
	enum source_type type;
};

struct job;

/* Who is on the other end of a connection, as the kernel saw it at connect(). */
struct peer {
	uint32_t uid, gid;
	uint32_t *groups; /* supplementary groups, ascending, unique */
	size_t n_groups;
};

struct conn {
	struct source src;
	int fd;
	char *in; /* bytes of the line being read */
	size_t in_len;
	int is_discarding; /* skipping the rest of an over-long line */
	struct outbuf out;
	size_t out_off;		  /* bytes of `out` already written */
	int64_t stalled_since_ms; /* when unsent answers last stopped moving; 0: none */
	int is_reading;		  /* EPOLLIN is on */
	int is_writing;		  /* EPOLLOUT is on */
	int is_closing;		  /* close once `out` is written and no query runs */
	int is_dead;		  /* closed; freed after this round of events */
	struct job *running;	  /* its query on a worker, or NULL */
	struct job *status;	  /* its status on a worker (system mode), or NULL */
	/* What its last finished query could not rule out, for the next one it types; lent
	 * to the running query. */
	struct trawl_session *session;
	struct peer peer;
	struct conn *prev, *next;
};

struct job {
	struct conn *conn; /* NULL once the connection no longer waits for it */
	struct request req;
	struct trawl_query *q;
	struct peer peer;	       /* a copy: the connection may go first */
	struct trawl_session *session; /* the connection's, while this query runs */
	int is_status;		       /* a status for a peer that sees only part of the index */
	_Atomic int cancel;
	struct outbuf out;
	struct job *next;
};

struct server {
	const struct server_options *opts;
	struct engine *e;
	int epfd, jobs_fd, timer_fd, spare_fd;
	int is_out_of_fds; /* accept failed for want of descriptors; logged once */
	struct source listen_src, signal_src, jobs_src, timer_src;
	struct conn *conns;
	struct conn *dead; /* closed this round, freed at its end */
	size_t n_conns;
	struct vis_cache *vis; /* system mode: what each peer may see */
	int is_stopping;

	pthread_mutex_t lock; /* guards the two queues and n_busy */
	pthread_cond_t has_work;
	struct job *todo_head, *todo_tail;
	struct job *done_head;
	unsigned n_busy;
	int is_quitting;
	pthread_t workers[SERVER_WORKERS];
	unsigned n_workers;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- workers ---- */

struct ranked {
	size_t index;
	int32_t score;
};

/* Order results by score with the frecency bonus, then as the index ordered them. */
static int ranked_cmp(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int is_hidden(const char *const *hidden, const char *path, size_t len)
{
	for (; *hidden; hidden++)
		if (strlen(*hidden) == len && memcmp(*hidden, path, len) == 0)
			return 1;
	return 0;
}

/* How many of the hidden directories the search counted as matches: those in scope
 * that the query matches and, with a visibility, that it allows. */
static uint64_t count_hidden_matches(const char *const *hidden, struct trawl_matcher *m,
				     const struct trawl_query *q, const struct request *req,
				     struct trawl_index *ix, const struct trawl_visibility *vis)
{
	uint64_t n = 0;
	if (req->kinds && !(req->kinds & TRAWL_KIND_DIR))
		return 0;
	for (; *hidden; hidden++) {
		size_t len = strlen(*hidden);
		struct trawl_dir_meta meta;
		/* Before the walk's first batch is applied, the ancestors are not there. */
		if (trawl_index_dir_meta(ix, *hidden, len, &meta) != 0)
			continue;
		if (vis && trawl_visibility_allows(ix, vis, *hidden, len) != 1)
			continue;
		if (req->under) {
			size_t ul = req->under_len;
			while (ul > 1 && req->under[ul - 1] == '/')
				ul--;
			int is_below = len > ul && memcmp(*hidden, req->under, ul) == 0 &&
				       ((*hidden)[ul] == '/' || ul == 1);
			if (!is_below)
				continue;
		}
		int32_t score;
		if (trawl_match(m, q, *hidden, len, &score) > 0)
			n++;
	}
	return n;
}

static struct trawl_cred peer_cred(const struct peer *p)
{
	return (struct trawl_cred){
	    .uid = p->uid, .gid = p->gid, .groups = p->groups, .n_groups = p->n_groups};
}

/* What the job's peer may see of `ix`, into *out: NULL when it sees everything (root, or
 * a daemon of one user). Returns 0, or -ENOMEM after answering the job with an error. */
static int job_visibility(struct server *s, struct job *j, struct trawl_index *ix,
			  struct vis_entry **out)
{
	*out = NULL;
	if (!s->opts->is_system || j->peer.uid == 0)
		return 0;
	struct trawl_cred cred = peer_cred(&j->peer);
	int rc = vis_cache_get(s->vis, ix, &cred, out);
	if (rc < 0)
		protocol_put_error(&j->out, j->req.id, strerror(-rc), -1);
	return rc;
}

/* Search for a job as its peer may see, the roots' ancestors left out: `so` gets room
 * for them in its limit and the peer's visibility, and res->n_matched comes back without
 * them (*hidden says which they are, to drop from the results). Returns the search's
 * result, or 1 when job_visibility() has already answered the job. */
static int search_for_job(struct server *s, struct job *j, struct trawl_matcher *m,
			  struct trawl_search_options *so, struct trawl_results *res,
			  const char *const **hidden)
{
	so->limit += engine_hidden(s->e, hidden);
	struct engine_ref *r = engine_acquire(s->e);
	struct vis_entry *ve = NULL;
	if (job_visibility(s, j, r->ix, &ve) < 0) {
		engine_release(r);
		return 1;
	}
	so->visible = ve ? ve->v : NULL;
	int rc = trawl_index_search(r->ix, j->q, so, res);
	if (rc == 0) {
		uint64_t n = count_hidden_matches(*hidden, m, j->q, &j->req, r->ix, so->visible);
		res->n_matched -= n < res->n_matched ? n : res->n_matched;
	}
	vis_entry_put(ve);
	engine_release(r);
	return rc;
}

static void run_job(struct server *s, struct job *j, struct trawl_matcher *m, unsigned threads)
{
	struct request *req = &j->req;
	uint64_t started = now_us();
	size_t limit = req->limit;
	/* Picks are not kept for a system daemon: they would tell one user what another
	 * opened. */
	int has_frecency = req->has_frecency && !s->opts->is_system && engine_pick_count(s->e);
	if (has_frecency) {
		/* Picked paths may sit a little below the cut: look past it. */
		limit = limit * 4 + 50;
		if (limit > PROTOCOL_MAX_LIMIT)
			limit = PROTOCOL_MAX_LIMIT;
	}
	struct trawl_search_options so = {
	    .limit = limit,
	    .under = req->under,
	    .under_len = req->under_len,
	    .kinds = req->kinds,
	    .threads = threads,
	    .cancel = &j->cancel,
	    .session = j->session,
	};
	struct trawl_results res = {0};
	const char *const *hidden;
	int rc = search_for_job(s, j, m, &so, &res, &hidden);
	if (rc == 1)
		return; /* answered already */
	if (rc == -ECANCELED || atomic_load(&j->cancel)) {
		trawl_results_release(&res);
		return;
	}
	if (rc < 0) {
		protocol_put_error(
		    &j->out, req->id,
		    rc == -ENOENT ? "under: no such directory in the index" : strerror(-rc), -1);
		trawl_results_release(&res);
		return;
	}

	struct ranked *order = calloc(res.n_items ? res.n_items : 1, sizeof(*order));
	if (!order) {
		protocol_put_error(&j->out, req->id, strerror(ENOMEM), -1);
		trawl_results_release(&res);
		return;
	}
	size_t n_kept = 0;
	for (size_t k = 0; k < res.n_items; k++) {
		if (is_hidden(hidden, res.items[k].path, res.items[k].path_len))
			continue;
		order[n_kept].index = k;
		order[n_kept].score = res.items[k].score;
		if (has_frecency)
			order[n_kept].score +=
			    engine_frecency_bonus(s->e, res.items[k].path, res.items[k].path_len);
		n_kept++;
	}
	if (has_frecency)
		qsort(order, n_kept, sizeof(*order), ranked_cmp);

	uint32_t positions[TRAWL_QUERY_MAX_BYTES];
	size_t n = n_kept < req->limit ? n_kept : req->limit;
	rc = 0;
	for (size_t k = 0; k < n && rc == 0; k++) {
		const struct trawl_result *it = &res.items[order[k].index];
		size_t n_pos = 0;
		if (req->has_positions) {
			int32_t score;
			trawl_match_positions(m, j->q, it->path, it->path_len, &score, positions,
					      TRAWL_QUERY_MAX_BYTES, &n_pos);
		}
		rc = protocol_put_result(&j->out, req->id, it->path, it->path_len, order[k].score,
					 it->kind, req->has_positions ? positions : NULL, n_pos);
	}
	if (rc == 0)
		rc = protocol_put_done(&j->out, req->id, res.n_matched, res.is_matched_estimate,
				       now_us() - started);
	if (rc < 0) {
		outbuf_release(&j->out);
		protocol_put_error(&j->out, req->id, strerror(ENOMEM), -1);
	}
	free(order);
	trawl_results_release(&res);
}

/* Status for a peer of a system daemon that may not see everything: what it may see, and
 * nothing about the rest (no walk, index or watch counters, no clients). */
static void run_status(struct server *s, struct job *j, struct trawl_matcher *m)
{
	struct trawl_search_options so = {.limit = 1, .threads = 1};
	struct trawl_results res = {0};
	const char *const *hidden;
	/* The empty query counts every entry it may see, exactly. */
	int rc = search_for_job(s, j, m, &so, &res, &hidden);
	if (rc == 1)
		return; /* answered already */
	uint64_t entries = rc == 0 ? res.n_matched : 0;
	trawl_results_release(&res);
	json_t *full = rc == 0 ? engine_status(s->e) : NULL;
	json_t *walk = json_object();
	json_t *o = json_object();
	if (full && walk && o) {
		json_object_set(walk, "state",
				json_object_get(json_object_get(full, "walk"), "state"));
		json_object_set(o, "ready", json_object_get(full, "ready"));
		json_object_set_new(o, "entries", json_integer((json_int_t)entries));
		json_object_set(o, "roots", json_object_get(full, "roots"));
		json_object_set_new(o, "walk", walk);
		walk = NULL;
		json_object_set_new(o, "system", json_true());
		json_object_set_new(o, "pid", json_integer(getpid()));
		json_object_set_new(o, "version", json_string(s->opts->version));
	}
	if (!full || !o || protocol_put_object(&j->out, j->req.id, o) < 0)
		protocol_put_error(&j->out, j->req.id, strerror(rc < 0 ? -rc : ENOMEM), -1);
	json_decref(walk);
	json_decref(o);
	json_decref(full);
}

static void *worker_main(void *arg)
{
	struct server *s = arg;
	struct trawl_matcher *m = trawl_matcher_new();
	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->todo_head && !s->is_quitting)
			pthread_cond_wait(&s->has_work, &s->lock);
		if (s->is_quitting)
			break;
		struct job *j = s->todo_head;
		s->todo_head = j->next;
		if (!s->todo_head)
			s->todo_tail = NULL;
		s->n_busy++;
		/* A search may take both cores when nothing else waits for them. */
		unsigned threads = s->n_busy == 1 && !s->todo_head ? 2 : 1;
		pthread_mutex_unlock(&s->lock);

		if (!atomic_load(&j->cancel)) {
			if (m && j->is_status)
				run_status(s, j, m);
			else if (m)
				run_job(s, j, m, threads);
			else
				protocol_put_error(&j->out, j->req.id, strerror(ENOMEM), -1);
		}

		pthread_mutex_lock(&s->lock);
		s->n_busy--;
		j->next = s->done_head;
		s->done_head = j;
		uint64_t one = 1;
		if (write(s->jobs_fd, &one, sizeof(one)) < 0) {
			/* The counter cannot overflow at our rates; nothing else can fail. */
		}
	}
	pthread_mutex_unlock(&s->lock);
	trawl_matcher_free(m);
	return NULL;
}

static void job_free(struct job *j)
{
	free(j->peer.groups);
	request_release(&j->req);
	trawl_query_free(j->q);
	trawl_session_free(j->session);
	outbuf_release(&j->out);
	free(j);
}

/* ---- connections ---- */

static void conn_update_events(struct server *s, struct conn *c)
{
	size_t pending = c->out.len - c->out_off;
	int want_read = !c->is_closing && pending < SERVER_OUT_HIGH_WATER_BYTES;
	int want_write = pending > 0;
	if (want_read == c->is_reading && want_write == c->is_writing)
		return;
	/* No EPOLLRDHUP once closing: a half-closed socket would report it forever. */
	struct epoll_event ev = {.events = (want_read ? EPOLLIN | EPOLLRDHUP : 0) |
					   (want_write ? EPOLLOUT : 0),
				 .data.ptr = c};
	epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
	c->is_reading = want_read;
	c->is_writing = want_write;
}

/* Close now; the struct lives until the end of this round of events, since another
 * event of the round may still name it. */
static void conn_close(struct server *s, struct conn *c)
{
	if (c->is_dead)
		return;
	if (c->running) {
		/* The worker finishes (or notices the cancel); the loop then frees the job. */
		atomic_store(&c->running->cancel, 1);
		c->running->conn = NULL;
	}
	if (c->status)
		c->status->conn = NULL;
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n_conns--;
	c->is_dead = 1;
	c->next = s->dead;
	s->dead = c;
}

static void free_dead(struct server *s)
{
	while (s->dead) {
		struct conn *c = s->dead;
		s->dead = c->next;
		free(c->in);
		outbuf_release(&c->out);
		free(c->peer.groups);
		trawl_session_free(c->session);
		free(c);
	}
}

/* Write what can be written now. Returns -1 when the connection was closed. */
static int conn_flush(struct server *s, struct conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			c->out_off += (size_t)n;
			c->stalled_since_ms = 0;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!c->stalled_since_ms)
				c->stalled_since_ms = now_ms();
			break;
		}
		conn_close(s, c); /* EPIPE, ECONNRESET: the client is gone */
		return -1;
	}
	if (c->out_off == c->out.len) {
		c->out.len = c->out_off = 0;
		c->stalled_since_ms = 0;
		if (c->out.cap > (size_t)4 * SERVER_OUT_HIGH_WATER_BYTES)
			outbuf_release(&c->out);
		if (c->is_closing && !c->running && !c->status) {
			conn_close(s, c);
			return -1;
		}
	}
	conn_update_events(s, c);
	return 0;
}

static int peer_copy(struct peer *to, const struct peer *from)
{
	*to = *from;
	to->groups = NULL;
	if (from->n_groups) {
		if (!(to->groups = malloc(from->n_groups * sizeof(*to->groups))))
			return -ENOMEM;
		memcpy(to->groups, from->groups, from->n_groups * sizeof(*to->groups));
	}
	return 0;
}

static void enqueue(struct server *s, struct job *j)
{
	pthread_mutex_lock(&s->lock);
	if (s->todo_tail)
		s->todo_tail->next = j;
	else
		s->todo_head = j;
	s->todo_tail = j;
	pthread_cond_signal(&s->has_work);
	pthread_mutex_unlock(&s->lock);
}

static void start_job(struct server *s, struct conn *c, struct job *j)
{
	j->conn = c;
	c->running = j;
	/* The query takes the connection's session (a new one when the last query still
	 * has it: that one was cancelled, and learnt nothing); without memory for one, it
	 * runs without. */
	j->session = c->session ? c->session : trawl_session_new();
	c->session = NULL;
	enqueue(s, j);
}

/* End the connection's running query now: its cancelled line goes out before anything
 * that follows, and the worker drops what it finds. */
static void cancel_running(struct conn *c)
{
	struct job *j = c->running;
	if (!j)
		return;
	atomic_store(&j->cancel, 1);
	j->conn = NULL;
	c->running = NULL;
	protocol_put_cancelled(&c->out, j->req.id);
}

static int ids_equal(json_t *a, json_t *b)
{
	return a && b && json_equal(a, b);
}

static void handle_query(struct server *s, struct conn *c, struct request *req)
{
	struct trawl_query *q = NULL;
	struct trawl_query_error qe = {0};
	int rc = trawl_query_parse(req->query, req->query_len, &q, &qe);
	if (rc < 0) {
		char msg[300];
		snprintf(msg, sizeof(msg), "query: %s", rc == -EINVAL ? qe.message : strerror(-rc));
		protocol_put_error(&c->out, req->id, msg,
				   rc == -EINVAL ? (long)qe.offset_bytes : -1);
		request_release(req);
		return;
	}
	struct job *j = calloc(1, sizeof(*j));
	if (!j || peer_copy(&j->peer, &c->peer) < 0) {
		protocol_put_error(&c->out, req->id, strerror(ENOMEM), -1);
		free(j);
		trawl_query_free(q);
		request_release(req);
		return;
	}
	j->req = *req; /* the job owns the request now */
	memset(req, 0, sizeof(*req));
	j->q = q;
	cancel_running(c);
	start_job(s, c, j);
}

/* A status for a peer that sees only part of the index: counting what it sees is a
 * search, so it runs on a worker beside the connection's query (a newer query does not
 * cancel it), one at a time. */
static void handle_status_job(struct server *s, struct conn *c, struct request *req)
{
	if (c->status) {
		protocol_put_error(&c->out, req->id, "status: the last one is still running", -1);
		return;
	}
	struct job *j = calloc(1, sizeof(*j));
	if (!j || peer_copy(&j->peer, &c->peer) < 0 || trawl_query_parse("", 0, &j->q, NULL) < 0) {
		protocol_put_error(&c->out, req->id, strerror(ENOMEM), -1);
		if (j)
			free(j->peer.groups);
		free(j);
		return;
	}
	j->req = *req; /* the job owns the request now */
	memset(req, 0, sizeof(*req));
	j->is_status = 1;
	j->conn = c;
	c->status = j;
	enqueue(s, j);
}

/* Whether the peer may do what only the daemon's owner may: in system mode, root. */
static int is_admin(const struct server *s, const struct conn *c)
{
	return !s->opts->is_system || c->peer.uid == 0;
}

static void handle_line(struct server *s, struct conn *c, const char *line, size_t len)
{
	struct request req;
	struct request_error err;
	int rc = request_parse(line, len, &req, &err);
	if (rc < 0) {
		protocol_put_error(&c->out, req.id, rc == -ENOMEM ? strerror(ENOMEM) : err.message,
				   err.offset);
		request_release(&req);
		return;
	}
	switch (req.op) {
	case OP_QUERY:
		handle_query(s, c, &req);
		return; /* the request now belongs to the job, or was released */
	case OP_HELLO: {
		/* A system daemon keeps no picks (run_job()). */
		json_t *o =
		    s->opts->is_system
			? json_pack("{s:i,s:s,s:[sssssssss],s:b}", "protocol", PROTOCOL_VERSION,
				    "server", s->opts->name, "capabilities", "query", "positions",
				    "under", "type", "cancel", "status", "rescan", "shutdown",
				    "path_bytes", "system", 1)
			: json_pack("{s:i,s:s,s:[sssssssssss]}", "protocol", PROTOCOL_VERSION,
				    "server", s->opts->name, "capabilities", "query", "positions",
				    "under", "type", "cancel", "status", "rescan", "pick",
				    "shutdown", "path_bytes", "frecency");
		if (!o || protocol_put_object(&c->out, req.id, o) < 0)
			protocol_put_error(&c->out, req.id, strerror(ENOMEM), -1);
		json_decref(o);
		break;
	}
	case OP_CANCEL:
		if (c->running && ids_equal(c->running->req.id, req.target))
			cancel_running(c);
		protocol_put_ok(&c->out, req.id);
		break;
	case OP_STATUS: {
		if (!is_admin(s, c)) {
			handle_status_job(s, c, &req);
			break;
		}
		json_t *o = engine_status(s->e);
		if (o && s->opts->is_system)
			json_object_set_new(o, "system", json_true());
		if (o) {
			json_object_set_new(o, "clients", json_integer((json_int_t)s->n_conns));
			json_object_set_new(o, "pid", json_integer(getpid()));
			json_object_set_new(o, "version", json_string(s->opts->version));
		}
		if (!o || protocol_put_object(&c->out, req.id, o) < 0)
			protocol_put_error(&c->out, req.id, strerror(ENOMEM), -1);
		json_decref(o);
		break;
	}
	case OP_RESCAN:
		if (!is_admin(s, c)) {
			protocol_put_error(&c->out, req.id, "rescan: only root may ask for one",
					   -1);
			break;
		}
		engine_request_rescan(s->e, req.is_full);
		protocol_put_ok(&c->out, req.id);
		break;
	case OP_PICK:
		/* Answered, not kept, by a system daemon (PROTOCOL.md). */
		rc = s->opts->is_system ? 0 : engine_pick(s->e, req.path, req.path_len);
		if (rc < 0) {
			char msg[300];
			snprintf(msg, sizeof(msg), "pick: %s", strerror(-rc));
			protocol_put_error(&c->out, req.id, msg, -1);
		} else {
			protocol_put_ok(&c->out, req.id);
		}
		break;
	case OP_SHUTDOWN:
		if (!is_admin(s, c)) {
			protocol_put_error(&c->out, req.id,
					   "shutdown: only root may stop this daemon", -1);
			break;
		}
		protocol_put_ok(&c->out, req.id);
		s->is_stopping = 1;
		break;
	}
	request_release(&req);
}

/* Read what the client sent; answer every complete line. */
static void conn_read(struct server *s, struct conn *c)
{
	char chunk[READ_CHUNK_BYTES];
	for (int rounds = 0; rounds < 16; rounds++) {
		ssize_t n = recv(c->fd, chunk, sizeof(chunk), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			/* EOF: answer what was asked, then close. */
			c->is_closing = 1;
			break;
		}
		const char *p = chunk, *end = chunk + n;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t take = nl ? (size_t)(nl - p) : (size_t)(end - p);
			if (c->is_discarding) {
				if (nl)
					c->is_discarding = 0;
			} else if (c->in_len + take > PROTOCOL_MAX_LINE_BYTES) {
				char msg[100];
				snprintf(msg, sizeof(msg), "request line longer than %d bytes",
					 PROTOCOL_MAX_LINE_BYTES);
				protocol_put_error(&c->out, NULL, msg, -1);
				c->in_len = 0;
				c->is_discarding = !nl;
			} else if (nl && c->in_len == 0) {
				handle_line(s, c, p, take); /* the common case: no copy */
			} else {
				if (!c->in && !(c->in = malloc(PROTOCOL_MAX_LINE_BYTES))) {
					c->is_closing = 1;
					break;
				}
				memcpy(c->in + c->in_len, p, take);
				c->in_len += take;
				if (nl) {
					handle_line(s, c, c->in, c->in_len);
					c->in_len = 0;
				}
			}
			p += take + (nl != NULL);
		}
		if (c->out.len - c->out_off >= SERVER_OUT_HIGH_WATER_BYTES)
			break; /* let the client catch up first */
	}
	conn_flush(s, c);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* The peer's supplementary groups as the kernel recorded them at connect() (SO_PEERGROUPS,
 * Linux 4.13), ascending and unique, into p. A kernel without it gives none: the peer
 * then sees what its uid and primary group open, never more. Returns 0 or -errno. */
static int peer_groups(int fd, struct peer *p)
{
	gid_t small[64], *buf = small;
	socklen_t len = sizeof(small);
	int rc = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, buf, &len) == 0 ? 0 : -errno;
	if (rc == -ERANGE) {
		if (!(buf = malloc(len)))
			return -ENOMEM;
		rc = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, buf, &len) == 0 ? 0 : -errno;
	}
	size_t n = rc == 0 ? len / sizeof(gid_t) : 0;
	if (rc == -ENOPROTOOPT)
		rc = 0;
	if (rc == 0 && n && !(p->groups = malloc(n * sizeof(*p->groups))))
		rc = -ENOMEM;
	if (rc == 0 && n) {
		for (size_t k = 0; k < n; k++)
			p->groups[k] = buf[k];
		qsort(p->groups, n, sizeof(*p->groups), cmp_u32);
		p->n_groups = 0;
		for (size_t k = 0; k < n; k++)
			if (!p->n_groups || p->groups[p->n_groups - 1] != p->groups[k])
				p->groups[p->n_groups++] = p->groups[k];
	}
	if (buf != small)
		free(buf);
	return rc;
}

static const char too_many[] = "{\"id\":null,\"error\":\"too many connections\"}\n";

static void accept_clients(struct server *s)
{
	/* Another thread (a walk) may have taken the descriptor the spare freed. */
	if (s->spare_fd < 0)
		s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	for (;;) {
		int fd = accept4(s->opts->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if ((errno == EMFILE || errno == ENFILE) && s->spare_fd >= 0) {
				/* Out of descriptors: take the client with the spare one, tell
				 * it so and close it at once rather than leave it hanging.
				 * Said once a shortage, not once a client. */
				int err = errno;
				close(s->spare_fd);
				fd = accept4(s->opts->listen_fd, NULL, NULL,
					     SOCK_NONBLOCK | SOCK_CLOEXEC);
				if (fd >= 0) {
					if (send(fd, too_many, strlen(too_many),
						 MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
						/* Best effort, as for any refusal. */
					}
					close(fd);
				}
				s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
				if (!s->is_out_of_fds)
					fprintf(stderr, "trawld: accept: %s; refusing clients\n",
						strerror(err));
				s->is_out_of_fds = 1;
			}
			return;
		}
		if (s->is_out_of_fds)
			fprintf(stderr, "trawld: accept: taking clients again\n");
		s->is_out_of_fds = 0;
		struct ucred cred;
		socklen_t cl = sizeof(cred);
		const char *refusal = NULL;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0)
			refusal = "{\"id\":null,\"error\":\"cannot check your credentials\"}\n";
		else if (!s->opts->is_system && cred.uid != s->opts->owner_uid && cred.uid != 0)
			refusal = "{\"id\":null,\"error\":\"this daemon serves another user\"}\n";
		else if (s->n_conns >= SERVER_MAX_CONNECTIONS)
			refusal = too_many;
		struct conn *c = refusal ? NULL : calloc(1, sizeof(*c));
		if (c) {
			c->peer.uid = cred.uid;
			c->peer.gid = cred.gid;
			/* Only a peer that may see part of the index needs its groups. */
			if (s->opts->is_system && cred.uid != 0 && peer_groups(fd, &c->peer) < 0) {
				free(c);
				c = NULL;
				refusal = "{\"id\":null,\"error\":\"cannot check your "
					  "credentials\"}\n";
			}
		}
		if (!c) {
			if (!refusal)
				refusal = "{\"id\":null,\"error\":\"out of memory\"}\n";
			if (send(fd, refusal, strlen(refusal), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
				/* Best effort: the client may already be gone. */
			}
			close(fd);
			continue;
		}
		c->src.type = SRC_CONN;
		c->fd = fd;
		c->is_reading = 1;
		struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			close(fd);
			free(c->peer.groups);
			free(c);
			continue;
		}
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->n_conns++;
	}
}

/* Hand finished jobs back to their connections. */
static void collect_jobs(struct server *s)
{
	uint64_t count;
	if (read(s->jobs_fd, &count, sizeof(count)) < 0) {
		/* EAGAIN: another wakeup already drained it */
	}
	pthread_mutex_lock(&s->lock);
	struct job *j = s->done_head;
	s->done_head = NULL;
	pthread_mutex_unlock(&s->lock);
	while (j) {
		struct job *next = j->next;
		struct conn *c = j->conn;
		if (c && c->status == j) {
			c->status = NULL;
			if (outbuf_append(&c->out, j->out.data, j->out.len) < 0)
				protocol_put_error(&c->out, j->req.id, strerror(ENOMEM), -1);
			conn_flush(s, c);
		} else if (c && c->running == j) {
			c->running = NULL;
			if (!c->session) {
				c->session = j->session;
				j->session = NULL;
			}
			if (outbuf_append(&c->out, j->out.data, j->out.len) < 0)
				protocol_put_error(&c->out, j->req.id, strerror(ENOMEM), -1);
			conn_flush(s, c);
		}
		job_free(j);
		j = next;
	}
}

static void check_stalled(struct server *s)
{
	int64_t now = now_ms();
	struct conn *c = s->conns;
	while (c) {
		struct conn *next = c->next;
		if (c->stalled_since_ms && now - c->stalled_since_ms > SERVER_STALL_TIMEOUT_MS)
			conn_close(s, c);
		c = next;
	}
}

static int add_source(struct server *s, int fd, struct source *src, enum source_type type)
{
	src->type = type;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = src};
	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : -errno;
}

static void server_release(struct server *s)
{
	pthread_mutex_lock(&s->lock);
	s->is_quitting = 1;
	pthread_cond_broadcast(&s->has_work);
	pthread_mutex_unlock(&s->lock);
	for (unsigned k = 0; k < s->n_workers; k++)
		pthread_join(s->workers[k], NULL);
	while (s->conns)
		conn_close(s, s->conns);
	free_dead(s);
	/* Jobs nobody ran, and jobs finished since the last collection. */
	for (struct job *j = s->todo_head, *next; j; j = next) {
		next = j->next;
		job_free(j);
	}
	for (struct job *j = s->done_head, *next; j; j = next) {
		next = j->next;
		job_free(j);
	}
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->jobs_fd >= 0)
		close(s->jobs_fd);
	if (s->timer_fd >= 0)
		close(s->timer_fd);
	if (s->spare_fd >= 0)
		close(s->spare_fd);
	vis_cache_free(s->vis);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->has_work);
}

int server_run(const struct server_options *opts, struct engine *e)
{
	struct server s = {.opts = opts, .e = e, .epfd = -1, .jobs_fd = -1, .timer_fd = -1};
	pthread_mutex_init(&s.lock, NULL);
	pthread_cond_init(&s.has_work, NULL);
	s.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int rc = 0;
	if (opts->is_system && (rc = vis_cache_new(&s.vis)) < 0) {
		fprintf(stderr, "trawld: %s\n", strerror(-rc));
		goto out;
	}
	s.epfd = epoll_create1(EPOLL_CLOEXEC);
	s.jobs_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s.epfd < 0 || s.jobs_fd < 0 || s.timer_fd < 0) {
		rc = -errno;
		fprintf(stderr, "trawld: event loop: %s\n", strerror(-rc));
		goto out;
	}
	struct itimerspec every_second = {{1, 0}, {1, 0}};
	timerfd_settime(s.timer_fd, 0, &every_second, NULL);
	if ((rc = add_source(&s, opts->listen_fd, &s.listen_src, SRC_LISTEN)) < 0 ||
	    (rc = add_source(&s, opts->signal_fd, &s.signal_src, SRC_SIGNAL)) < 0 ||
	    (rc = add_source(&s, s.jobs_fd, &s.jobs_src, SRC_JOBS)) < 0 ||
	    (rc = add_source(&s, s.timer_fd, &s.timer_src, SRC_TIMER)) < 0) {
		fprintf(stderr, "trawld: epoll_ctl: %s\n", strerror(-rc));
		goto out;
	}
	for (; s.n_workers < SERVER_WORKERS; s.n_workers++) {
		rc = -pthread_create(&s.workers[s.n_workers], NULL, worker_main, &s);
		if (rc < 0) {
			fprintf(stderr, "trawld: pthread_create: %s\n", strerror(-rc));
			goto out;
		}
	}

	struct epoll_event events[64];
	while (!s.is_stopping) {
		int n = epoll_wait(s.epfd, events, 64, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			fprintf(stderr, "trawld: epoll_wait: %s\n", strerror(-rc));
			break;
		}
		for (int k = 0; k < n; k++) {
			struct source *src = events[k].data.ptr;
			switch (src->type) {
			case SRC_LISTEN:
				accept_clients(&s);
				break;
			case SRC_SIGNAL: {
				struct signalfd_siginfo si;
				if (read(opts->signal_fd, &si, sizeof(si)) == sizeof(si))
					fprintf(stderr, "trawld: %s: shutting down\n",
						strsignal((int)si.ssi_signo));
				s.is_stopping = 1;
				break;
			}
			case SRC_JOBS:
				collect_jobs(&s);
				break;
			case SRC_TIMER: {
				uint64_t ticks;
				if (read(s.timer_fd, &ticks, sizeof(ticks)) < 0) {
					/* EAGAIN: nothing to do */
				}
				check_stalled(&s);
				break;
			}
			case SRC_CONN: {
				struct conn *c = (struct conn *)src;
				uint32_t ev = events[k].events;
				if (c->is_dead)
					break;
				if (ev & (EPOLLHUP | EPOLLERR)) {
					/* Both ways shut: nobody reads what is left. */
					conn_close(&s, c);
					break;
				}
				if ((ev & (EPOLLIN | EPOLLRDHUP)) && c->is_reading)
					conn_read(&s, c);
				if ((ev & EPOLLOUT) && !c->is_dead)
					conn_flush(&s, c);
				break;
			}
			}
		}
		free_dead(&s);
	}
	/* Let the last answers (a shutdown's "ok") reach their clients. */
	for (struct conn *c = s.conns; c; c = c->next)
		if (send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
			 MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
			/* Best effort on the way out. */
		}
out:
	server_release(&s);
	return rc;
}
