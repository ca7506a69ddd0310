/* main.c: trawld's command line, configuration, socket and signals; then the engine
 * (index, walks) and the server (clients) take over until the daemon is told to stop. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "engine.h"
#include "server.h"
#include "walk.h"
#include "watch.h"

#define TRAWLD_VERSION		  "0.1.0"
#define DEFAULT_RESCAN_INTERVAL_S 300
/* Descriptors to allow ourselves at most when the hard limit allows more: clients
 * (SERVER_MAX_CONNECTIONS), walk anchors and watches with room to spare. */
#define TRAWLD_MAX_FDS 65536

/* trawld --system: one daemon as root for every user. */
#define SYSTEM_SOCKET_DIR "/run/trawl"
#define SYSTEM_SOCKET	  SYSTEM_SOCKET_DIR "/socket"
#define SYSTEM_STATE_DIR  "/var/cache/trawl"
#define SYSTEM_CONFIG	  "/etc/trawl/trawld.conf"

/* Debian's updatedb.conf PRUNEPATHS, used when /etc/updatedb.conf is not there. */
static const char *const default_prune_paths[] = {
    "/tmp",	     "/var/spool",	"/media",	    "/var/lib/os-prober",
    "/var/lib/ceph", "/home/.ecryptfs", "/var/lib/schroot", NULL};

static void usage(FILE *out)
{
	fputs(
	    "usage: trawld [OPTION]...\n"
	    "Index the filesystem and answer fuzzy path queries on a Unix socket\n"
	    "(protocol: docs/PROTOCOL.md; `man trawld`). Runs in the foreground.\n"
	    "\n"
	    "  --socket PATH          listen here (default: $TRAWL_SOCKET, else\n"
	    "                         $XDG_RUNTIME_DIR/trawl/socket, else /tmp/trawl-$UID/socket)\n"
	    "  --root DIR             index DIR and everything under it on its filesystem;\n"
	    "                         repeat for more roots (default: the whole filesystem,\n"
	    "                         every local filesystem, pruned as updatedb does)\n"
	    "  --from-list FILE       index the absolute paths listed in FILE, one a line or\n"
	    "                         NUL-separated, instead of walking\n"
	    "  --state-dir DIR        keep the snapshot and picks here (default:\n"
	    "                         $XDG_CACHE_HOME/trawl, else ~/.cache/trawl)\n"
	    "  --config FILE          read roots and prune rules from FILE (default:\n"
	    "                         $XDG_CONFIG_HOME/trawl/trawld.conf when it exists)\n"
	    "  --rescan-interval SEC  rescan changed directories this often (default 300;\n"
	    "                         0: only when asked)\n"
	    "  --watch MODE           follow changes as they happen: auto (default:\n"
	    "                         fanotify when allowed, else inotify), fanotify,\n"
	    "                         inotify, or off (then only rescans find them)\n"
	    "  --watch-share PERCENT  inotify watches to take at most, as a share of\n"
	    "                         fs.inotify.max_user_watches (default 50)\n"
	    "  --system               serve every user as root: each sees only the paths it\n"
	    "                         could list itself (socket " SYSTEM_SOCKET ", mode 0666;\n"
	    "                         state " SYSTEM_STATE_DIR "; config " SYSTEM_CONFIG ")\n"
	    "  --cross-fs             enter other filesystems below the roots\n"
	    "  --no-uring             walk without io_uring\n"
	    "  --threads N            threads that read directories (default 8) and\n"
	    "                         rebuild the index (default 2)\n"
	    "  -h, --help             show this help\n"
	    "  --version              show the version\n"
	    "\n"
	    "The configuration file uses updatedb.conf's syntax: ROOTS=\"/ /data\",\n"
	    "PRUNEFS=\"...\", PRUNEPATHS=\"...\", PRUNENAMES=\"...\", PRUNE_BIND_MOUNTS=\"yes\".\n"
	    "SIGTERM or SIGINT saves the snapshot and exits.\n",
	    out);
}

struct settings {
	char *socket_path;
	const char **roots; /* NULL-ended */
	size_t n_roots;
	char *from_list;
	char *state_dir;
	char *config;
	unsigned rescan_interval_s;
	int is_cross_fs, is_uring_disabled;
	int is_system;
	unsigned threads;
	int watch_backend;
	unsigned watch_share_percent;
	struct walk_prune prune;
	int has_prune; /* prune lists came from a file and must be released */
	char *config_text;
};

static int parse_uint(const char *s, unsigned max, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int add_root(struct settings *st, const char *dir)
{
	char *abs = realpath(dir, NULL);
	if (!abs) {
		fprintf(stderr, "trawld: root '%s': %s\n", dir, strerror(errno));
		return -1;
	}
	const char **r = realloc(st->roots, (st->n_roots + 2) * sizeof(*r));
	if (!r) {
		free(abs);
		return -1;
	}
	st->roots = r;
	st->roots[st->n_roots++] = abs;
	st->roots[st->n_roots] = NULL;
	return 0;
}

/* A path under an XDG base directory: $VAR/suffix, else $HOME/fallback/suffix. */
static char *xdg_path(const char *var, const char *fallback, const char *suffix)
{
	const char *base = getenv(var);
	char *out = NULL;
	int n;
	if (base && base[0] == '/') {
		n = asprintf(&out, "%s/%s", base, suffix);
	} else {
		const char *home = getenv("HOME");
		if (!home || home[0] != '/')
			return NULL;
		n = asprintf(&out, "%s/%s/%s", home, fallback, suffix);
	}
	return n < 0 ? NULL : out;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t cap = 0, n = 0;
	for (;;) {
		if (cap - n < 4096) {
			cap = cap ? cap * 2 : 8192;
			if (cap > (1 << 20)) {
				errno = EFBIG;
				break;
			}
			char *p = realloc(buf, cap + 1);
			if (!p)
				break;
			buf = p;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			fclose(f);
			buf[n] = '\0';
			*len = n;
			return buf;
		}
	}
	fclose(f);
	free(buf);
	return NULL;
}

/* Read ROOTS from a configuration file (blanked out of `text`, so the prune parser sees
 * only its own keys), then its prune rules. Returns 0, or -1 after reporting. */
static int load_config(struct settings *st, const char *path, int is_explicit)
{
	size_t len = 0;
	char *text = read_file(path, &len);
	if (!text) {
		if (errno == ENOENT && !is_explicit)
			return 0;
		fprintf(stderr, "trawld: config '%s': %s\n", path, strerror(errno));
		return -1;
	}
	for (char *line = text; line < text + len;) {
		char *nl = memchr(line, '\n', (size_t)(text + len - line));
		char *end = nl ? nl : text + len;
		char *p = line;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (end - p > 6 && strncmp(p, "ROOTS=", 6) == 0 && !st->n_roots) {
			char *v = p + 6, *v_end = end;
			if (v < v_end && *v == '"') {
				v++;
				while (v_end > v && v_end[-1] != '"')
					v_end--;
				if (v_end > v)
					v_end--;
			}
			char *roots = strndup(v, (size_t)(v_end - v));
			for (char *save = NULL, *tok = strtok_r(roots, " \t", &save); tok;
			     tok = strtok_r(NULL, " \t", &save)) {
				if (add_root(st, tok) < 0) {
					free(roots);
					free(text);
					return -1;
				}
			}
			free(roots);
		}
		if (end - p > 6 && strncmp(p, "ROOTS=", 6) == 0)
			*p = '#';
		line = end + 1;
	}
	int bad_line = 0;
	struct walk_prune prune = {0};
	int rc = walk_prune_parse(text, len, &prune, &bad_line);
	free(text);
	if (rc < 0) {
		fprintf(stderr, "trawld: config '%s':%d: %s\n", path, bad_line,
			rc == -EINVAL ? "cannot parse this line" : strerror(-rc));
		return -1;
	}
	st->prune = prune;
	st->has_prune = 1;
	return 0;
}

static int parse_args(int argc, char **argv, struct settings *st)
{
	enum {
		O_SOCKET = 256,
		O_ROOT,
		O_LIST,
		O_STATE,
		O_CONFIG,
		O_RESCAN,
		O_CROSS,
		O_NOURING,
		O_THREADS,
		O_VERSION,
		O_WATCH,
		O_WATCH_SHARE,
		O_SYSTEM
	};
	static const struct option longopts[] = {
	    {"socket", required_argument, NULL, O_SOCKET},
	    {"root", required_argument, NULL, O_ROOT},
	    {"from-list", required_argument, NULL, O_LIST},
	    {"state-dir", required_argument, NULL, O_STATE},
	    {"config", required_argument, NULL, O_CONFIG},
	    {"rescan-interval", required_argument, NULL, O_RESCAN},
	    {"cross-fs", no_argument, NULL, O_CROSS},
	    {"no-uring", no_argument, NULL, O_NOURING},
	    {"threads", required_argument, NULL, O_THREADS},
	    {"watch", required_argument, NULL, O_WATCH},
	    {"watch-share", required_argument, NULL, O_WATCH_SHARE},
	    {"system", no_argument, NULL, O_SYSTEM},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, O_VERSION},
	    {NULL, 0, NULL, 0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case O_SOCKET:
			free(st->socket_path);
			st->socket_path = strdup(optarg);
			break;
		case O_ROOT:
			if (add_root(st, optarg) < 0)
				return 2;
			break;
		case O_LIST:
			free(st->from_list);
			st->from_list = realpath(optarg, NULL);
			if (!st->from_list) {
				fprintf(stderr, "trawld: list '%s': %s\n", optarg, strerror(errno));
				return 2;
			}
			break;
		case O_STATE:
			free(st->state_dir);
			st->state_dir = strdup(optarg);
			break;
		case O_CONFIG:
			free(st->config);
			st->config = strdup(optarg);
			break;
		case O_RESCAN:
			if (parse_uint(optarg, 86400 * 365, &st->rescan_interval_s) < 0) {
				fprintf(stderr,
					"trawld: --rescan-interval: '%s' is not a number "
					"of seconds\n",
					optarg);
				return 2;
			}
			break;
		case O_CROSS:
			st->is_cross_fs = 1;
			break;
		case O_NOURING:
			st->is_uring_disabled = 1;
			break;
		case O_THREADS:
			if (parse_uint(optarg, 64, &st->threads) < 0 || st->threads == 0) {
				fprintf(stderr, "trawld: --threads: '%s' is not from 1 to 64\n",
					optarg);
				return 2;
			}
			break;
		case O_WATCH:
			if (strcmp(optarg, "auto") == 0) {
				st->watch_backend = WATCH_NONE;
			} else if (strcmp(optarg, "fanotify") == 0) {
				st->watch_backend = WATCH_FANOTIFY;
			} else if (strcmp(optarg, "inotify") == 0) {
				st->watch_backend = WATCH_INOTIFY;
			} else if (strcmp(optarg, "off") == 0) {
				st->watch_backend = WATCH_OFF;
			} else {
				fprintf(
				    stderr,
				    "trawld: --watch: '%s' is not auto, fanotify, inotify or off\n",
				    optarg);
				return 2;
			}
			break;
		case O_WATCH_SHARE:
			if (parse_uint(optarg, 100, &st->watch_share_percent) < 0 ||
			    !st->watch_share_percent) {
				fprintf(stderr,
					"trawld: --watch-share: '%s' is not from 1 to 100\n",
					optarg);
				return 2;
			}
			break;
		case O_SYSTEM:
			st->is_system = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case O_VERSION:
			puts("trawld " TRAWLD_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "trawld: unexpected argument '%s' (roots are given with --root)\n",
			argv[optind]);
		return 2;
	}
	if (st->is_system && st->from_list) {
		fprintf(stderr, "trawld: --system cannot use --from-list: a list holds no owners "
				"or modes to tell who may see what\n");
		return 2;
	}
	if (st->is_system && geteuid() != 0) {
		fprintf(stderr, "trawld: --system must run as root: it reads every directory for "
				"every user\n");
		return 1;
	}
	if (st->from_list && st->n_roots) {
		fprintf(stderr, "trawld: --from-list and --root exclude each other\n");
		return 2;
	}
	return -1;
}

/* The default socket's directory must be ours alone: it guards who can connect. */
static int check_private_dir(const char *dir)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "trawld: mkdir '%s': %s\n", dir, strerror(errno));
		return -1;
	}
	struct stat st;
	if (lstat(dir, &st) != 0) {
		fprintf(stderr, "trawld: stat '%s': %s\n", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
		fprintf(stderr,
			"trawld: '%s' must be a directory of yours that nobody else can use "
			"(mode 0700)\n",
			dir);
		return -1;
	}
	return 0;
}

/* A system daemon's socket directory: anyone may enter it, nobody but root may change it
 * (else another user could put a socket of their own in the daemon's place). */
static int system_socket_path(char **out)
{
	const char *dir = SYSTEM_SOCKET_DIR;
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "trawld: mkdir '%s': %s\n", dir, strerror(errno));
		return -1;
	}
	struct stat st;
	if (lstat(dir, &st) != 0) {
		fprintf(stderr, "trawld: stat '%s': %s\n", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022)) {
		fprintf(stderr,
			"trawld: '%s' must be a directory of root's that nobody else can write "
			"to (mode 0755)\n",
			dir);
		return -1;
	}
	return (*out = strdup(SYSTEM_SOCKET)) ? 0 : -1;
}

static int default_socket_path(char **out)
{
	const char *env = getenv("TRAWL_SOCKET");
	if (env && *env)
		return (*out = strdup(env)) ? 0 : -1;
	const char *run = getenv("XDG_RUNTIME_DIR");
	char *dir = NULL;
	if (run && run[0] == '/') {
		if (asprintf(&dir, "%s/trawl", run) < 0)
			return -1;
	} else if (asprintf(&dir, "/tmp/trawl-%u", (unsigned)geteuid()) < 0) {
		return -1;
	}
	int rc = check_private_dir(dir);
	if (rc == 0 && asprintf(out, "%s/socket", dir) < 0)
		rc = -1;
	free(dir);
	return rc;
}

/* Bind and listen on `path`, replacing a stale socket but never a live daemon's. A
 * `is_public` socket (system mode) is for every user: mode 0666 in a directory made 0755. */
static int listen_on(const char *path, int is_public)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "trawld: socket path '%s' is too long\n", path);
		return -1;
	}
	memcpy(addr.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "trawld: socket: %s\n", strerror(errno));
		return -1;
	}
	/* PROTOCOL.md: the socket's directory is made when missing, private to us. */
	char *dir = strdup(path);
	char *slash = dir ? strrchr(dir, '/') : NULL;
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, is_public ? 0755 : 0700) != 0 && errno != EEXIST) {
			fprintf(stderr, "trawld: mkdir '%s': %s\n", dir, strerror(errno));
			free(dir);
			close(fd);
			return -1;
		}
	}
	free(dir);
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			fprintf(stderr, "trawld: '%s' exists and is not a socket\n", path);
			close(fd);
			return -1;
		}
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
			fprintf(stderr, "trawld: another daemon already serves '%s'\n", path);
			close(probe);
			close(fd);
			return -1;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	mode_t old = umask(is_public ? 0111 : 0177);
	int rc = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old);
	if (rc != 0) {
		fprintf(stderr, "trawld: bind '%s': %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	/* A burst of clients (server.h allows SERVER_MAX_CONNECTIONS) waits in the backlog
	 * while the loop accepts: a short one refuses nonblocking connects with EAGAIN. */
	if (listen(fd, SOMAXCONN) != 0) {
		fprintf(stderr, "trawld: listen '%s': %s\n", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

/* systemd socket activation: LISTEN_PID is us and LISTEN_FDS >= 1 hands us fd 3. */
static int activated_socket(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	unsigned p, n;
	if (!pid || !fds || parse_uint(pid, INT_MAX, &p) < 0 || parse_uint(fds, 64, &n) < 0 ||
	    (pid_t)p != getpid() || n < 1)
		return -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	int fd = 3;
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0)
		return -1;
	fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

static void settings_release(struct settings *st)
{
	for (size_t k = 0; k < st->n_roots; k++)
		free((char *)st->roots[k]);
	free(st->roots);
	free(st->socket_path);
	free(st->from_list);
	free(st->state_dir);
	free(st->config);
	if (st->has_prune)
		walk_prune_release(&st->prune);
}

/* Clients, walk anchors and watches all take descriptors, and the soft limit is often
 * 1024 (systemd's default), short of the connections server.h promises. Nothing here
 * uses select(), so the soft limit is raised towards the hard one. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < TRAWLD_MAX_FDS &&
	    rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max < TRAWLD_MAX_FDS ? rl.rlim_max : TRAWLD_MAX_FDS;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			fprintf(stderr, "trawld: setrlimit: %s\n", strerror(errno));
	}
}

/* glibc raises its mmap threshold each time a mapped block is freed, up to 32 MiB: after
 * the first rebuild frees the old base, the next rebuild's arrays come from the heap, and
 * freed there they stay resident (a soak grew 20 MiB a rebuild, 38 -> 89 MiB in ten
 * minutes). A fixed threshold keeps large blocks mapped, given back when freed. */
static void fix_mmap_threshold(void)
{
#ifdef M_MMAP_THRESHOLD
	if (!mallopt(M_MMAP_THRESHOLD, 256 * 1024))
		fprintf(stderr, "trawld: mallopt: could not fix the mmap threshold\n");
#endif
}

int main(int argc, char **argv)
{
	struct settings st = {.rescan_interval_s = DEFAULT_RESCAN_INTERVAL_S};
	int exit_code = 1;
	int rc = parse_args(argc, argv, &st);
	if (rc >= 0) {
		settings_release(&st);
		return rc;
	}

	raise_fd_limit();
	fix_mmap_threshold();
	int is_config_explicit = st.config != NULL;
	if (!st.config)
		st.config = st.is_system
				? strdup(SYSTEM_CONFIG)
				: xdg_path("XDG_CONFIG_HOME", ".config", "trawl/trawld.conf");
	if (st.config && load_config(&st, st.config, is_config_explicit) < 0)
		goto out;
	/* The analyzer loses st.config through load_config(); settings_release() at out:
	 * frees it on every path. */
	// NOLINTNEXTLINE(clang-analyzer-unix.Malloc)
	int is_whole_fs = !st.n_roots && !st.from_list;
	if (is_whole_fs) {
		/* Index everything as updatedb would: / and every local filesystem. */
		if (add_root(&st, "/") < 0)
			goto out;
		st.is_cross_fs = 1;
		if (!st.has_prune && load_config(&st, "/etc/updatedb.conf", 0) < 0)
			goto out;
	}
	if (!st.has_prune) {
		st.prune.fs_types = walk_default_prune_fs;
		st.prune.paths = is_whole_fs ? default_prune_paths : NULL;
		st.prune.is_bind_mounts_pruned = 1;
	}
	if (!st.state_dir && st.is_system)
		st.state_dir = strdup(SYSTEM_STATE_DIR);
	if (!st.state_dir && !(st.state_dir = xdg_path("XDG_CACHE_HOME", ".cache", "trawl"))) {
		fprintf(stderr, "trawld: no state directory: set HOME or use --state-dir\n");
		goto out;
	}
	if (st.state_dir[0] != '/') {
		/* Status and logs name the snapshot; a relative name says little there. */
		char *cwd = getcwd(NULL, 0), *abs = NULL;
		if (!cwd || asprintf(&abs, "%s/%s", cwd, st.state_dir) < 0) {
			free(cwd);
			fprintf(stderr, "trawld: getcwd: %s\n", strerror(errno));
			goto out;
		}
		free(cwd);
		free(st.state_dir);
		st.state_dir = abs;
	}

	/* The signals that end us are read from a signalfd by the event loop; every
	 * thread inherits the mask, so none of them is interrupted by one. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sig_fd < 0) {
		fprintf(stderr, "trawld: signalfd: %s\n", strerror(errno));
		goto out;
	}

	int listen_fd = activated_socket();
	int is_own_socket = listen_fd < 0;
	if (is_own_socket) {
		if (!st.socket_path && (st.is_system ? system_socket_path(&st.socket_path)
						     : default_socket_path(&st.socket_path)) < 0) {
			close(sig_fd);
			goto out;
		}
		listen_fd = listen_on(st.socket_path, st.is_system);
		if (listen_fd < 0) {
			close(sig_fd);
			goto out;
		}
	}

	struct engine_config ec = {
	    .roots = st.roots,
	    .is_cross_fs = st.is_cross_fs,
	    .prune = st.prune,
	    .from_list = st.from_list,
	    .state_dir = st.state_dir,
	    .is_uring_disabled = st.is_uring_disabled,
	    .threads = st.threads,
	    .rescan_interval_s = st.rescan_interval_s,
	    .watch_backend = st.watch_backend,
	    .watch_share_percent = st.watch_share_percent,
	    .is_system = st.is_system,
	};
	struct engine *e = NULL;
	rc = engine_start(&ec, &e);
	if (rc == 0) {
		fprintf(stderr, "trawld: serving on '%s'\n",
			st.socket_path ? st.socket_path : "(socket activation)");
		struct server_options so = {
		    .listen_fd = listen_fd,
		    .owner_uid = geteuid(),
		    .is_system = st.is_system,
		    .signal_fd = sig_fd,
		    .name = "trawld " TRAWLD_VERSION,
		    .version = TRAWLD_VERSION,
		};
		rc = server_run(&so, e);
		/* Stop taking clients before the (possibly long) final save. */
		close(listen_fd);
		if (is_own_socket && st.socket_path)
			unlink(st.socket_path);
		engine_stop(e);
		exit_code = rc == 0 ? 0 : 1;
	} else {
		close(listen_fd);
		if (is_own_socket)
			unlink(st.socket_path);
	}
	close(sig_fd);
out:
	settings_release(&st);
	return exit_code;
}
