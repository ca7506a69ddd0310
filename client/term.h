/* term.h: the controlling terminal as the picker uses it: /dev/tty in raw mode, its size,
 * whole writes, and signals turned into bytes on a pipe so one poll() sees them. */
#ifndef TRAWL_TERM_H
#define TRAWL_TERM_H

#include <stddef.h>
#include <termios.h>

struct term {
	int fd;		      /* /dev/tty, or -1 */
	struct termios saved; /* the mode found at term_open(), restored by term_restore() */
	int is_raw;
	int rows, cols;
};

/** Open /dev/tty for reading and writing and remember its mode. Returns 0 or -errno
 * (-ENXIO and friends when the process has no controlling terminal). */
int term_open(struct term *t);

/** Raw mode: bytes as typed, no echo, no signal keys (ctrl-c arrives as a byte), no flow
 * control, output processing kept. Returns 0 or -errno. */
int term_raw(struct term *t);

/** Put back the mode term_open() found. Safe to call when not raw, and more than once. */
void term_restore(struct term *t);

/** Restore the mode and close the terminal. */
void term_close(struct term *t);

/** Read the window size into t->rows and t->cols (24x80 when the terminal cannot say). */
void term_size(struct term *t);

/** Write all `n` bytes. Returns 0 or -errno. */
int term_write(struct term *t, const char *s, size_t n);

/**
 * Catch SIGWINCH, SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGTSTP, and ignore SIGPIPE, until
 * term_signals_uninstall(): each caught signal becomes a byte on a pipe whose read end is
 * returned (>= 0), for poll(). Returns -errno when the pipe cannot be made.
 */
int term_signals_install(void);

/** The next caught signal's number, or 0 when none is pending. */
int term_signal_next(void);

/** Put back the dispositions term_signals_install() replaced and close the pipe. */
void term_signals_uninstall(void);

/** Stop the process as SIGTSTP would (the caller restores the terminal first and sets it
 * up again after); returns when the process is continued. */
void term_stop_self(void);

#endif
