/* prefilter.c: cuts the benchmark corpus down, per query, to the lines any fuzzy finder
 * could match, so that every tool can be run on the same small input (bench/README.md).
 * Usage: prefilter CORPUS [OUT]; reads "QUERY" or "QUERY<TAB>OUT" lines on stdin. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A line is kept when it contains a byte >= 0x80: no tool's Unicode case folding or
 * normalization can then be cut off by an ASCII-only test. */
#define MASK_NON_ASCII (UINT64_C(1) << 63)

/* Bytes of one output buffer: the subsets reach hundreds of megabytes. */
#define OUT_BUFFER_BYTES (1 << 20)

struct corpus {
	char *text;	 /* every line, each ending in '\n' */
	size_t *starts;	 /* starts[i] is the offset of line i; starts[n_lines] the end */
	uint64_t *masks; /* masks[i]: char_bit() of every byte of line i, lowercased */
	size_t n_lines;
};

/* A necessary condition for matching, one term per element: the term's ASCII bytes,
 * lowercased, must occur in this order in the lowercased line. */
struct term {
	const char *bytes;
	size_t len;
};

static unsigned char lower_ascii(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* A 64-bit summary of which bytes a line has: a line is a candidate only if its mask
 * covers the query's, which rejects most lines without looking at their bytes. */
static uint64_t char_bit(unsigned char c)
{
	if (c >= 0x80)
		return MASK_NON_ASCII;
	c = lower_ascii(c);
	if (c >= 'a' && c <= 'z')
		return UINT64_C(1) << (c - 'a');
	if (c >= '0' && c <= '9')
		return UINT64_C(1) << (26 + c - '0');
	return UINT64_C(1) << (36 + c % 27); /* bits 36..62 */
}

static void corpus_release(struct corpus *c)
{
	free(c->text);
	free(c->starts);
	free(c->masks);
	*c = (struct corpus){0};
}

/* Read the whole file at `path` into `c->text`, ending it in '\n'. */
static int corpus_read(struct corpus *c, const char *path, size_t *size)
{
	int err = 0;
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto out;
	}
	*size = (size_t)st.st_size;
	c->text = malloc(*size + 1);
	if (!c->text) {
		err = -ENOMEM;
		goto out;
	}
	size_t got = 0;
	while (got < *size) {
		ssize_t n = read(fd, c->text + got, *size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			goto out;
		}
		got += (size_t)n;
	}
	if (*size > 0 && c->text[*size - 1] != '\n')
		c->text[(*size)++] = '\n';
out:
	close(fd);
	return err;
}

/* Load the corpus at `path` into `c`: its text, line offsets and masks. Returns 0 or
 * -errno; on failure `c` owns nothing. */
static int corpus_load(struct corpus *c, const char *path)
{
	size_t size = 0;
	int err = corpus_read(c, path, &size);
	if (err < 0)
		goto err;

	size_t n_lines = 0;
	for (size_t i = 0; i < size; i++)
		n_lines += c->text[i] == '\n';
	c->starts = malloc((n_lines + 1) * sizeof(*c->starts));
	c->masks = malloc((n_lines + 1) * sizeof(*c->masks));
	if (!c->starts || !c->masks) {
		err = -ENOMEM;
		goto err;
	}

	size_t line = 0;
	uint64_t mask = 0;
	c->starts[0] = 0;
	for (size_t i = 0; i < size; i++) {
		unsigned char ch = (unsigned char)c->text[i];
		if (ch == '\n') {
			c->masks[line++] = mask;
			c->starts[line] = i + 1;
			mask = 0;
		} else {
			mask |= char_bit(ch);
		}
	}
	c->n_lines = n_lines;
	return 0;
err:
	corpus_release(c);
	return err;
}

/* Whether the ASCII bytes of `t`, lowercased, occur in order in `s`, lowercased. */
static int is_subsequence(const struct term *t, const char *s, size_t len)
{
	size_t j = 0;
	for (size_t i = 0; i < len && j < t->len; i++)
		if (lower_ascii((unsigned char)s[i]) == (unsigned char)t->bytes[j])
			j++;
	return j == t->len;
}

/*
 * Split `query` in place into terms that every matching line must satisfy, and OR their
 * bytes' char_bit() into `*mask`. The operators of fzf and trawl are read so that the
 * condition stays necessary: `!x` constrains nothing, `'x`, `^x` and `x$` need at least
 * the bytes of x, and a backslash (trawl's escape, fzf's escaped space) is never
 * required. A `|` term makes the query an OR: then no term is kept and every line
 * passes. Non-ASCII bytes are dropped (see MASK_NON_ASCII). Returns the number of
 * terms, or -E2BIG past `cap`.
 */
static int query_parse(char *query, struct term *terms, size_t cap, uint64_t *mask)
{
	size_t n = 0;
	*mask = 0;
	for (char *tok = strtok(query, " \t"); tok; tok = strtok(NULL, " \t")) {
		size_t len = strlen(tok);
		if (strcmp(tok, "|") == 0) {
			*mask = 0;
			return 0;
		}
		if (tok[0] == '!')
			continue;
		if (len > 1 && tok[len - 1] == '$')
			len--;
		if (tok[0] == '\'' || tok[0] == '^') {
			tok++;
			len = len > 0 ? len - 1 : 0;
		}
		size_t kept = 0;
		for (size_t i = 0; i < len; i++) {
			unsigned char ch = (unsigned char)tok[i];
			if (ch < 0x80 && ch != '\\') {
				tok[kept++] = (char)lower_ascii(ch);
				*mask |= char_bit(ch);
			}
		}
		if (kept == 0)
			continue;
		if (n == cap)
			return -E2BIG;
		terms[n].bytes = tok;
		terms[n].len = kept;
		n++;
	}
	return (int)n;
}

static int is_candidate(const struct corpus *c, size_t line, const struct term *terms,
			size_t n_terms, uint64_t query_mask)
{
	uint64_t mask = c->masks[line];
	if (mask & MASK_NON_ASCII)
		return 1;
	if ((mask & query_mask) != query_mask)
		return 0;
	const char *s = c->text + c->starts[line];
	size_t len = c->starts[line + 1] - c->starts[line] - 1;
	for (size_t t = 0; t < n_terms; t++)
		if (!is_subsequence(&terms[t], s, len))
			return 0;
	return 1;
}

/* Write the candidates of one query to `out_path`, in corpus order; returns how many
 * lines were written or -errno. */
static long long write_subset(const struct corpus *c, const struct term *terms, size_t n_terms,
			      uint64_t query_mask, const char *out_path)
{
	FILE *out = fopen(out_path, "w");
	if (!out)
		return -errno;
	static char buffer[OUT_BUFFER_BYTES];
	setvbuf(out, buffer, _IOFBF, sizeof(buffer));
	long long count = 0;
	for (size_t i = 0; i < c->n_lines; i++) {
		if (!is_candidate(c, i, terms, n_terms, query_mask))
			continue;
		size_t len = c->starts[i + 1] - c->starts[i];
		if (fwrite(c->text + c->starts[i], 1, len, out) != len)
			break;
		count++;
	}
	int err = ferror(out) ? EIO : 0;
	if (fclose(out) != 0 && err == 0)
		err = errno;
	return err ? -err : count;
}

/* Answer one stdin line, "QUERY" or "QUERY<TAB>OUT", printing the subset's size; reports
 * and returns -1 on an error. */
static int serve_query(const struct corpus *c, char *line, const char *default_out)
{
	static struct term terms[256];
	const char *out_path = default_out;
	char *tab = strchr(line, '\t');
	if (tab) {
		*tab = '\0';
		out_path = tab + 1;
	}
	if (!out_path) {
		fprintf(stderr, "prefilter: no output file for query '%s'\n", line);
		return -1;
	}
	uint64_t query_mask;
	int n_terms = query_parse(line, terms, sizeof(terms) / sizeof(terms[0]), &query_mask);
	if (n_terms < 0) {
		fprintf(stderr, "prefilter: too many terms in a query\n");
		return -1;
	}
	long long count = write_subset(c, terms, (size_t)n_terms, query_mask, out_path);
	if (count < 0) {
		fprintf(stderr, "prefilter: write '%s': %s\n", out_path, strerror((int)-count));
		return -1;
	}
	printf("%lld\n", count);
	return fflush(stdout) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: prefilter CORPUS [OUT] < queries\n"
				"  each stdin line is QUERY or QUERY<TAB>OUT; the lines of CORPUS\n"
				"  that could match QUERY go to OUT, and their count to stdout\n");
		return 2;
	}
	struct corpus c = {0};
	int err = corpus_load(&c, argv[1]);
	if (err < 0) {
		fprintf(stderr, "prefilter: cannot load '%s': %s\n", argv[1], strerror(-err));
		return 1;
	}

	int status = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, stdin)) >= 0) {
		if (len > 0 && line[len - 1] == '\n')
			line[len - 1] = '\0';
		if (serve_query(&c, line, argc == 3 ? argv[2] : NULL) < 0) {
			status = 1;
			break;
		}
	}
	free(line);
	corpus_release(&c);
	return status;
}
