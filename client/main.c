/* main.c: the trawl command: parses options and dispatches to the daemon's client
 * (remote.c), the standard-input ranker (filter.c) or, later, the picker. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "picker.h"
#include "shell.h"

/* PROTOCOL.md: a query asks for 1 to 10000 results, 50 unless it says. */
#define LIMIT_DEFAULT 50
#define LIMIT_MAX     10000

static const char usage[] =
    "usage: trawl [options] QUERY...          paths on this machine, best match first\n"
    "       trawl [picker options]            pick paths interactively (on a terminal)\n"
    "       eval \"$(trawl --bash)\"  |  eval \"$(trawl --zsh)\"  |  trawl --fish | source\n"
    "       trawl --status | --rescan | --stop\n"
    "       trawl --filter QUERY [options] < PATHS\n"
    "\n"
    "Find any path from a few of its characters. The words of QUERY are joined with\n"
    "spaces into one query (docs/QUERY.md, man trawl):\n"
    "  foo bar    both terms must match, in any order (fuzzy: characters in order)\n"
    "  'foo       exact substring        ^foo   at the start of a path component\n"
    "  foo$       at the end of the path !foo   must not contain foo\n"
    "  a | b      either term            a/b    a term may span components\n"
    "A term with an uppercase letter matches case exactly; a term with an accent\n"
    "matches accents exactly. Otherwise case and accents are ignored.\n"
    "\n"
    "The paths come from the trawld daemon. When none answers, trawl starts one and,\n"
    "while its first walk runs, waits for it (showing progress on a terminal).\n"
    "\n"
    "query options:\n"
    "  -n, --limit N        print at most N paths, 1 to 10000 (default 50)\n"
    "      --under DIR      only paths under the directory DIR\n"
    "      --type TYPE      only files (f), directories (d) or symlinks (l)\n"
    "  -0, --print0         separate paths with NUL bytes, not newlines\n"
    "      --json           print the daemon's answer lines, JSON (docs/PROTOCOL.md)\n"
    "      --scores         print each path's score and a tab before it\n"
    "      --color WHEN     highlight matched characters: auto (default), always, never\n"
    "      --no-wait        do not wait for a first walk: answer from what it has seen\n"
    "daemon options:\n"
    "      --socket PATH    the daemon's socket (default: $TRAWL_SOCKET, else\n"
    "                       $XDG_RUNTIME_DIR/trawl/socket, else /tmp/trawl-$UID/socket)\n"
    "      --no-start       never start trawld (also when TRAWL_NO_START=1)\n"
    "      --status         show what the daemon holds (with --json: its status line)\n"
    "      --rescan         have the daemon look for changes now\n"
    "      --stop           stop the daemon (it saves its index first)\n"
    "picker options (no QUERY, standard input a terminal; keys as in fzf):\n"
    "  -q, --query QUERY    start with this query\n"
    "  -m, --multi          tab and shift-tab pick several paths\n"
    "  -1, --select-1       print the only match of the first query without asking\n"
    "      --exit-0         exit at once (status 1) when the first query matches nothing\n"
    "      --height [N[%]]  show N lines (or N% of the terminal; 40% when not given)\n"
    "                       below the cursor instead of the full screen\n"
    "      --min-height N   with a percent --height, show at least N lines (default 10)\n"
    "      --reverse        the prompt on top (--layout=reverse|default)\n"
    "  --under, --type, -0/--print0, --socket, --no-start, --color=never work as above\n"
    "      --bash, --zsh, --fish  print key bindings for that shell: CTRL-T inserts\n"
    "                       picked paths, ALT-C cds to a picked directory\n"
    "filter mode, without a daemon:\n"
    "  -f, --filter QUERY   rank the paths read from standard input (one a line)\n"
    "      --read0          input paths are separated by NUL bytes, not newlines\n"
    "  -n, -0, --scores and --color work as above; --limit defaults to every match\n"
    "\n"
    "  -h, --help           show this help\n"
    "\n"
    "exit status: 0 when a path matched (or --status, --rescan, --stop succeeded),\n"
    "1 when none did (--stop: no daemon was running), 2 on an error; the picker:\n"
    "0 when a path was picked, 1 when none matched, 130 when aborted.\n";

static int parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (!*s || *end || s[0] == '-')
		return -1;
	*out = (size_t)v;
	return 0;
}

/* Report a wrong command line in one line; evaluates to exit status 2. A macro, not a
 * variadic function: clang-tidy 14's va_list check misfires on one when it lints several
 * files in one run, as `make lint` does. */
#define BAD_USAGE(fmt, ...) (fprintf(stderr, "trawl: " fmt "\n", __VA_ARGS__), 2)

/* The query words joined with spaces, in a new string. */
static char *join_words(char **words, int n)
{
	size_t len = 0;
	for (int i = 0; i < n; i++)
		len += strlen(words[i]) + 1;
	char *out = malloc(len + 1), *o = out;
	if (!out)
		return NULL;
	*o = '\0';
	for (int i = 0; i < n; i++) {
		size_t word_len = strlen(words[i]);
		if (i > 0)
			*o++ = ' ';
		memcpy(o, words[i], word_len + 1);
		o += word_len;
	}
	return out;
}

static int is_env_set(const char *name)
{
	const char *v = getenv(name);
	return v && *v && strcmp(v, "0") != 0;
}

int main(int argc, char **argv)
{
	enum {
		OPT_READ0 = 256,
		OPT_SCORES,
		OPT_COLOR,
		OPT_SOCKET,
		OPT_UNDER,
		OPT_TYPE,
		OPT_JSON,
		OPT_STATUS,
		OPT_RESCAN,
		OPT_STOP,
		OPT_NO_START,
		OPT_NO_WAIT,
		OPT_EXIT_0,
		OPT_HEIGHT,
		OPT_MIN_HEIGHT,
		OPT_REVERSE,
		OPT_LAYOUT,
		OPT_SHELL,
	};
	static const struct option longopts[] = {
	    {"filter", required_argument, NULL, 'f'},
	    {"limit", required_argument, NULL, 'n'},
	    {"read0", no_argument, NULL, OPT_READ0},
	    {"print0", no_argument, NULL, '0'},
	    {"scores", no_argument, NULL, OPT_SCORES},
	    {"color", required_argument, NULL, OPT_COLOR},
	    {"socket", required_argument, NULL, OPT_SOCKET},
	    {"under", required_argument, NULL, OPT_UNDER},
	    {"type", required_argument, NULL, OPT_TYPE},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"status", no_argument, NULL, OPT_STATUS},
	    {"rescan", no_argument, NULL, OPT_RESCAN},
	    {"stop", no_argument, NULL, OPT_STOP},
	    {"no-start", no_argument, NULL, OPT_NO_START},
	    {"no-wait", no_argument, NULL, OPT_NO_WAIT},
	    {"query", required_argument, NULL, 'q'},
	    {"multi", no_argument, NULL, 'm'},
	    {"select-1", no_argument, NULL, '1'},
	    {"exit-0", no_argument, NULL, OPT_EXIT_0},
	    {"height", optional_argument, NULL, OPT_HEIGHT},
	    {"min-height", required_argument, NULL, OPT_MIN_HEIGHT},
	    {"reverse", no_argument, NULL, OPT_REVERSE},
	    {"layout", required_argument, NULL, OPT_LAYOUT},
	    {"bash", no_argument, NULL, OPT_SHELL},
	    {"zsh", no_argument, NULL, OPT_SHELL},
	    {"fish", no_argument, NULL, OPT_SHELL},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct filter_options filter = {.color = COLOR_AUTO};
	struct remote_options remote = {
	    .limit = LIMIT_DEFAULT,
	    .color = COLOR_AUTO,
	    .is_no_start = is_env_set("TRAWL_NO_START"),
	};
	const char *limit_arg = NULL, *under_arg = NULL, *shell = NULL;
	struct picker_options picker = {0};
	size_t min_height;
	const char *daemon_opt = NULL; /* the first option that needs the daemon */
	int n_actions = 0, c, opt_index = 0;
	while ((c = getopt_long(argc, argv, "f:n:0hq:m1", longopts, &opt_index)) != -1) {
		if (c >= OPT_SOCKET && !daemon_opt)
			daemon_opt = longopts[opt_index].name;
		switch (c) {
		case 'f':
			filter.query = optarg;
			break;
		case 'n':
			if (parse_size(optarg, &filter.limit) < 0)
				return BAD_USAGE("--limit: not a count: '%s'", optarg);
			limit_arg = optarg;
			break;
		case OPT_READ0:
			filter.is_read0 = 1;
			break;
		case '0':
			filter.is_print0 = remote.is_print0 = 1;
			break;
		case OPT_SCORES:
			filter.is_scores = remote.is_scores = 1;
			break;
		case OPT_COLOR:
			if (!strcmp(optarg, "auto"))
				filter.color = COLOR_AUTO;
			else if (!strcmp(optarg, "always"))
				filter.color = COLOR_ALWAYS;
			else if (!strcmp(optarg, "never"))
				filter.color = COLOR_NEVER;
			else
				return BAD_USAGE(
				    "--color: expected auto, always or never, not '%s'", optarg);
			remote.color = filter.color;
			break;
		case OPT_SOCKET:
			remote.socket = optarg;
			break;
		case OPT_UNDER:
			under_arg = optarg;
			break;
		case OPT_TYPE:
			if (strcmp(optarg, "f") != 0 && strcmp(optarg, "d") != 0 &&
			    strcmp(optarg, "l") != 0)
				return BAD_USAGE("--type: expected f, d or l, not '%s'", optarg);
			remote.type = optarg;
			break;
		case OPT_JSON:
			remote.is_json = 1;
			break;
		case OPT_STATUS:
		case OPT_RESCAN:
		case OPT_STOP:
			n_actions++;
			remote.action = c == OPT_STATUS	  ? REMOTE_STATUS
					: c == OPT_RESCAN ? REMOTE_RESCAN
							  : REMOTE_STOP;
			break;
		case OPT_NO_START:
			remote.is_no_start = 1;
			break;
		case OPT_NO_WAIT:
			remote.is_no_wait = 1;
			break;
		case 'q':
			picker.query = optarg;
			break;
		case 'm':
			picker.is_multi = 1;
			break;
		case '1':
			picker.is_select_1 = 1;
			break;
		case OPT_EXIT_0:
			picker.is_exit_0 = 1;
			break;
		case OPT_HEIGHT: {
			/* As fzf: --height=N[%], --height N[%], or --height alone for 40%. The
			 * attached form is told by its '=', not by optarg, whose null the
			 * static analyzer would then assume for every other option. */
			const char *eq = strchr(argv[optind - 1], '=');
			const char *next = optind < argc ? argv[optind] : "";
			size_t digits = strspn(next, "0123456789");
			if (eq)
				picker.height = eq + 1;
			else if (digits && (!next[digits] || !strcmp(next + digits, "%")))
				picker.height = argv[optind++];
			else
				picker.height = "40%";
			break;
		}
		case OPT_MIN_HEIGHT:
			if (parse_size(optarg, &min_height) < 0 || min_height < 1 ||
			    min_height > 10000)
				return BAD_USAGE("--min-height: not a line count: '%s'", optarg);
			picker.min_height = (int)min_height;
			break;
		case OPT_REVERSE:
			picker.is_reverse = 1;
			break;
		case OPT_LAYOUT:
			if (strcmp(optarg, "reverse") != 0 && strcmp(optarg, "default") != 0)
				return BAD_USAGE("--layout: expected default or reverse, not '%s'",
						 optarg);
			picker.is_reverse = !strcmp(optarg, "reverse");
			break;
		case OPT_SHELL:
			shell = longopts[opt_index].name;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs("Try 'trawl --help'.\n", stderr);
			return 2;
		}
		opt_index = 0;
	}

	if (filter.query) {
		if (daemon_opt)
			return BAD_USAGE("--%s cannot be used with --filter", daemon_opt);
		if (optind < argc)
			return BAD_USAGE("unexpected argument '%s' (--filter takes the query)",
					 argv[optind]);
		return filter_run(&filter);
	}
	if (filter.is_read0)
		return BAD_USAGE("%s needs --filter", "--read0");
	if (n_actions > 1)
		return BAD_USAGE("%s: choose one", "--status, --rescan, --stop");
	if (n_actions) {
		if (optind < argc)
			return BAD_USAGE("unexpected argument '%s'", argv[optind]);
		return remote_run(&remote);
	}
	if (shell) {
		if (shell_print(shell, stdout) < 0) {
			fprintf(stderr, "trawl: write: %s\n", strerror(errno));
			return 2;
		}
		return 0;
	}
	/* The interactive picker (client/picker.c): no QUERY words, standard input a
	 * terminal. Its UI goes to /dev/tty, so `vim "$(trawl)"` works. */
	if (optind == argc && !isatty(STDIN_FILENO))
		return BAD_USAGE("%s", "a QUERY is required when standard input is not a "
				       "terminal; try 'trawl --help'");
	if (limit_arg) {
		if (filter.limit < 1 || filter.limit > LIMIT_MAX)
			return BAD_USAGE("--limit: expected 1 to 10000, not '%s'", limit_arg);
		remote.limit = (unsigned)filter.limit;
	}
	char under[PATH_MAX];
	if (under_arg) {
		/* The daemon knows absolute paths only, and nothing of our directory. */
		struct stat st;
		if (!realpath(under_arg, under) || stat(under, &st) < 0) {
			fprintf(stderr, "trawl: --under: cannot resolve '%s': %s\n", under_arg,
				strerror(errno));
			return 2;
		}
		if (!S_ISDIR(st.st_mode)) {
			fprintf(stderr, "trawl: --under: not a directory: '%s'\n", under_arg);
			return 2;
		}
		remote.under = under;
	}
	if (optind == argc) {
		const struct conn_start start = {
		    .is_enabled = !remote.is_no_start,
		    .is_progress_tty = isatty(STDERR_FILENO),
		};
		picker.socket = remote.socket;
		picker.start = &start;
		picker.under = remote.under;
		picker.type = remote.type;
		picker.is_print0 = remote.is_print0;
		picker.is_no_color = remote.color == COLOR_NEVER;
		return picker_run(&picker);
	}
	char *query = join_words(argv + optind, argc - optind);
	if (!query) {
		fputs("trawl: out of memory\n", stderr);
		return 2;
	}
	remote.query = query;
	int status = remote_run(&remote);
	free(query);
	return status;
}
