/* main.c: the trawl command: parses options and dispatches. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

static const char usage[] =
    "usage: trawl --filter QUERY [options] < PATHS\n"
    "\n"
    "Rank paths read from standard input (one a line) against QUERY, best first,\n"
    "like `fzf --filter`. The query language is described in docs/QUERY.md:\n"
    "  foo bar    both terms must match, in any order (fuzzy: characters in order)\n"
    "  'foo       exact substring        ^foo   at the start of a path component\n"
    "  foo$       at the end of the path !foo   must not contain foo\n"
    "  a | b      either term            a/b    a term may span components\n"
    "A term with an uppercase letter matches case exactly; a term with an accent\n"
    "matches accents exactly. Otherwise case and accents are ignored.\n"
    "\n"
    "options:\n"
    "  -f, --filter QUERY   the query (required for now: the daemon is not built yet)\n"
    "  -n, --limit N        print at most N paths (default: every match)\n"
    "      --read0          input paths are separated by NUL bytes, not newlines\n"
    "  -0, --print0         separate output paths with NUL bytes\n"
    "      --scores         print each path's score and a tab before it\n"
    "      --color WHEN     highlight matched characters: auto (default), always, never\n"
    "  -h, --help           show this help\n"
    "\n"
    "exit status: 0 when a path matched, 1 when none did, 2 on an error.\n";

static int parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (!*s || *end || s[0] == '-')
		return -1;
	*out = (size_t)v;
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_READ0 = 256, OPT_SCORES, OPT_COLOR };
	static const struct option longopts[] = {
	    {"filter", required_argument, NULL, 'f'},
	    {"limit", required_argument, NULL, 'n'},
	    {"read0", no_argument, NULL, OPT_READ0},
	    {"print0", no_argument, NULL, '0'},
	    {"scores", no_argument, NULL, OPT_SCORES},
	    {"color", required_argument, NULL, OPT_COLOR},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct filter_options opts = {.color = COLOR_AUTO};
	int c;
	while ((c = getopt_long(argc, argv, "f:n:0h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			opts.query = optarg;
			break;
		case 'n':
			if (parse_size(optarg, &opts.limit) < 0) {
				fprintf(stderr, "trawl: --limit: not a count: '%s'\n", optarg);
				return 2;
			}
			break;
		case OPT_READ0:
			opts.is_read0 = 1;
			break;
		case '0':
			opts.is_print0 = 1;
			break;
		case OPT_SCORES:
			opts.is_scores = 1;
			break;
		case OPT_COLOR:
			if (!strcmp(optarg, "auto"))
				opts.color = COLOR_AUTO;
			else if (!strcmp(optarg, "always"))
				opts.color = COLOR_ALWAYS;
			else if (!strcmp(optarg, "never"))
				opts.color = COLOR_NEVER;
			else {
				fprintf(
				    stderr,
				    "trawl: --color: expected auto, always or never, not '%s'\n",
				    optarg);
				return 2;
			}
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs("Try 'trawl --help'.\n", stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
			"trawl: unexpected argument '%s' (queries need the daemon, which "
			"is not built yet; use --filter QUERY)\n",
			argv[optind]);
		return 2;
	}
	if (!opts.query) {
		fputs("trawl: --filter QUERY is required\nTry 'trawl --help'.\n", stderr);
		return 2;
	}
	return filter_run(&opts);
}
