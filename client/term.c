/* term.c: /dev/tty, raw mode and signals for the picker. The terminal's mode is restored
 * on every way out the picker takes; signals only write a byte, the loop does the work. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "term.h"

static const int caught[] = {SIGWINCH, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP};
#define N_CAUGHT (sizeof(caught) / sizeof(caught[0]))

static int signal_pipe[2] = {-1, -1};
static struct sigaction saved_actions[N_CAUGHT], saved_sigpipe;

int term_open(struct term *t)
{
	memset(t, 0, sizeof(*t));
	t->fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (t->fd < 0)
		return -errno;
	if (tcgetattr(t->fd, &t->saved) < 0) {
		int err = errno;
		close(t->fd);
		t->fd = -1;
		return -err;
	}
	term_size(t);
	return 0;
}

int term_raw(struct term *t)
{
	struct termios raw = t->saved;
	raw.c_iflag &=
	    ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	raw.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	raw.c_cflag |= CS8;
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	/* TCSAFLUSH would drop what was typed before the picker appeared: keep it. */
	if (tcsetattr(t->fd, TCSANOW, &raw) < 0)
		return -errno;
	t->is_raw = 1;
	return 0;
}

void term_restore(struct term *t)
{
	if (t->fd >= 0 && t->is_raw) {
		tcsetattr(t->fd, TCSANOW, &t->saved);
		t->is_raw = 0;
	}
}

void term_close(struct term *t)
{
	term_restore(t);
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

void term_size(struct term *t)
{
	struct winsize ws;
	if (ioctl(t->fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
		t->rows = ws.ws_row;
		t->cols = ws.ws_col;
	} else {
		t->rows = 24;
		t->cols = 80;
	}
}

int term_write(struct term *t, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(t->fd, s, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static void on_signal(int signo)
{
	int saved_errno = errno;
	unsigned char byte = (unsigned char)signo;
	/* A full pipe already says "signals pending"; losing a duplicate is harmless. */
	ssize_t n = write(signal_pipe[1], &byte, 1);
	(void)n;
	errno = saved_errno;
}

int term_signals_install(void)
{
	if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	for (size_t i = 0; i < N_CAUGHT; i++)
		sigaction(caught[i], &sa, &saved_actions[i]);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, &saved_sigpipe);
	return signal_pipe[0];
}

int term_signal_next(void)
{
	unsigned char byte;
	return read(signal_pipe[0], &byte, 1) == 1 ? byte : 0;
}

void term_signals_uninstall(void)
{
	if (signal_pipe[0] < 0)
		return;
	for (size_t i = 0; i < N_CAUGHT; i++)
		sigaction(caught[i], &saved_actions[i], NULL);
	sigaction(SIGPIPE, &saved_sigpipe, NULL);
	close(signal_pipe[0]);
	close(signal_pipe[1]);
	signal_pipe[0] = signal_pipe[1] = -1;
}

void term_stop_self(void)
{
	struct sigaction sa, ours;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTSTP, &sa, &ours);
	raise(SIGTSTP);
	sigaction(SIGTSTP, &ours, NULL);
}
