/* picker.c: the picker's event loop: one poll() over the terminal, the daemon's socket and
 * a signal pipe, so typing never waits for an answer. picker_daemon.c talks to trawld,
 * picker_keys.c acts on keys, picker_screen.c and picker_draw.c own the terminal. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "picker_impl.h"

uint64_t picker_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int on_signal(struct picker *p, int signo)
{
	switch (signo) {
	case SIGWINCH:
		return p->is_ui_open && picker_screen_resize(p) < 0 ? 2 : RUNNING;
	case SIGTSTP:
		if (p->is_ui_open) {
			picker_screen_close(p);
			term_stop_self();
			return picker_screen_open_or_fail(p);
		} else {
			term_stop_self();
		}
		return RUNNING;
	case SIGINT:
		return 130;
	default:
		return 128 + signo;
	}
}

static int loop(struct picker *p, int signal_fd)
{
	for (;;) {
		if (p->is_ui_open && p->is_dirty && picker_draw(p) < 0) {
			picker_screen_close(p);
			fprintf(stderr, "trawl: write to the terminal: %s\n", strerror(errno));
			return 2;
		}
		/* Wake for the next status request (none while one is answered) or to
		 * decide a lone escape. */
		uint64_t now = picker_now_ms(),
			 wake = p->status_id ? UINT64_MAX : p->next_status_ms;
		if (p->esc_deadline_ms && p->esc_deadline_ms < wake)
			wake = p->esc_deadline_ms;
		int timeout = wake == UINT64_MAX     ? -1
			      : wake <= now	     ? 0
			      : wake - now > INT_MAX ? INT_MAX
						     : (int)(wake - now);
		struct pollfd fds[3] = {
		    {.fd = signal_fd, .events = POLLIN},
		    {.fd = p->conn.fd, .events = POLLIN},
		    /* a full input buffer (keys held back) is read when it drains */
		    {.fd = p->is_ui_open && p->in_len < sizeof(p->in) ? p->term.fd : -1,
		     .events = POLLIN},
		};
		if (poll(fds, 3, timeout) < 0 && errno != EINTR) {
			picker_screen_close(p);
			fprintf(stderr, "trawl: poll: %s\n", strerror(errno));
			return 2;
		}
		int status = RUNNING, signo;
		while (status == RUNNING && (signo = term_signal_next()) > 0)
			status = on_signal(p, signo);
		if (status == RUNNING && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			status = picker_daemon_read(p);
			if (status == RUNNING && p->in_len && p->is_ui_open)
				status =
				    picker_keys_on_input(p, 0); /* keys held back for this answer */
		}
		if (status == RUNNING && (fds[2].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t got =
			    read(p->term.fd, p->in + p->in_len, sizeof(p->in) - p->in_len);
			if (got > 0)
				p->in_len += (size_t)got;
			else if (got == 0 || (errno != EINTR && errno != EAGAIN))
				status = 129; /* the terminal hung up */
			if (status == RUNNING)
				status = picker_keys_on_input(p, p->in_len == sizeof(p->in));
		}
		now = picker_now_ms();
		if (status == RUNNING && p->esc_deadline_ms && now >= p->esc_deadline_ms)
			status = picker_keys_on_input(p, 1);
		if (status == RUNNING && !p->status_id && now >= p->next_status_ms)
			picker_daemon_status(p);
		if (status == RUNNING && p->has_status && p->latest_id == 0)
			picker_daemon_query(p);
		/* -1 and -0 wait for the initial answer, unless the index is still being
		 * built: then the picker shows at once and they apply once it is ready. */
		if (status == RUNNING && !p->is_ui_open &&
		    (!p->is_auto_pending || (p->has_status && !p->is_ready)))
			status = picker_screen_open_or_fail(p);
		if (status == RUNNING)
			picker_daemon_refresh(p);
		if ((status == RUNNING || status == 2) && p->io_error) {
			picker_screen_close(p);
			fprintf(stderr, "trawl: talking to trawld on '%s': %s\n", p->sock_path,
				strerror(-p->io_error));
			return 2;
		}
		if (status != RUNNING)
			return status;
	}
}

/* Parse --height: "N" lines or "N%" of the terminal. Returns 0 or -EINVAL. */
static int parse_height(struct picker *p, const char *spec)
{
	char *end;
	long v = strtol(spec, &end, 10);
	if (end == spec || v <= 0 || (*end && strcmp(end, "%") != 0) || (*end == '%' && v > 100) ||
	    v > 10000)
		return -EINVAL;
	p->is_height_percent = *end == '%';
	p->height_spec = (int)v;
	p->is_fullscreen = p->is_height_percent && v == 100;
	return 0;
}

int picker_run(const struct picker_options *o)
{
	struct picker *p = calloc(1, sizeof(*p));
	if (!p) {
		fprintf(stderr, "trawl: %s\n", strerror(ENOMEM));
		return 2;
	}
	int status = 2, signal_fd = -1;
	p->o = o;
	p->term.fd = -1;
	p->conn.fd = -1;
	p->is_fullscreen = 1;
	p->min_height = o->min_height > 0 ? o->min_height : PICKER_MIN_HEIGHT;
	if (o->height && parse_height(p, o->height) < 0) {
		fprintf(stderr, "trawl: --height: expected N or N%%, not '%s'\n", o->height);
		goto out;
	}
	if (o->query && !text_is_utf8(o->query, strlen(o->query))) {
		fputs("trawl: the query is not valid UTF-8\n", stderr);
		goto out;
	}
	picker_line_set(&p->line, o->query ? o->query : "");
	const char *no_color = getenv("NO_COLOR");
	p->is_color = !o->is_no_color && !(no_color && *no_color);
	picker_buf_init(&p->frame);

	int rc = term_open(&p->term);
	if (rc < 0) {
		fprintf(stderr, "trawl: open '/dev/tty': %s\n", strerror(-rc));
		goto out;
	}
	if (conn_socket_path(o->socket, p->sock_path, sizeof(p->sock_path)) < 0) {
		fprintf(stderr, "trawl: socket path too long: '%s'\n",
			o->socket ? o->socket : "$TRAWL_SOCKET");
		goto out;
	}
	if ((rc = conn_open(&p->conn, p->sock_path, o->start)) < 0) {
		char log[4096];
		if ((rc == -ECHILD || rc == -ETIMEDOUT) && conn_log_path(log, sizeof(log)) == 0)
			fprintf(stderr, "trawl: cannot connect to '%s': %s (see '%s')\n",
				p->sock_path,
				rc == -ECHILD ? "trawld did not start"
					      : "the trawld started did not answer",
				log);
		else
			fprintf(stderr, "trawl: cannot connect to '%s': %s\n", p->sock_path,
				strerror(-rc));
		goto out;
	}
	signal_fd = term_signals_install();
	if (signal_fd < 0) {
		fprintf(stderr, "trawl: pipe: %s\n", strerror(-signal_fd));
		goto out;
	}
	p->is_auto_pending = o->is_select_1 || o->is_exit_0;
	picker_daemon_status(p);
	status = loop(p, signal_fd);
out:
	if (p->is_ui_open)
		picker_screen_close(p);
	if (signal_fd >= 0)
		term_signals_uninstall();
	if (p->conn.fd >= 0)
		conn_close(&p->conn);
	if (p->term.fd >= 0)
		term_close(&p->term);
	picker_daemon_release(p);
	picker_buf_release(&p->frame);
	free(p);
	return status;
}
