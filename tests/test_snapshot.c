/* test_snapshot.c: a saved and loaded index answers exactly as the one saved; a file that
 * is missing, foreign, truncated, corrupt or stale is refused without a crash; saving
 * replaces the old file atomically and keeps it when the disk is full. The layout below
 * is read from docs/INDEX_FORMAT.md, not from the library, so the tests check the doc. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "trawl_index.h"

/* ---- the format, as docs/INDEX_FORMAT.md describes it ---- */

#define FORMAT_VERSION	     3
#define HEADER_BYTES	     808
#define N_SECTIONS	     22
#define SECTION_TABLE_OFFSET 104

enum {
	AT_FORMAT_VERSION = 8,
	AT_BYTE_ORDER_MARK = 12,
	AT_HEADER_CRC32C = 20,
	AT_FILE_BYTES = 24,
	AT_N_ENTRIES = 32,
	AT_N_TRIGRAMS = 56,
	AT_ROARING_VERSION = 68,
	AT_FOLD_PROBE_CRC32C = 72,
	AT_N_DIRS = 76,
	AT_UTF8PROC_VERSION = 80,
	AT_N_DIR_ATTRS = 96,
	AT_N_DIR_CTIMES = 100,
};

enum {
	ENTRY_PARENT = 1,
	ENTRY_NAME_ID,
	SUBTREE_DIR_BITS,
	SUBTREE_DIR_RANK,
	SUBTREE_END,
	ENTRY_KIND,
	NAME_OFFSET,
	NAME_BYTES,
	NAME_ENTRIES_OFFSET,
	NAME_ENTRIES,
	CHAR_POSTING_INDEX,
	CHAR_POSTINGS,
	TRIGRAM_KEYS,
	TRIGRAM_POSTING_INDEX,
	TRIGRAM_POSTINGS,
	DIR_BITS,
	DIR_RANK,
	DIR_MTIME,
	DIR_ATTR_ID,
	DIR_ATTRS,
	DIR_CTIME_RANK,
	DIR_CTIME,
};

struct section_row {
	uint32_t id;
	uint32_t crc32c;
	uint64_t offset_bytes;
	uint64_t length_bytes;
	uint64_t reserved;
};

/* CRC32C, bit by bit: the reference the library's fast paths must agree with. */
static uint32_t crc32c_reference(const unsigned char *p, size_t n)
{
	uint32_t crc = 0xffffffffu;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
	}
	return ~crc;
}

static uint32_t get32(const unsigned char *buf, size_t at)
{
	uint32_t v;
	memcpy(&v, buf + at, sizeof(v));
	return v;
}

static void put32(unsigned char *buf, size_t at, uint32_t v)
{
	memcpy(buf + at, &v, sizeof(v));
}

static struct section_row section_of(const unsigned char *buf, int id)
{
	struct section_row row;
	memcpy(&row, buf + SECTION_TABLE_OFFSET + (size_t)(id - 1) * sizeof(row), sizeof(row));
	return row;
}

/* Make the checksums right again after an edit, so that only the checks that do not
 * rely on them can refuse the file. */
static void fix_checksums(unsigned char *buf)
{
	for (int id = 1; id <= N_SECTIONS; id++) {
		struct section_row row = section_of(buf, id);
		row.crc32c = crc32c_reference(buf + row.offset_bytes, (size_t)row.length_bytes);
		memcpy(buf + SECTION_TABLE_OFFSET + (size_t)(id - 1) * sizeof(row), &row,
		       sizeof(row));
	}
	put32(buf, AT_HEADER_CRC32C, 0);
	put32(buf, AT_HEADER_CRC32C, crc32c_reference(buf, HEADER_BYTES));
}

/* ---- files ---- */

struct fixture {
	char dir[64];
	char path[128]; /* the snapshot */
	char scratch[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	const char *tmp = getenv("TMPDIR");
	snprintf(f->dir, sizeof(f->dir), "%s/trawl-snapshot-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/index.snapshot", f->dir);
	snprintf(f->scratch, sizeof(f->scratch), "%s/scratch", f->dir);
	*state = f;
	return 0;
}

/* Remove the files of `dir` (one level: tests make no subdirectories but "sub"). */
static void empty_dir(const char *dir)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char p[512];
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (unlink(p) < 0)
			rmdir(p);
	}
	closedir(d);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	empty_dir(f->dir);
	rmdir(f->dir);
	free(f);
	return 0;
}

static unsigned char *file_read(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	unsigned char *buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

static void file_write(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

/* Names of the files in `dir`, other than `keep`, that a failed save could leave. */
static int count_other_files(const char *dir, const char *keep)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
		    strcmp(e->d_name, keep) != 0)
			n++;
	closedir(d);
	return n;
}

/* ---- indexes and their answers ---- */

/* Unicode in NFC and NFD, case and ß, scripts, invalid UTF-8, a listed directory. */
static const char sample_list[] =
    "/etc/nginx/nginx.conf\n"
    "/etc/nginx/conf.d/default.conf\n"
    "/etc/ssh/sshd_config\n"
    "/usr/bin/python3\n"
    "/usr/lib/python3/dist-packages/numpy/core/multiarray.py\n"
    "/usr/share/doc/Stra\303\237e/README\n"
    "/home/zo\xc3\xab/\xd0\x94\xd0\xbe\xd0\xba\xd1\x83\xd0\xbc\xd0\xb5\xd0\xbd\xd1\x82\xd1\x8b/"
    "\xd0\xbe\xd1\x82\xd1\x87\xd1\x91\xd1\x82.txt\n"
    "/home/zo\303\253/e\314\201cole/notes.md\n"
    "/home/zo\303\253/\303\251cole/plan.md\n"
    "/home/zo\xc3\xab/.bashrc\n"
    "/srv/data/\xff\xfe-raw/blob.bin\n"
    "/srv/data/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e/\xe3\x83\x95\xe3\x82\xa1\xe3\x82\xa4\xe3\x83"
    "\xab.txt\n"
    "/opt/\xce\xa3\xce\x91\xce\xa3/\xcf\x83\xce\xb1\xcf\x82.conf\n"
    "/var/log/syslog\n"
    "/var/log/nginx/access.log\n"
    "/tmp/empty dir/\n";

static struct trawl_index *build(const char *list, size_t len)
{
	struct trawl_index *ix = NULL;
	assert_int_equal(trawl_index_build_from_list(list, len, '\n', 2, &ix, NULL), 0);
	return ix;
}

/* ---- directory meta ---- */

/* Every live directory of an index, found through trawl_index_children(). */
struct dirs {
	char **paths;
	size_t n, cap;
	const char *parent; /* while listing one directory */
};

static int collect_dir(void *ctx, const char *name, size_t len, unsigned kind)
{
	struct dirs *d = ctx;
	if (kind != TRAWL_KIND_DIR)
		return 0;
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 64;
		d->paths = realloc(d->paths, d->cap * sizeof(*d->paths));
		assert_non_null(d->paths);
	}
	size_t n = strlen(d->parent);
	char *p = malloc(n + len + 2);
	assert_non_null(p);
	memcpy(p, d->parent, n);
	if (n > 1)
		p[n++] = '/';
	memcpy(p + n, name, len);
	p[n + len] = '\0';
	d->paths[d->n++] = p;
	return 0;
}

static void dirs_collect(struct trawl_index *ix, struct dirs *d)
{
	memset(d, 0, sizeof(*d));
	d->parent = "";
	collect_dir(d, "/", 1, TRAWL_KIND_DIR);
	for (size_t i = 0; i < d->n; i++) {
		d->parent = d->paths[i];
		assert_int_equal(
		    trawl_index_children(ix, d->parent, strlen(d->parent), collect_dir, d), 0);
	}
}

static void dirs_release(struct dirs *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->paths[i]);
	free(d->paths);
}

/* Meta made up from a path: times, owners and modes differ from one directory to the
 * next, and some ctimes differ from the mtime. */
static struct trawl_dir_meta meta_for(const char *path)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (const char *p = path; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
	struct trawl_dir_meta m = {0};
	m.mtime_ns = 1700000000000000000ll + (int64_t)(h % 1000000000000ull);
	m.ctime_ns = h % 3 == 0 ? m.mtime_ns + (int64_t)(h % 7) * 1000000000 + 1 : m.mtime_ns;
	m.mode = 040000 | (h & 8 ? 0755 : 0700);
	m.uid = 1000 + (uint32_t)(h % 3);
	m.gid = 100 + (uint32_t)(h % 2);
	return m;
}

/* Give every directory of `ix` its meta_for(), then fold it into the base. */
static void add_meta(struct trawl_index *ix)
{
	struct dirs d;
	dirs_collect(ix, &d);
	struct trawl_change *c = calloc(d.n, sizeof(*c));
	assert_non_null(c);
	for (size_t i = 0; i < d.n; i++)
		c[i] = (struct trawl_change){d.paths[i], strlen(d.paths[i]), TRAWL_CHANGE_META, 0,
					     meta_for(d.paths[i])};
	size_t ignored = 1;
	assert_int_equal(trawl_index_apply(ix, c, d.n, &ignored), 0);
	assert_int_equal(ignored, 0);
	assert_int_equal(trawl_index_rebuild(ix), 0);
	free(c);
	dirs_release(&d);
}

/* Every directory of `ix` has the meta meta_for() gives it. */
static void assert_meta(struct trawl_index *ix)
{
	struct dirs d;
	dirs_collect(ix, &d);
	assert_true(d.n > 10);
	for (size_t i = 0; i < d.n; i++) {
		struct trawl_dir_meta got, want = meta_for(d.paths[i]);
		assert_int_equal(trawl_index_dir_meta(ix, d.paths[i], strlen(d.paths[i]), &got), 0);
		assert_int_equal(got.mtime_ns, want.mtime_ns);
		assert_int_equal(got.ctime_ns, want.ctime_ns);
		assert_int_equal(got.mode, want.mode);
		assert_int_equal(got.uid, want.uid);
		assert_int_equal(got.gid, want.gid);
	}
	dirs_release(&d);
}

/* The sample, with meta on every directory (so every section of its snapshot has bytes). */
static struct trawl_index *build_sample(void)
{
	struct trawl_index *ix = build(sample_list, sizeof(sample_list) - 1);
	add_meta(ix);
	return ix;
}

static const char *const queries[] = {
    "",
    "nginx.conf",
    "conf",
    "'nginx",
    "^sys",
    "log$",
    "^.bashrc$",
    "stra\303\237e",
    "STRASSE",
    "ecole",
    "\303\251cole",
    "\xe6\x97\xa5\xe6\x9c\xac",
    "\xff",
    "py !numpy",
    "conf | log",
    "zo\xc3\xab",
    "\xcf\x83\xce\xb1\xcf\x82",
    "usr bin",
    "/",
    "raw blob",
    "zzz",
};

struct scope {
	const char *under;
	unsigned kinds;
	size_t limit;
};

static const struct scope scopes[] = {
    {NULL, 0, 0},
    {NULL, 0, 3},
    {"/home/zo\xc3\xab", 0, 0},
    {"/etc", TRAWL_KIND_FILE, 0},
    {NULL, TRAWL_KIND_DIR, 0},
};

static int search(struct trawl_index *ix, const char *text, const struct scope *sc,
		  struct trawl_results *r)
{
	struct trawl_query *q = NULL;
	assert_int_equal(trawl_query_parse(text, strlen(text), &q, NULL), 0);
	struct trawl_search_options opts = {
	    .limit = sc->limit,
	    .under = sc->under,
	    .under_len = sc->under ? strlen(sc->under) : 0,
	    .kinds = sc->kinds,
	};
	int rc = trawl_index_search(ix, q, &opts, r);
	trawl_query_free(q);
	return rc;
}

static void assert_same_results(const struct trawl_results *a, const struct trawl_results *b)
{
	assert_int_equal(a->n_matched, b->n_matched);
	assert_int_equal(a->n_items, b->n_items);
	for (size_t i = 0; i < a->n_items; i++) {
		assert_int_equal(a->items[i].path_len, b->items[i].path_len);
		assert_memory_equal(a->items[i].path, b->items[i].path, a->items[i].path_len);
		assert_int_equal(a->items[i].score, b->items[i].score);
		assert_int_equal(a->items[i].kind, b->items[i].kind);
	}
}

/* Every query in every scope: the same results, in the same order, from both. */
static void assert_same_answers(struct trawl_index *x, struct trawl_index *y)
{
	struct trawl_results a = {0}, b = {0};
	size_t n_nonempty = 0;
	for (size_t s = 0; s < sizeof(scopes) / sizeof(scopes[0]); s++)
		for (size_t k = 0; k < sizeof(queries) / sizeof(queries[0]); k++) {
			int rc = search(x, queries[k], &scopes[s], &a);
			assert_int_equal(search(y, queries[k], &scopes[s], &b), rc);
			assert_int_equal(rc, 0);
			assert_same_results(&a, &b);
			n_nonempty += a.n_items > 0;
		}
	assert_true(n_nonempty > 40); /* the comparison was not vacuous */
	trawl_results_release(&a);
	trawl_results_release(&b);
}

static size_t count_matches(struct trawl_index *ix, const char *text)
{
	struct trawl_results r = {0};
	static const struct scope everywhere = {NULL, 0, 0};
	assert_int_equal(search(ix, text, &everywhere, &r), 0);
	size_t n = (size_t)r.n_matched;
	trawl_results_release(&r);
	return n;
}

static void save_sample(const char *path)
{
	struct trawl_index *ix = build_sample();
	assert_int_equal(trawl_index_save(ix, path), 0);
	trawl_index_free(ix);
}

static void assert_refused(const char *path, int expected)
{
	struct trawl_index *ix = (struct trawl_index *)&ix; /* not NULL: load must clear it */
	assert_int_equal(trawl_index_load(path, 1, &ix), expected);
	assert_null(ix);
}

/* ---- round trips ---- */

static void should_answer_every_query_as_the_index_it_was_saved_from(void **state)
{
	struct fixture *f = *state;
	struct trawl_index *built = build_sample(), *loaded = NULL;
	assert_int_equal(trawl_index_save(built, f->path), 0);
	assert_int_equal(trawl_index_load(f->path, 2, &loaded), 0);
	assert_same_answers(built, loaded);
	assert_int_equal(count_matches(loaded, "\xff"), 2); /* the directory and its file */
	trawl_index_free(built);
	trawl_index_free(loaded);
}

/* A few thousand generated paths: a snapshot large enough to be loaded in parts. */
static struct trawl_index *build_larger(void)
{
	size_t cap = 1 << 20, len = 0;
	char *list = malloc(cap);
	assert_non_null(list);
	for (unsigned i = 0; i < 4000; i++)
		len += (size_t)snprintf(list + len, cap - len,
					"/srv/proj%u/m\303\263dulo%u/src/file_%u_%x.c\n", i % 37,
					i % 211, i, i * 2654435761u);
	struct trawl_index *ix = build(list, len);
	free(list);
	return ix;
}

static void should_load_the_same_index_with_any_number_of_threads(void **state)
{
	struct fixture *f = *state;
	struct trawl_index *built = build_larger();
	assert_int_equal(trawl_index_save(built, f->path), 0);
	struct stat st;
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(st.st_size > (off_t)1 << 18); /* split among threads, not loaded whole */
	static const char *const texts[] = {"", "file", "m\303\263dulo 7", "^src", "proj3 .c$"};
	static const unsigned threads[] = {0, 1, 2, 3, 16, 64};
	struct trawl_results a = {0}, b = {0};
	static const struct scope everywhere = {NULL, 0, 0};
	for (size_t i = 0; i < sizeof(threads) / sizeof(threads[0]); i++) {
		struct trawl_index *loaded = NULL;
		assert_int_equal(trawl_index_load(f->path, threads[i], &loaded), 0);
		for (size_t k = 0; k < sizeof(texts) / sizeof(texts[0]); k++) {
			assert_int_equal(search(built, texts[k], &everywhere, &a), 0);
			assert_int_equal(search(loaded, texts[k], &everywhere, &b), 0);
			assert_true(a.n_items > 0);
			assert_same_results(&a, &b);
		}
		trawl_index_free(loaded);
	}
	trawl_results_release(&a);
	trawl_results_release(&b);
	trawl_index_free(built);
}

static void should_report_the_same_figures_after_loading(void **state)
{
	struct fixture *f = *state;
	struct trawl_index *built = build_sample(), *loaded = NULL;
	assert_int_equal(trawl_index_save(built, f->path), 0);
	assert_int_equal(trawl_index_load(f->path, 2, &loaded), 0);
	struct trawl_index_stats a, b;
	trawl_index_stats(built, &a);
	trawl_index_stats(loaded, &b);
	assert_int_equal(a.n_entries, b.n_entries);
	assert_int_equal(a.n_base, b.n_base);
	assert_int_equal(a.n_names, b.n_names);
	assert_int_equal(a.n_trigrams, b.n_trigrams);
	assert_int_equal(a.store_bytes, b.store_bytes);
	assert_int_equal(b.n_delta + b.n_tombstones, 0);
	trawl_index_free(built);
	trawl_index_free(loaded);
}

static void should_write_the_same_bytes_when_a_loaded_index_is_saved_again(void **state)
{
	struct fixture *f = *state;
	save_sample(f->path);
	struct trawl_index *loaded = NULL;
	assert_int_equal(trawl_index_load(f->path, 1, &loaded), 0);
	assert_int_equal(trawl_index_save(loaded, f->scratch), 0);
	size_t n1, n2;
	unsigned char *a = file_read(f->path, &n1), *b = file_read(f->scratch, &n2);
	assert_int_equal(n1, n2);
	assert_memory_equal(a, b, n1);
	free(a);
	free(b);
	trawl_index_free(loaded);
}

static void should_agree_with_the_documented_checksums(void **state)
{
	struct fixture *f = *state;
	/* Large enough that every path of the fast CRC (blocks of 3 x 8 KiB and of
	 * 3 x 256 bytes, words, bytes) is compared with the reference. */
	struct trawl_index *ix = build_larger();
	assert_int_equal(trawl_index_save(ix, f->path), 0);
	trawl_index_free(ix);
	size_t len;
	unsigned char *buf = file_read(f->path, &len);
	assert_memory_equal(buf, "TRAWLIDX", 8);
	assert_int_equal(get32(buf, AT_FORMAT_VERSION), FORMAT_VERSION);
	assert_int_equal(get32(buf, AT_BYTE_ORDER_MARK), 0x01020304u);
	uint64_t file_bytes;
	memcpy(&file_bytes, buf + AT_FILE_BYTES, sizeof(file_bytes));
	assert_int_equal(file_bytes, len);
	int has_long_section = 0;
	for (int id = 1; id <= N_SECTIONS; id++) {
		struct section_row row = section_of(buf, id);
		assert_int_equal(row.id, id);
		assert_int_equal(row.offset_bytes % 64, 0);
		uint32_t crc = crc32c_reference(buf + row.offset_bytes, (size_t)row.length_bytes);
		assert_int_equal(row.crc32c, crc);
		has_long_section |= row.length_bytes >= (uint64_t)3 * 8192;
	}
	assert_true(has_long_section);
	uint32_t stored = get32(buf, AT_HEADER_CRC32C);
	put32(buf, AT_HEADER_CRC32C, 0);
	assert_int_equal(stored, crc32c_reference(buf, HEADER_BYTES));
	free(buf);
}

static void should_fold_changes_into_the_snapshot(void **state)
{
	struct fixture *f = *state;
	struct trawl_index *built = build_sample(), *loaded = NULL;
	const char added[] = "/srv/new/quixotic.txt";
	assert_int_equal(trawl_index_add(built, added, sizeof(added) - 1, TRAWL_KIND_FILE), 0);
	assert_int_equal(trawl_index_remove(built, "/var/log", 8), 0);
	assert_int_equal(trawl_index_save(built, f->path), 0);
	struct trawl_index_stats st;
	trawl_index_stats(built, &st);
	assert_int_equal(st.n_delta + st.n_tombstones, 0); /* saving rebuilt it */
	assert_int_equal(trawl_index_load(f->path, 2, &loaded), 0);
	assert_int_equal(count_matches(loaded, "quixotic"), 1);
	assert_int_equal(count_matches(loaded, "syslog"), 0);
	assert_same_answers(built, loaded);
	trawl_index_free(built);
	trawl_index_free(loaded);
}

static void should_keep_directory_meta_through_a_snapshot(void **state)
{
	struct fixture *f = *state;
	struct trawl_index *built = build_sample(), *loaded = NULL;
	assert_meta(built);
	assert_int_equal(trawl_index_save(built, f->path), 0);
	assert_int_equal(trawl_index_load(f->path, 2, &loaded), 0);
	assert_meta(loaded);
	/* Changed after loading, and folded again. */
	struct trawl_dir_meta m = {
	    .mtime_ns = 5, .ctime_ns = 6, .mode = 040711, .uid = 7, .gid = 8};
	const struct trawl_change c = {"/etc/nginx", 10, TRAWL_CHANGE_META, 0, m};
	assert_int_equal(trawl_index_apply(loaded, &c, 1, NULL), 0);
	assert_int_equal(trawl_index_save(loaded, f->scratch), 0);
	struct trawl_index *again = NULL;
	assert_int_equal(trawl_index_load(f->scratch, 1, &again), 0);
	struct trawl_dir_meta got;
	assert_int_equal(trawl_index_dir_meta(again, "/etc/nginx", 10, &got), 0);
	assert_int_equal(got.mtime_ns, 5);
	assert_int_equal(got.ctime_ns, 6);
	assert_int_equal(got.mode, 040711);
	assert_int_equal(got.uid, 7);
	assert_int_equal(got.gid, 8);
	trawl_index_free(again);
	trawl_index_free(built);
	trawl_index_free(loaded);
}

static void should_keep_many_distinct_owners_through_a_snapshot(void **state)
{
	struct fixture *f = *state;
	/* More distinct (mode, uid, gid) triples than two-byte indices can tell apart. */
	enum { N = 70000 };
	size_t cap = (size_t)N * 24, len = 0;
	char *list = malloc(cap);
	assert_non_null(list);
	for (unsigned i = 0; i < N; i++)
		len += (size_t)snprintf(list + len, cap - len, "/h/u%u/\n", i);
	struct trawl_index *ix = build(list, len);
	struct trawl_change *c = calloc(N, sizeof(*c));
	char *paths = malloc(cap);
	assert_non_null(c);
	assert_non_null(paths);
	size_t at = 0;
	for (unsigned i = 0; i < N; i++) {
		int n = snprintf(paths + at, cap - at, "/h/u%u", i);
		struct trawl_dir_meta m = {i, i, 040700, 1000 + i, 1000 + i};
		c[i] = (struct trawl_change){paths + at, (size_t)n, TRAWL_CHANGE_META, 0, m};
		at += (size_t)n + 1;
	}
	assert_int_equal(trawl_index_apply(ix, c, N, NULL), 0);
	assert_int_equal(trawl_index_save(ix, f->path), 0);
	struct trawl_index *loaded = NULL;
	assert_int_equal(trawl_index_load(f->path, 2, &loaded), 0);
	for (unsigned i = 0; i < N; i += 997) {
		struct trawl_dir_meta got;
		assert_int_equal(trawl_index_dir_meta(loaded, c[i].path, c[i].len, &got), 0);
		assert_int_equal(got.mtime_ns, i);
		assert_int_equal(got.uid, 1000 + i);
	}
	trawl_index_free(loaded);
	trawl_index_free(ix);
	free(c);
	free(paths);
	free(list);
}

static void should_let_a_loaded_index_change_and_rebuild(void **state)
{
	struct fixture *f = *state;
	save_sample(f->path);
	struct trawl_index *loaded = NULL;
	assert_int_equal(trawl_index_load(f->path, 2, &loaded), 0);
	const char added[] = "/etc/nginx/sites-enabled/quixotic";
	assert_int_equal(trawl_index_add(loaded, added, sizeof(added) - 1, TRAWL_KIND_FILE), 0);
	assert_int_equal(trawl_index_remove(loaded, "/etc/ssh", 8), 0);
	assert_int_equal(count_matches(loaded, "quixotic"), 1);
	assert_int_equal(count_matches(loaded, "sshd_config"), 0);
	/* The rebuild drops the mapped base: the new one lives on the heap. */
	assert_int_equal(trawl_index_rebuild(loaded), 0);
	assert_int_equal(count_matches(loaded, "quixotic"), 1);
	assert_int_equal(count_matches(loaded, "sshd_config"), 0);
	assert_int_equal(count_matches(loaded, "multiarray"), 1);
	trawl_index_free(loaded);
}

/* ---- files that are not good snapshots ---- */

static void should_reject_a_missing_file(void **state)
{
	struct fixture *f = *state;
	assert_refused(f->path, -ENOENT);
}

static void should_reject_an_empty_file(void **state)
{
	struct fixture *f = *state;
	file_write(f->path, "", 0);
	assert_refused(f->path, -EINVAL);
}

static void should_reject_a_directory(void **state)
{
	struct fixture *f = *state;
	assert_refused(f->dir, -EINVAL);
}

static void should_reject_a_fifo_without_waiting_for_a_writer(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(mkfifo(f->path, 0600), 0);
	assert_refused(f->path, -EINVAL);
}

static void should_reject_a_file_that_is_not_a_snapshot(void **state)
{
	struct fixture *f = *state;
	file_write(f->path, sample_list, sizeof(sample_list) - 1);
	assert_refused(f->path, -EINVAL);
}

static void should_reject_a_wrong_magic(void **state)
{
	struct fixture *f = *state;
	save_sample(f->path);
	size_t len;
	unsigned char *buf = file_read(f->path, &len);
	buf[7] = 'Y'; /* TRAWLIDY */
	fix_checksums(buf);
	file_write(f->path, buf, len);
	assert_refused(f->path, -EINVAL);
	free(buf);
}

static void should_reject_a_future_version(void **state)
{
	struct fixture *f = *state;
	save_sample(f->path);
	size_t len;
	unsigned char *buf = file_read(f->path, &len);
	put32(buf, AT_FORMAT_VERSION, FORMAT_VERSION + 1);
	fix_checksums(buf); /* the version alone must be enough to refuse it */
	file_write(f->path, buf, len);
	assert_refused(f->path, -EINVAL);
	free(buf);
}

static void should_reject_the_previous_version(void **state)
{
	struct fixture *f = *state;
	save_sample(f->path);
	size_t len;
	unsigned char *buf = file_read(f->path, &len);
	put32(buf, AT_FORMAT_VERSION, FORMAT_VERSION - 1);
	fix_checksums(buf);
	file_write(f->path, buf, len);
	assert_refused(f->path, -EINVAL);
	free(buf);
}

static void should_reject_the_other_byte_order(void **state)
{
	struct fixture *f = *state;
	save_sample(f->path);
	size_t len;
	unsigned char *buf = file_read(f->path, &len);
	put32(buf, AT_BYTE_ORDER_MARK, 0x04030201u);
	fix_checksums(buf);
	file_write(f->path, buf, len);
	assert_refused(f->path, -EINVAL);
	free(buf);
}

static void should_reject_a_snapshot_made_with_other_libraries_or_folding(void **state)
{
	struct fixture *f = *state;
	save_sample(f->path);
	size_t len;
	unsigned char *good = file_read(f->path, &len);
	static const size_t fields[] = {AT_ROARING_VERSION, AT_FOLD_PROBE_CRC32C,
					AT_UTF8PROC_VERSION};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		unsigned char *buf = malloc(len);
		assert_non_null(buf);
		memcpy(buf, good, len);
		buf[fields[i]] ^= 0x01;
		fix_checksums(buf);
		file_write(f->scratch, buf, len);
		assert_refused(f->scratch, -EINVAL);
		free(buf);
	}
	free(good);
}

static void should_reject_a_truncated_file(void **state)
{
	struct fixture *f = *state;
	save_sample(f->path);
	size_t len;
	unsigned char *buf = file_read(f->path, &len);
	file_write(f->scratch, buf, len);
	/* Every length, from one byte short down to nothing. */
	for (size_t n = len; n-- > 0;) {
		assert_int_equal(truncate(f->scratch, (off_t)n), 0);
		assert_refused(f->scratch, -EINVAL);
	}
	free(buf);
}

static void should_reject_bytes_appended_to_a_snapshot(void **state)
{
	struct fixture *f = *state;
	save_sample(f->path);
	size_t len;
	unsigned char *buf = file_read(f->path, &len);
	unsigned char *longer = calloc(1, len + 64);
	assert_non_null(longer);
	memcpy(longer, buf, len);
	file_write(f->scratch, longer, len + 64);
	assert_refused(f->scratch, -EINVAL);
	free(longer);
	free(buf);
}

static void flip_and_expect_refusal(struct fixture *f, const unsigned char *buf, size_t at)
{
	int fd = open(f->scratch, O_WRONLY);
	assert_true(fd >= 0);
	unsigned char flipped = buf[at] ^ 0x10;
	assert_int_equal(pwrite(fd, &flipped, 1, (off_t)at), 1);
	assert_refused(f->scratch, -EINVAL);
	assert_int_equal(pwrite(fd, &buf[at], 1, (off_t)at), 1);
	close(fd);
}

static void should_reject_a_flipped_byte_in_each_section(void **state)
{
	struct fixture *f = *state;
	save_sample(f->path);
	size_t len;
	unsigned char *buf = file_read(f->path, &len);
	file_write(f->scratch, buf, len);
	for (int id = 1; id <= N_SECTIONS; id++) {
		struct section_row row = section_of(buf, id);
		assert_true(row.length_bytes > 0);
		size_t first = (size_t)row.offset_bytes,
		       last = first + (size_t)row.length_bytes - 1;
		flip_and_expect_refusal(f, buf, first);
		flip_and_expect_refusal(f, buf, first + (last - first) / 2);
		flip_and_expect_refusal(f, buf, last);
	}
	free(buf);
}

static void should_reject_a_flipped_byte_anywhere(void **state)
{
	struct fixture *f = *state;
	save_sample(f->path);
	size_t len;
	unsigned char *buf = file_read(f->path, &len);
	file_write(f->scratch, buf, len);
	/* Every byte: no byte of a file goes unchecked, padding included. */
	for (size_t at = 0; at < len; at++)
		flip_and_expect_refusal(f, buf, at);
	/* Still intact after all that. */
	struct trawl_index *ix = NULL;
	assert_int_equal(trawl_index_load(f->scratch, 1, &ix), 0);
	trawl_index_free(ix);
	free(buf);
}

/* One structural edit that a checksum would catch, made with the checksums fixed. */
struct damage {
	const char *what;
	size_t item; /* index of the uint32 to set, or of the byte for ENTRY_KIND */
	int section;
	uint32_t value;
};

static void should_reject_structural_damage_even_with_valid_checksums(void **state)
{
	struct fixture *f = *state;
	save_sample(f->path);
	size_t len;
	unsigned char *good = file_read(f->path, &len);
	uint32_t n_entries = get32(good, AT_N_ENTRIES);
	struct section_row names = section_of(good, NAME_OFFSET);
	uint32_t n_names = (uint32_t)(names.length_bytes / 4 - 1);
	/* The first file, the second directory, and the halves of the directory bitmap's
	 * first and last words (uint32 items 0, 2 w and 2 w + 1 of the section). */
	const unsigned char *kinds = good + section_of(good, ENTRY_KIND).offset_bytes;
	uint32_t file = 0, dir1 = 1;
	while (kinds[file] != TRAWL_KIND_FILE)
		file++;
	while (kinds[dir1] != TRAWL_KIND_DIR)
		dir1++;
	size_t bits = (size_t)section_of(good, SUBTREE_DIR_BITS).offset_bytes;
	size_t last_high = 2 * (size_t)((n_entries - 1) / 64) + 1;
	assert_true(file < 32 && file < n_entries - 1 && n_entries % 64 != 0);
	uint32_t swapped = (get32(good, bits) | 1u << file) & ~1u;
	uint32_t past_last = get32(good, bits + 4 * last_high) | 1u << 31;
	const struct damage damages[] = {
	    {"a root that has a parent", 0, ENTRY_PARENT, 0},
	    {"a parent past the end", 3, ENTRY_PARENT, n_entries + 7},
	    {"a parent after its child (a cycle)", 3, ENTRY_PARENT, 3},
	    {"a second root", 5, ENTRY_PARENT, UINT32_MAX},
	    {"a name id past the end", 2, ENTRY_NAME_ID, n_names},
	    {"a parent that is a file", n_entries - 1, ENTRY_PARENT, file},
	    {"a subtree ending past the store", 0, SUBTREE_END, n_entries + 1},
	    {"a subtree ending before it starts", 1, SUBTREE_END, dir1},
	    {"a file marked as a directory in the subtrees", 0, SUBTREE_DIR_BITS, swapped},
	    {"a directory bit past the last entry", last_high, SUBTREE_DIR_BITS, past_last},
	    {"a count of directories before a word that is off", 0, SUBTREE_DIR_RANK, 1},
	    {"a kind that is none", 2, ENTRY_KIND, 0x40},
	    {"name offsets going backwards", 3, NAME_OFFSET, 0},
	    {"name offsets past the name bytes", n_names, NAME_OFFSET, 1u << 30},
	    {"name entries offsets going backwards", 2, NAME_ENTRIES_OFFSET, 0},
	    {"an entry of a name past the end", 6, NAME_ENTRIES, n_entries},
	    /* Rows are four uint32s: offset (low, high), length (low, high). */
	    {"a posting row past its section", (size_t)4 * 'o', CHAR_POSTING_INDEX, 1u << 30},
	    {"a posting row off alignment", (size_t)4 * 'n', CHAR_POSTING_INDEX, 8},
	    {"a trigram slot emptied", 0, TRIGRAM_KEYS, 0},
	};
	for (size_t i = 0; i < sizeof(damages) / sizeof(damages[0]); i++) {
		const struct damage *d = &damages[i];
		unsigned char *buf = malloc(len);
		assert_non_null(buf);
		memcpy(buf, good, len);
		struct section_row row = section_of(buf, d->section);
		if (d->section == ENTRY_KIND) {
			buf[row.offset_bytes + d->item] = (unsigned char)d->value;
		} else if (d->section == TRIGRAM_KEYS) {
			/* Empty the first used slot: the table no longer holds n_trigrams keys. */
			size_t k = 0;
			while (get32(buf, (size_t)row.offset_bytes + 4 * k) == 0)
				k++;
			put32(buf, (size_t)row.offset_bytes + 4 * k, 0);
		} else {
			assert_true(4 * d->item < row.length_bytes);
			put32(buf, (size_t)row.offset_bytes + 4 * d->item, d->value);
		}
		fix_checksums(buf);
		file_write(f->scratch, buf, len);
		struct trawl_index *ix = NULL;
		int rc = trawl_index_load(f->scratch, 1, &ix);
		if (rc != -EINVAL)
			print_error("accepted %s\n", d->what);
		assert_int_equal(rc, -EINVAL);
		assert_null(ix);
		free(buf);
	}
	free(good);
}

/* One edit of the directory meta, checksums fixed: `at` is a byte offset in section
 * `section`, `bytes` wide. */
struct meta_damage {
	const char *what;
	int section;
	size_t at;
	unsigned bytes;
	uint64_t value;
};

static uint64_t get_n(const unsigned char *buf, size_t at, unsigned bytes)
{
	uint64_t v = 0;
	memcpy(&v, buf + at, bytes);
	return v;
}

static void should_reject_damaged_directory_meta_even_with_valid_checksums(void **state)
{
	struct fixture *f = *state;
	save_sample(f->path);
	size_t len;
	unsigned char *good = file_read(f->path, &len);
	uint32_t n_entries = get32(good, AT_N_ENTRIES), n_dirs = get32(good, AT_N_DIRS);
	uint32_t n_attrs = get32(good, AT_N_DIR_ATTRS), n_ctimes = get32(good, AT_N_DIR_CTIMES);
	assert_true(n_entries < 512 && n_dirs > 3 && n_attrs > 1 && n_ctimes > 1);
	/* A file's bit set and a directory's cleared: the counts still add up, only the
	 * kinds tell. Entry 0 is the root, a directory; find a file. */
	struct section_row kinds = section_of(good, ENTRY_KIND);
	size_t file = 0;
	while (good[kinds.offset_bytes + file] != TRAWL_KIND_FILE)
		file++;
	size_t bits = (size_t)section_of(good, DIR_BITS).offset_bytes;
	size_t last = (size_t)8 * ((n_entries - 1) / 64);
	uint64_t word0 = get_n(good, bits, 8), word_last = get_n(good, bits + last, 8);
	assert_true(file < 64 && n_entries % 64 != 0);
	uint64_t swapped = (word0 | 1ull << file) & ~1ull;
	uint32_t rank1 = get32(good, (size_t)section_of(good, DIR_CTIME_RANK).offset_bytes + 4);
	const struct meta_damage damages[] = {
	    {"a file marked as a directory", DIR_BITS, 0, 8, swapped},
	    {"a bit past the last entry", DIR_BITS, last, 8, word_last | 1ull << 63},
	    {"a count of directories that is off", DIR_RANK, 0, 4, 1},
	    {"an owner past the table", DIR_ATTR_ID, 0, 2, n_attrs},
	    {"ctimes out of order", DIR_CTIME_RANK, 0, 4, rank1},
	    {"a ctime of no directory", DIR_CTIME_RANK, 4 * ((size_t)n_ctimes - 1), 4, n_dirs},
	};
	for (size_t i = 0; i < sizeof(damages) / sizeof(damages[0]); i++) {
		const struct meta_damage *d = &damages[i];
		unsigned char *buf = malloc(len);
		assert_non_null(buf);
		memcpy(buf, good, len);
		struct section_row row = section_of(buf, d->section);
		assert_true(d->at + d->bytes <= row.length_bytes);
		memcpy(buf + row.offset_bytes + d->at, &d->value, d->bytes);
		fix_checksums(buf);
		file_write(f->scratch, buf, len);
		struct trawl_index *ix = NULL;
		int rc = trawl_index_load(f->scratch, 1, &ix);
		if (rc != -EINVAL)
			print_error("accepted %s\n", d->what);
		assert_int_equal(rc, -EINVAL);
		assert_null(ix);
		free(buf);
	}
	free(good);
}

/* ---- saving ---- */

static void should_replace_an_existing_snapshot_atomically(void **state)
{
	struct fixture *f = *state;
	save_sample(f->path);
	struct stat before, after;
	assert_int_equal(stat(f->path, &before), 0);
	/* An index using the old file keeps answering from it while it is replaced. */
	struct trawl_index *old = NULL, *fresh = NULL;
	assert_int_equal(trawl_index_load(f->path, 1, &old), 0);
	const char other[] = "/only/in/the/second/quixotic.txt\n";
	struct trawl_index *second = build(other, sizeof(other) - 1);
	assert_int_equal(trawl_index_save(second, f->path), 0);
	assert_int_equal(stat(f->path, &after), 0);
	assert_true(before.st_ino != after.st_ino); /* renamed over, not rewritten */
	assert_int_equal(count_other_files(f->dir, "index.snapshot"), 0);
	assert_int_equal(count_matches(old, "multiarray"), 1);
	assert_int_equal(count_matches(old, "quixotic"), 0);
	assert_int_equal(trawl_index_load(f->path, 1, &fresh), 0);
	assert_int_equal(count_matches(fresh, "multiarray"), 0);
	assert_int_equal(count_matches(fresh, "quixotic"), 1);
	assert_true((after.st_mode & 0777) == 0600);
	trawl_index_free(old);
	trawl_index_free(fresh);
	trawl_index_free(second);
}

static void should_leave_nothing_behind_when_saving_fails(void **state)
{
	struct fixture *f = *state;
	struct trawl_index *ix = build_sample();
	char missing[192];
	snprintf(missing, sizeof(missing), "%s/no/such/dir/index.snapshot", f->dir);
	assert_int_equal(trawl_index_save(ix, missing), -ENOENT);
	/* `path` is a directory: the rename fails, the temporary file goes. */
	char sub[192];
	snprintf(sub, sizeof(sub), "%s/sub", f->dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(trawl_index_save(ix, sub), -EISDIR);
	assert_int_equal(count_other_files(f->dir, "sub"), 0);
	assert_int_equal(rmdir(sub), 0);
	trawl_index_free(ix);
}

static void should_report_a_full_disk_and_keep_the_old_snapshot(void **state)
{
	struct fixture *f = *state;
	/* Size a tmpfs so that one snapshot fits and a second, written beside it before
	 * the rename, does not. */
	save_sample(f->scratch);
	struct stat st;
	assert_int_equal(stat(f->scratch, &st), 0);
	assert_int_equal(unlink(f->scratch), 0);
	if (geteuid() != 0) {
		print_message("skipped: mounting a small tmpfs needs root\n");
		skip();
	}
	char mnt[128], opts[64], path[192];
	snprintf(mnt, sizeof(mnt), "%s/sub", f->dir);
	assert_int_equal(mkdir(mnt, 0700), 0);
	snprintf(opts, sizeof(opts), "size=%lld", (long long)st.st_size * 3 / 2);
	if (mount("tmpfs", mnt, "tmpfs", 0, opts) < 0) {
		print_message("skipped: cannot mount a tmpfs: %s\n", strerror(errno));
		rmdir(mnt);
		skip();
	}
	snprintf(path, sizeof(path), "%s/index.snapshot", mnt);
	struct trawl_index *ix = build_sample(), *loaded = NULL;
	assert_int_equal(trawl_index_save(ix, path), 0);
	assert_int_equal(trawl_index_save(ix, path), -ENOSPC);
	assert_int_equal(count_other_files(mnt, "index.snapshot"), 0);
	assert_int_equal(trawl_index_load(path, 1, &loaded), 0);
	assert_same_answers(ix, loaded);
	trawl_index_free(loaded);
	trawl_index_free(ix);
	assert_int_equal(umount2(mnt, MNT_DETACH), 0);
	assert_int_equal(rmdir(mnt), 0);
}

/* Every test gets a fresh temporary directory. */
#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(should_answer_every_query_as_the_index_it_was_saved_from),
	    TEST(should_load_the_same_index_with_any_number_of_threads),
	    TEST(should_report_the_same_figures_after_loading),
	    TEST(should_write_the_same_bytes_when_a_loaded_index_is_saved_again),
	    TEST(should_agree_with_the_documented_checksums),
	    TEST(should_fold_changes_into_the_snapshot),
	    TEST(should_keep_directory_meta_through_a_snapshot),
	    TEST(should_keep_many_distinct_owners_through_a_snapshot),
	    TEST(should_let_a_loaded_index_change_and_rebuild),
	    TEST(should_reject_a_missing_file),
	    TEST(should_reject_an_empty_file),
	    TEST(should_reject_a_directory),
	    TEST(should_reject_a_fifo_without_waiting_for_a_writer),
	    TEST(should_reject_a_file_that_is_not_a_snapshot),
	    TEST(should_reject_a_wrong_magic),
	    TEST(should_reject_a_future_version),
	    TEST(should_reject_the_previous_version),
	    TEST(should_reject_the_other_byte_order),
	    TEST(should_reject_a_snapshot_made_with_other_libraries_or_folding),
	    TEST(should_reject_a_truncated_file),
	    TEST(should_reject_bytes_appended_to_a_snapshot),
	    TEST(should_reject_a_flipped_byte_in_each_section),
	    TEST(should_reject_a_flipped_byte_anywhere),
	    TEST(should_reject_structural_damage_even_with_valid_checksums),
	    TEST(should_reject_damaged_directory_meta_even_with_valid_checksums),
	    TEST(should_replace_an_existing_snapshot_atomically),
	    TEST(should_leave_nothing_behind_when_saving_fails),
	    TEST(should_report_a_full_disk_and_keep_the_old_snapshot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
