/* server.h: the socket server: an epoll loop that accepts clients, reads their request
 * lines, answers them, and runs queries on a small pool of worker threads. */
#ifndef TRAWL_SERVER_H
#define TRAWL_SERVER_H

#include <sys/types.h>

#include "engine.h"

/* Connections at once; past this, new ones are told so and closed. */
#define SERVER_MAX_CONNECTIONS 1024
/* Unsent answers a connection may pile up before the server stops reading its
 * requests: a query's answer is at most about PROTOCOL_MAX_LIMIT lines. */
#define SERVER_OUT_HIGH_WATER_BYTES (1 << 20)
/* A client that leaves answers unread this long is disconnected. */
#define SERVER_STALL_TIMEOUT_MS 60000
/* Query workers: two cores, and a search may use both when the other worker is idle. */
#define SERVER_WORKERS 2

struct server_options {
	int listen_fd;	 /* a listening, non-blocking Unix stream socket */
	uid_t owner_uid; /* peers with this uid (or root) may talk; others are refused */
	/* Serve every user instead (trawld --system): each peer sees only what it could
	 * list itself (trawl_visibility_new()); shutdown and rescan are root's. */
	int is_system;
	int signal_fd;	     /* a signalfd for the signals that end the daemon */
	const char *name;    /* "trawld 0.1.0", for hello */
	const char *version; /* "0.1.0", for status */
};

/**
 * Serve until a signal arrives on `signal_fd` or a client asks for shutdown. Returns 0,
 * or -errno when the loop itself could not run (errors of single clients are theirs).
 */
int server_run(const struct server_options *opts, struct engine *e);

#endif
