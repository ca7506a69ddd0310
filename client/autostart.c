/* autostart.c: starting trawld when no daemon answers: a lock file beside the socket so
 * that one client starts it, a double fork into its own session, its log file. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "autostart.h"
#include "conn.h"

/* How often a client waiting for the lock tries again: the holder keeps it for as long
 * as a daemon takes to bind its socket, tens of milliseconds. */
#define LOCK_RETRY_MS 10
/* Highest fd the fallback closes when close_range() is unavailable (Linux < 5.11). */
#define FALLBACK_MAX_FD 65536

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Create every missing directory on the way to the last '/' of `path`, mode 0700. */
static int mkdir_parents(const char *path)
{
	char dir[PATH_MAX];
	size_t len = strlen(path);
	if (len >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, len + 1);
	for (size_t i = 1; i < len; i++) {
		if (dir[i] != '/')
			continue;
		dir[i] = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return -errno;
		dir[i] = '/';
	}
	return 0;
}

int autostart_lock(const char *sock_path, int timeout_ms)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s.lock", sock_path) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	int rc = mkdir_parents(path);
	if (rc < 0)
		return rc;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	for (int waited_ms = 0;; waited_ms += LOCK_RETRY_MS) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK && errno != EINTR)
			break;
		if (waited_ms >= timeout_ms) {
			errno = ETIMEDOUT;
			break;
		}
		sleep_ms(LOCK_RETRY_MS);
	}
	rc = -errno;
	close(fd);
	return rc;
}

int conn_log_path(char *buf, size_t cap)
{
	const char *state = getenv("XDG_STATE_HOME");
	int n;
	if (state && state[0] == '/') {
		n = snprintf(buf, cap, "%s/trawl/trawld.log", state);
	} else {
		const char *home = getenv("HOME");
		if (!home || !*home) {
			const struct passwd *pw = getpwuid(getuid());
			home = pw ? pw->pw_dir : NULL;
		}
		if (!home || !*home)
			return -ENOENT;
		n = snprintf(buf, cap, "%s/.local/state/trawl/trawld.log", home);
	}
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* The daemon next to this executable when there is one: an installed or built trawl
 * runs the trawld of the same installation or build, not whichever comes first in $PATH. */
static const char *find_trawld(char *buf, size_t cap)
{
	ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
	if (n > 0) {
		buf[n] = '\0';
		char *slash = strrchr(buf, '/');
		if (slash && (size_t)(slash - buf) + sizeof("/trawld") <= cap) {
			memcpy(slash, "/trawld", sizeof("/trawld"));
			if (access(buf, X_OK) == 0)
				return buf;
		}
	}
	return "trawld";
}

/* In the grandchild: become the daemon. Reports an exec failure on `report_fd` and in
 * the log, and never returns. Only async-signal-safe calls: the parent's state is a copy. */
static void exec_daemon(const char *program, const char *sock_path, int null_fd, int log_fd,
			int report_fd)
{
	pid_t self = getpid();
	if (write(report_fd, &self, sizeof(self)) != (ssize_t)sizeof(self))
		_exit(127);
	dup2(null_fd, STDIN_FILENO);
	dup2(log_fd, STDOUT_FILENO);
	dup2(log_fd, STDERR_FILENO);
	if (chdir("/") < 0)
		_exit(127);
	/* What the client ignored or blocked (a shell ignores SIGINT for background jobs)
	 * would otherwise survive exec and make the daemon deaf to it. */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	static const int reset[] = {SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGTERM, SIGCHLD};
	for (size_t i = 0; i < sizeof(reset) / sizeof(reset[0]); i++)
		signal(reset[i], SIG_DFL);
	/* A descriptor the caller left open (a pipe `$(trawl ...)` reads to its end, make's
	 * jobserver) must not live on in the daemon. Close-on-exec, not closed: the report
	 * pipe has to stay open until the exec succeeds. */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		for (int fd = 3; fd < FALLBACK_MAX_FD; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	char *const argv[] = {(char *)program, "--socket", (char *)sock_path, NULL};
	if (strchr(program, '/'))
		execv(program, argv);
	else
		execvp(program, argv);
	int err = errno;
	dprintf(STDERR_FILENO, "trawl: cannot run '%s': %s\n", program, strerror(err));
	if (write(report_fd, &err, sizeof(err)) < 0)
		_exit(127);
	_exit(127);
}

/* `path` made absolute with the current directory: the daemon runs in "/". */
static int absolute(const char *path, char *buf, size_t cap)
{
	char cwd[PATH_MAX] = "";
	if (path[0] != '/' && !getcwd(cwd, sizeof(cwd)))
		return -errno;
	int n = snprintf(buf, cap, "%s%s%s", cwd, *cwd ? "/" : "", path);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int autostart_spawn(const char *sock_path, const char *program, pid_t *pid)
{
	char exe[PATH_MAX], program_abs[PATH_MAX], sock_abs[PATH_MAX], log_path[PATH_MAX];
	if (!program)
		program = find_trawld(exe, sizeof(exe));
	int rc = absolute(sock_path, sock_abs, sizeof(sock_abs));
	if (rc == 0 && strchr(program, '/'))
		rc = absolute(program, program_abs, sizeof(program_abs));
	if (rc < 0)
		return rc;
	if (strchr(program, '/'))
		program = program_abs;
	rc = conn_log_path(log_path, sizeof(log_path));
	if (rc < 0)
		return rc;
	rc = mkdir_parents(log_path);
	if (rc < 0)
		return rc;

	int log_fd = -1, null_fd = -1, report[2] = {-1, -1};
	log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (log_fd < 0)
		goto err;
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd < 0 || pipe2(report, O_CLOEXEC) < 0)
		goto err;
	pid_t child = fork();
	if (child < 0)
		goto err;
	if (child == 0) {
		/* The middle process makes a new session and leaves at once: the daemon,
		 * not a session leader, can never take a controlling terminal, and init
		 * (not this client) becomes its parent. */
		close(report[0]);
		if (setsid() < 0)
			_exit(1);
		pid_t daemon = fork();
		if (daemon == 0)
			exec_daemon(program, sock_abs, null_fd, log_fd, report[1]);
		_exit(daemon < 0 ? 1 : 0);
	}
	close(report[1]);
	close(null_fd);
	close(log_fd);
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	/* The grandchild sends its pid, then an errno only when exec fails; the pipe ends
	 * with the exec, which closes it. */
	pid_t daemon = 0;
	int exec_err = 0;
	ssize_t n;
	while ((n = read(report[0], &daemon, sizeof(daemon))) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(daemon)) {
		close(report[0]);
		return -EAGAIN; /* the middle process could not fork */
	}
	while ((n = read(report[0], &exec_err, sizeof(exec_err))) < 0 && errno == EINTR)
		;
	close(report[0]);
	if (n > 0)
		return -ECHILD;
	*pid = daemon;
	return 0;
err:
	rc = -errno;
	if (log_fd >= 0)
		close(log_fd);
	if (null_fd >= 0)
		close(null_fd);
	if (report[0] >= 0) {
		close(report[0]);
		close(report[1]);
	}
	return rc;
}

int autostart_is_alive(pid_t pid)
{
	if (kill(pid, 0) < 0 && errno != EPERM)
		return 0;
	/* A dead daemon stays a zombie until its parent reaps it, and not every init
	 * reaps: the state letter after the command name says. */
	char path[64], stat[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1;
	ssize_t n = read(fd, stat, sizeof(stat) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	stat[n] = '\0';
	const char *paren = strrchr(stat, ')');
	return !(paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X'));
}
