/* autostart.h: conn.c's helpers for starting trawld when no daemon answers: the lock that
 * lets one client start it, the detached process, and whether it still lives. */
#ifndef TRAWL_AUTOSTART_H
#define TRAWL_AUTOSTART_H

#include <sys/types.h>

/**
 * Take the lock file beside the socket (`<sock_path>.lock`), creating the socket's
 * missing directories with mode 0700, waiting at most `timeout_ms` for another client
 * to release it. Returns the locked fd (close it to unlock), or -errno: -ETIMEDOUT.
 */
int autostart_lock(const char *sock_path, int timeout_ms);

/**
 * Start `trawld --socket <sock_path>` in its own session, detached: stdin from /dev/null,
 * stdout and stderr appended to conn_log_path(), no other inherited fd. `program` is the
 * daemon to run (NULL: "trawld" next to this executable, else from $PATH). Sets *pid to
 * the daemon's pid and returns 0 once it has been executed, or -errno: -ECHILD when it
 * could not be executed (the reason is in the log).
 */
int autostart_spawn(const char *sock_path, const char *program, pid_t *pid);

/** Whether process `pid` is running (exists and is not a zombie). */
int autostart_is_alive(pid_t pid);

#endif
