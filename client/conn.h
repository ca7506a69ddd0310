/* conn.h: a client's connection to trawld: finding the socket, starting the daemon when
 * none answers, sending requests and reading answer lines (docs/PROTOCOL.md). */
#ifndef TRAWL_CONN_H
#define TRAWL_CONN_H

#include <jansson.h>
#include <stddef.h>

struct conn {
	int fd;
	char *buf; /* received bytes not yet returned as lines: buf[off .. len) */
	size_t off, len, cap;
	long long next_id; /* conn_request() numbers requests from 1 */
};

/* The socket of a system daemon (trawld --system). */
#define CONN_SYSTEM_SOCKET "/run/trawl/socket"

/**
 * Resolve the socket path as PROTOCOL.md says: `override` when not NULL, else
 * $TRAWL_SOCKET, else $XDG_RUNTIME_DIR/trawl/socket, else /tmp/trawl-$UID/socket; but
 * when no socket is at that default and one is at CONN_SYSTEM_SOCKET, that one.
 * Returns 0, or -ENAMETOOLONG when it does not fit in `cap` (or a sockaddr_un).
 */
int conn_socket_path(const char *override, char *buf, size_t cap);

/** How conn_open() may start a daemon when none answers. */
struct conn_start {
	int is_enabled;	     /* start trawld when nothing listens on the socket */
	const char *trawld;  /* program to run; NULL: "trawld" next to this program, else $PATH */
	int is_progress_tty; /* draw a progress line on stderr while waiting */
	int timeout_ms;	     /* how long to wait for it to answer (0: 10000) */
};

/**
 * Connect to the daemon at `sock_path`. When nothing listens there and `start` allows it,
 * start trawld (detached, its output appended to conn_log_path()) under a lock
 * file beside the socket so that two clients never start two daemons, and wait until it
 * answers. Returns 0, or -errno: -ECONNREFUSED / -ENOENT when no daemon answers and
 * none may be started, -ETIMEDOUT when the started one did not answer in time, -ECHILD
 * when it could not be run or exited before answering (its log says why: conn_log_path()).
 */
int conn_open(struct conn *c, const char *sock_path, const struct conn_start *start);

/** Send `req` (an object; its "id" is set to the next number when absent) as one line.
 * Returns the id used (> 0) or -errno: -EINVAL when `req` is not an object or carries an
 * id that is not a positive integer, -EMSGSIZE past the protocol's 65536-byte line,
 * -EPIPE when the daemon has gone. Does not take ownership of `req`. */
long long conn_request(struct conn *c, json_t *req);

/**
 * Read the next answer line and parse it into *out (a new reference). Waits at most
 * `timeout_ms` (-1: forever, 0: only what is already buffered or readable now).
 * Returns 0, -EAGAIN when no full line came in time, -EPIPE when the daemon closed the
 * connection, -EPROTO for a line that is not a JSON object, -ENOMEM.
 */
int conn_read(struct conn *c, json_t **out, int timeout_ms);

/** Close the connection and free its buffer; the struct can be reused with conn_open(). */
void conn_close(struct conn *c);

/** The raw bytes of a result's path ("path" or base64 "path_bytes") into a new buffer
 * (*out, *len; NUL-terminated, free() it). Returns 0, -EPROTO, -ENOMEM. */
int conn_result_path(json_t *result, char **out, size_t *len);

/** Set `key` of `obj` to the path `bytes` (`len` bytes) as the protocol sends paths: a
 * string when it is valid UTF-8, else "<key>_bytes" holding its base64. Returns 0,
 * -ENAMETOOLONG for a key over 64 bytes, -ENOMEM. */
int conn_set_path(json_t *obj, const char *key, const char *bytes, size_t len);

/** Where a daemon started by conn_open() writes its output: $XDG_STATE_HOME/trawl/trawld.log,
 * else ~/.local/state/trawl/trawld.log. Returns 0, -ENOENT when there is no home
 * directory to put it in, -ENAMETOOLONG when it does not fit in `cap`. */
int conn_log_path(char *buf, size_t cap);

#endif
