/* conn.c: a client's connection to trawld (docs/PROTOCOL.md): finding the socket, starting
 * the daemon when none answers, one JSON object a line each way, paths as bytes. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "autostart.h"
#include "conn.h"

/* Bytes asked of each read(): a burst of result lines (~100 bytes each) in one call. */
#define CONN_READ_CHUNK_BYTES 65536
/* An answer line longer than this is not from trawld: a path with its positions is a
 * few kilobytes, a status line less. Stops a wrong peer from growing the buffer forever. */
#define CONN_LINE_MAX_BYTES (64u << 20)
/* PROTOCOL.md: a request line may be at most this long, its newline included. */
#define CONN_REQUEST_MAX_BYTES 65536
/* conn_open(): how long a started daemon may take to answer, when the caller says 0. */
#define CONN_START_TIMEOUT_MS 10000
/* conn_open(): first and longest pause between attempts to reach a starting daemon. */
#define CONN_START_RETRY_FIRST_MS 5
#define CONN_START_RETRY_MAX_MS	  50

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int conn_socket_path(const char *override, char *buf, size_t cap)
{
	const char *env = getenv("TRAWL_SOCKET");
	const char *runtime = getenv("XDG_RUNTIME_DIR");
	int n;
	if (override)
		n = snprintf(buf, cap, "%s", override);
	else if (env && *env)
		n = snprintf(buf, cap, "%s", env);
	else if (runtime && *runtime)
		n = snprintf(buf, cap, "%s/trawl/socket", runtime);
	else
		n = snprintf(buf, cap, "/tmp/trawl-%u/socket", (unsigned)getuid());
	if (n < 0 || (size_t)n >= cap || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -ENAMETOOLONG;
	/* No daemon of the user's own, but a system one: ask that (PROTOCOL.md). */
	if (!override && !(env && *env) && access(buf, F_OK) != 0 &&
	    access(CONN_SYSTEM_SOCKET, F_OK) == 0 && cap > strlen(CONN_SYSTEM_SOCKET))
		snprintf(buf, cap, "%s", CONN_SYSTEM_SOCKET);
	return 0;
}

/* A connected, nonblocking socket to `path`, or -errno. */
static int connect_unix(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	size_t len = strlen(path);
	if (len == 0)
		return -EINVAL;
	if (len >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, path, len + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Connect blocking (a Unix socket connects at once or not at all), then read and
	 * write with poll() so that every wait has a timeout. */
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

static void progress(const struct conn_start *start, const char *line)
{
	if (start->is_progress_tty)
		fprintf(stderr, "\r%s\033[K", line);
}

/* Nothing answers on `path`: start a daemon unless another client is starting one, and
 * wait for it. Returns a connected fd or -errno. */
static int start_and_connect(const char *path, const struct conn_start *start)
{
	const int timeout_ms = start->timeout_ms > 0 ? start->timeout_ms : CONN_START_TIMEOUT_MS;
	const long long deadline = now_ms() + timeout_ms;
	int lock = autostart_lock(path, timeout_ms);
	if (lock < 0)
		return lock;
	/* The lock holder before us may have started one: ask again under the lock. */
	int fd = connect_unix(path);
	if (fd != -ECONNREFUSED && fd != -ENOENT)
		goto out;
	progress(start, "trawl: starting trawld...");
	pid_t pid;
	fd = autostart_spawn(path, start->trawld, &pid);
	if (fd < 0)
		goto cleared;
	for (long pause_ms = CONN_START_RETRY_FIRST_MS;; pause_ms *= 2) {
		fd = connect_unix(path);
		if (fd != -ECONNREFUSED && fd != -ENOENT)
			break;
		if (!autostart_is_alive(pid)) {
			/* It may have bound the socket just before leaving (a daemon that
			 * forks on its own): one last try decides. */
			fd = connect_unix(path);
			if (fd < 0)
				fd = -ECHILD;
			break;
		}
		long long left_ms = deadline - now_ms();
		if (left_ms <= 0) {
			fd = -ETIMEDOUT;
			break;
		}
		if (pause_ms > CONN_START_RETRY_MAX_MS)
			pause_ms = CONN_START_RETRY_MAX_MS;
		struct timespec ts = {0, (pause_ms < left_ms ? pause_ms : left_ms) * 1000000L};
		nanosleep(&ts, NULL);
	}
cleared:
	progress(start, "");
out:
	close(lock);
	return fd;
}

int conn_open(struct conn *c, const char *sock_path, const struct conn_start *start)
{
	*c = (struct conn){.fd = -1};
	int fd = connect_unix(sock_path);
	if ((fd == -ECONNREFUSED || fd == -ENOENT) && start && start->is_enabled)
		fd = start_and_connect(sock_path, start);
	if (fd < 0)
		return fd;
	c->fd = fd;
	return 0;
}

/* Wait until `fd` is ready for `events`, at most until `deadline_ms` (-1: forever).
 * Returns 0, -EAGAIN past the deadline, -errno. */
static int wait_fd(int fd, short events, long long deadline_ms)
{
	for (;;) {
		int timeout_ms = -1;
		if (deadline_ms >= 0) {
			long long left_ms = deadline_ms - now_ms();
			timeout_ms = left_ms > 0 ? (left_ms > 1000000 ? 1000000 : (int)left_ms) : 0;
		}
		struct pollfd p = {.fd = fd, .events = events};
		int n = poll(&p, 1, timeout_ms);
		if (n > 0)
			return 0;
		if (n == 0 && (deadline_ms < 0 || now_ms() < deadline_ms))
			continue;
		if (n == 0)
			return -EAGAIN;
		if (errno != EINTR)
			return -errno;
	}
}

long long conn_request(struct conn *c, json_t *req)
{
	if (!json_is_object(req))
		return -EINVAL;
	long long id;
	json_t *given = json_object_get(req, "id");
	if (!given) {
		id = ++c->next_id;
		if (json_object_set_new(req, "id", json_integer(id)) < 0)
			return -ENOMEM;
	} else if (json_is_integer(given) && json_integer_value(given) > 0) {
		id = json_integer_value(given);
		if (id > c->next_id)
			c->next_id = id; /* so that later numbered ids stay distinct */
	} else {
		return -EINVAL;
	}
	char *line = json_dumps(req, JSON_COMPACT);
	if (!line)
		return -ENOMEM;
	struct iovec iov[2] = {{line, strlen(line)}, {"\n", 1}};
	int rc = 0;
	if (iov[0].iov_len + 1 > CONN_REQUEST_MAX_BYTES)
		rc = -EMSGSIZE;
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
	while (rc == 0 && msg.msg_iovlen > 0) {
		/* MSG_NOSIGNAL: a daemon that went away is -EPIPE, not a SIGPIPE. */
		ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN)
				rc = wait_fd(c->fd, POLLOUT, -1);
			else if (errno == ECONNRESET || errno == EPIPE)
				rc = -EPIPE;
			else if (errno != EINTR)
				rc = -errno;
			continue;
		}
		while (msg.msg_iovlen > 0 && (size_t)n >= msg.msg_iov[0].iov_len) {
			n -= (ssize_t)msg.msg_iov[0].iov_len;
			msg.msg_iov++;
			msg.msg_iovlen--;
		}
		if (msg.msg_iovlen > 0) {
			msg.msg_iov[0].iov_base = (char *)msg.msg_iov[0].iov_base + n;
			msg.msg_iov[0].iov_len -= (size_t)n;
		}
	}
	free(line);
	return rc < 0 ? rc : id;
}

/* Read what the socket has into the buffer, waiting until `deadline_ms` (-1: forever)
 * for something to come. Returns 0, -EAGAIN, -EPIPE at the end of the stream, -errno. */
static int fill(struct conn *c, long long deadline_ms)
{
	if (c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->cap - c->len < CONN_READ_CHUNK_BYTES) {
		size_t cap = c->cap ? c->cap * 2 : CONN_READ_CHUNK_BYTES;
		while (cap - c->len < CONN_READ_CHUNK_BYTES)
			cap *= 2;
		char *bigger = realloc(c->buf, cap);
		if (!bigger)
			return -ENOMEM;
		c->buf = bigger;
		c->cap = cap;
	}
	for (;;) {
		ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (n > 0) {
			c->len += (size_t)n;
			return 0;
		}
		if (n == 0 || errno == ECONNRESET)
			return -EPIPE;
		if (errno == EAGAIN) {
			int rc = wait_fd(c->fd, POLLIN, deadline_ms);
			if (rc < 0)
				return rc;
		} else if (errno != EINTR) {
			return -errno;
		}
	}
}

int conn_read(struct conn *c, json_t **out, int timeout_ms)
{
	*out = NULL;
	const long long deadline_ms = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	/* Bytes after c->off known to hold no newline: each byte is looked at once. */
	size_t scanned = 0;
	for (;;) {
		char *line = c->buf + c->off;
		size_t unscanned = c->len - c->off - scanned;
		char *nl = unscanned ? memchr(line + scanned, '\n', unscanned) : NULL;
		if (nl) {
			c->off += (size_t)(nl - line) + 1;
			if (c->off == c->len)
				c->off = c->len = 0;
			json_error_t err;
			json_t *j = json_loadb(line, (size_t)(nl - line), 0, &err);
			if (!json_is_object(j)) {
				json_decref(j);
				return -EPROTO;
			}
			*out = j;
			return 0;
		}
		scanned = c->len - c->off;
		if (scanned > CONN_LINE_MAX_BYTES)
			return -EPROTO;
		int rc = fill(c, deadline_ms);
		if (rc < 0)
			return rc;
	}
}

void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	*c = (struct conn){.fd = -1};
}

static const char base64_digits[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of a base64 digit, or -1. */
static int base64_value(unsigned char ch)
{
	const char *p = ch ? strchr(base64_digits, ch) : NULL;
	return p ? (int)(p - base64_digits) : -1;
}

/* Decode standard base64 (padding optional) into a new NUL-terminated buffer. */
static int base64_decode(const char *in, size_t in_len, char **out, size_t *out_len)
{
	while (in_len > 0 && in[in_len - 1] == '=')
		in_len--;
	if (in_len % 4 == 1)
		return -EPROTO;
	char *buf = malloc(in_len / 4 * 3 + 3);
	if (!buf)
		return -ENOMEM;
	size_t n = 0;
	unsigned acc = 0, bits = 0;
	for (size_t i = 0; i < in_len; i++) {
		int v = base64_value((unsigned char)in[i]);
		if (v < 0) {
			free(buf);
			return -EPROTO;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[n++] = (char)((acc >> bits) & 0xFF);
		}
	}
	buf[n] = '\0';
	*out = buf;
	*out_len = n;
	return 0;
}

static char *base64_encode(const char *in, size_t len)
{
	char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;
	if (!out)
		return NULL;
	const unsigned char *p = (const unsigned char *)in;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		*o++ = base64_digits[(v >> 18) & 63];
		*o++ = base64_digits[(v >> 12) & 63];
		*o++ = i + 1 < len ? base64_digits[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? base64_digits[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

int conn_result_path(json_t *result, char **out, size_t *len)
{
	json_t *path = json_object_get(result, "path");
	if (json_is_string(path)) {
		size_t n = json_string_length(path);
		char *buf = malloc(n + 1);
		if (!buf)
			return -ENOMEM;
		memcpy(buf, json_string_value(path), n + 1);
		*out = buf;
		*len = n;
		return 0;
	}
	json_t *bytes = json_object_get(result, "path_bytes");
	if (!json_is_string(bytes))
		return -EPROTO;
	return base64_decode(json_string_value(bytes), json_string_length(bytes), out, len);
}

int conn_set_path(json_t *obj, const char *key, const char *bytes, size_t len)
{
	/* json_stringn() refuses what is not UTF-8: that is the test. */
	json_t *s = json_stringn(bytes, len);
	if (s)
		return json_object_set_new(obj, key, s) < 0 ? -ENOMEM : 0;
	char bytes_key[80];
	if (strlen(key) > 64)
		return -ENAMETOOLONG;
	snprintf(bytes_key, sizeof(bytes_key), "%s_bytes", key);
	char *b64 = base64_encode(bytes, len);
	if (!b64)
		return -ENOMEM;
	int rc = json_object_set_new(obj, bytes_key, json_string(b64)) < 0 ? -ENOMEM : 0;
	free(b64);
	return rc;
}
