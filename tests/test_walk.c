/* test_walk.c: the filesystem walker on temporary trees: listings, symlinks, odd names,
 * pruning, both backends, incremental walks, deep trees, errors, cancellation, and
 * updatedb.conf parsing. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "walk.h"

/* ---------------------------------------------------------------------------------------
 * Temporary trees
 */

static char *make_root_in(const char *tmp)
{
	char tmpl[PATH_MAX];
	snprintf(tmpl, sizeof(tmpl), "%s/trawl-walk-XXXXXX", tmp);
	char *root = mkdtemp(tmpl);
	assert_non_null(root);
	return strdup(root);
}

static char *make_root(void)
{
	const char *tmp = getenv("TMPDIR");
	return make_root_in(tmp && *tmp ? tmp : "/tmp");
}

static void mk_dir(const char *root, const char *rel)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	assert_int_equal(mkdir(p, 0755), 0);
}

static void mk_file(const char *root, const char *rel)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
}

static void mk_link(const char *root, const char *target, const char *rel)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	assert_int_equal(symlink(target, p), 0);
}

/* Remove everything under the directory open at `dfd`, then `name` in `parent`. Deep
 * chains are first shortened from the top (rename the grandchild up, remove the child),
 * so that neither recursion nor paths grow with the depth. */
static void remove_at(int parent, const char *name)
{
	int dfd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		unlinkat(parent, name, 0);
		return;
	}
	fchmod(dfd, 0755);
	DIR *d = fdopendir(dfd);
	assert_non_null(d);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		names[n++] = strdup(e->d_name);
	}
	for (size_t i = 0; i < n; i++) {
		/* A child with a single subdirectory: pull that up until the chain is gone. */
		for (;;) {
			int c = openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
			if (c < 0)
				break;
			int is_chain = faccessat(c, "d", F_OK, AT_SYMLINK_NOFOLLOW) == 0;
			if (is_chain && renameat(c, "d", dfd, ".chain") == 0) {
				remove_at(dfd, names[i]);
				assert_int_equal(renameat(dfd, ".chain", dfd, names[i]), 0);
				close(c);
				continue;
			}
			close(c);
			break;
		}
		remove_at(dfd, names[i]);
		free(names[i]);
	}
	free(names);
	closedir(d);
	assert_int_equal(unlinkat(parent, name, AT_REMOVEDIR), 0);
}

static void remove_root(char *root)
{
	remove_at(AT_FDCWD, root);
	free(root);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

/* ---------------------------------------------------------------------------------------
 * Recording walks
 */

struct seen {
	char **lines; /* "dir <path>" and "<kind> <path>/<name>" */
	size_t n, cap;
	char **dirs; /* reported directories, in order */
	size_t n_dirs;
	size_t n_unchanged;
	int stop_after; /* > 0: set `stop` after this many directories */
	_Atomic int stop;
	int fail_with; /* non-zero: return it from the first call */
};

static void add_line(struct seen *s, const char *a, size_t alen, const char *b, size_t blen,
		     const char *c, size_t clen)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->lines = realloc(s->lines, s->cap * sizeof(*s->lines));
		assert_non_null(s->lines);
	}
	char *l = malloc(alen + blen + clen + 1);
	memcpy(l, a, alen);
	memcpy(l + alen, b, blen);
	memcpy(l + alen + blen, c, clen);
	l[alen + blen + clen] = '\0';
	s->lines[s->n++] = l;
}

static const char *kind_name(unsigned kind)
{
	return kind == TRAWL_KIND_DIR ? "d " : kind == TRAWL_KIND_LINK ? "l " : "f ";
}

static int record_dir(void *ctx, const struct walk_dir *d)
{
	struct seen *s = ctx;
	assert_int_equal(strlen(d->path), d->path_len);
	add_line(s, "dir ", 4, d->path, d->path_len, "", 0);
	s->dirs = realloc(s->dirs, (s->n_dirs + 1) * sizeof(*s->dirs));
	s->dirs[s->n_dirs++] = strndup(d->path, d->path_len);
	s->n_unchanged += d->is_unchanged != 0;
	for (size_t i = 0; i < d->n_children; i++) {
		const struct walk_child *c = &d->children[i];
		assert_int_equal(strlen(c->name), c->name_len);
		char sep[2] = "/";
		add_line(s, kind_name(c->kind), 2, d->path, d->path_len, sep, 1);
		/* Append the name to the line just added. */
		char *l = s->lines[s->n - 1];
		size_t len = strlen(l);
		l = realloc(l, len + c->name_len + 1);
		memcpy(l + len, c->name, c->name_len + 1);
		s->lines[s->n - 1] = l;
	}
	if (s->fail_with)
		return s->fail_with;
	if (s->stop_after && (int)s->n_dirs >= s->stop_after)
		atomic_store(&s->stop, 1);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void seen_sort(struct seen *s)
{
	qsort(s->lines, s->n, sizeof(*s->lines), cmp_str);
}

static void seen_release(struct seen *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->lines[i]);
	for (size_t i = 0; i < s->n_dirs; i++)
		free(s->dirs[i]);
	free(s->lines);
	free(s->dirs);
	memset(s, 0, sizeof(*s));
}

static int seen_has(const struct seen *s, const char *line)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->lines[i], line) == 0)
			return 1;
	}
	return 0;
}

static int seen_has_dir(const struct seen *s, const char *path)
{
	for (size_t i = 0; i < s->n_dirs; i++) {
		if (strcmp(s->dirs[i], path) == 0)
			return 1;
	}
	return 0;
}

static int walk_one(const char *root, struct walk_options *opts, struct seen *s,
		    struct walk_stats *st)
{
	const char *roots[] = {root, NULL};
	opts->roots = roots;
	if (s->stop_after)
		opts->stop = &s->stop;
	struct walk_callbacks cb = {.ctx = s, .dir = record_dir};
	int rc = walk_run(opts, &cb, st);
	opts->roots = NULL;
	return rc;
}

static char *path_of(const char *root, const char *rel)
{
	size_t n = strlen(root) + strlen(rel) + 2;
	char *p = malloc(n);
	snprintf(p, n, "%s/%s", root, rel);
	return p;
}

static void assert_seen(const struct seen *s, const char *prefix, const char *root, const char *rel)
{
	char *p = path_of(root, rel);
	size_t n = strlen(prefix) + strlen(p) + 1;
	char *line = malloc(n);
	snprintf(line, n, "%s%s", prefix, p);
	if (!seen_has(s, line))
		fail_msg("not seen: '%s'", line);
	free(line);
	free(p);
}

static void assert_not_seen(const struct seen *s, const char *prefix, const char *root,
			    const char *rel)
{
	char *p = path_of(root, rel);
	size_t n = strlen(prefix) + strlen(p) + 1;
	char *line = malloc(n);
	snprintf(line, n, "%s%s", prefix, p);
	if (seen_has(s, line))
		fail_msg("seen: '%s'", line);
	free(line);
	free(p);
}

/* The tree most tests walk. */
/* A name of NAME_MAX (255) bytes. */
#define NAME_255                                                                                \
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" \
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" \
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx255"

static char *make_tree(void)
{
	char *root = make_root();
	assert_int_equal(strlen(NAME_255), 255);
	mk_dir(root, "a");
	mk_dir(root, "a/b");
	mk_file(root, "a/b/c.txt");
	mk_link(root, "b", "a/link_to_b");
	mk_link(root, "loop", "loop");
	mk_link(root, "..", "up");
	mk_dir(root, "caf\xc3\xa9");
	mk_file(root, "caf\xc3\xa9/menu");
	mk_file(root, "caf\xe9");
	mk_file(root, NAME_255);
	mk_dir(root, "empty");
	mk_dir(root, ".git");
	mk_dir(root, ".git/objects");
	mk_dir(root, "skip");
	mk_dir(root, "skip/inner");
	return root;
}

/* ---------------------------------------------------------------------------------------
 * Listings
 */

static void should_list_every_entry_once_with_its_kind(void **state)
{
	(void)state;
	char *root = make_tree();
	struct seen s = {0};
	struct walk_options opts = {0};
	struct walk_stats st;
	assert_int_equal(walk_one(root, &opts, &s, &st), 0);
	/* Every directory reported ("dir"), every child with its kind. */
	static const struct {
		const char *prefix, *rel;
	} expect[] = {
	    {"dir ", "a"},
	    {"dir ", "a/b"},
	    {"dir ", "caf\xc3\xa9"},
	    {"dir ", "empty"},
	    {"dir ", ".git"},
	    {"dir ", ".git/objects"},
	    {"dir ", "skip"},
	    {"dir ", "skip/inner"},
	    {"d ", "a"},
	    {"f ", "a/b/c.txt"},
	    {"d ", "a/b"},
	    {"l ", "a/link_to_b"},
	    {"l ", "loop"},
	    {"l ", "up"},
	    {"d ", "caf\xc3\xa9"},
	    {"f ", "caf\xc3\xa9/menu"},
	    {"f ", "caf\xe9"},
	    {"f ", NAME_255},
	    {"d ", "empty"},
	    {"d ", ".git"},
	    {"d ", ".git/objects"},
	    {"d ", "skip"},
	    {"d ", "skip/inner"},
	};
	size_t n = sizeof(expect) / sizeof(*expect);
	assert_int_equal(s.n, n + 1);
	assert_true(seen_has_dir(&s, root));
	for (size_t i = 0; i < n; i++)
		assert_seen(&s, expect[i].prefix, root, expect[i].rel);
	assert_int_equal(st.dirs_read, 9);
	assert_int_equal(st.entries, n - 8);
	assert_int_equal(st.vanished + st.denied + st.errors + st.pruned, 0);
	seen_release(&s);
	remove_root(root);
}

static void should_never_enter_symlinks(void **state)
{
	(void)state;
	char *root = make_tree();
	struct seen s = {0};
	struct walk_options opts = {0};
	struct walk_stats st;
	assert_int_equal(walk_one(root, &opts, &s, &st), 0);
	assert_seen(&s, "l ", root, "a/link_to_b");
	assert_not_seen(&s, "dir ", root, "a/link_to_b");
	assert_not_seen(&s, "f ", root, "a/link_to_b/c.txt");
	assert_not_seen(&s, "dir ", root, "loop");
	assert_not_seen(&s, "dir ", root, "up");
	assert_int_equal(st.errors, 0);
	seen_release(&s);
	remove_root(root);
}

static void should_report_parents_before_children(void **state)
{
	(void)state;
	char *root = make_tree();
	for (int i = 0; i < 40; i++) {
		char rel[64];
		snprintf(rel, sizeof(rel), "a/b/n%d", i);
		mk_dir(root, rel);
		snprintf(rel, sizeof(rel), "a/b/n%d/m", i);
		mk_dir(root, rel);
	}
	struct seen s = {0};
	struct walk_options opts = {.threads = 4};
	struct walk_stats st;
	assert_int_equal(walk_one(root, &opts, &s, &st), 0);
	assert_string_equal(s.dirs[0], root);
	for (size_t i = 1; i < s.n_dirs; i++) {
		char *parent = strdup(s.dirs[i]);
		*strrchr(parent, '/') = '\0';
		int is_before = 0;
		for (size_t j = 0; j < i && !is_before; j++)
			is_before = strcmp(s.dirs[j], parent) == 0;
		if (!is_before)
			fail_msg("'%s' before its parent", s.dirs[i]);
		free(parent);
	}
	assert_int_equal(s.n_dirs, 9 + 80);
	seen_release(&s);
	remove_root(root);
}

static void should_list_the_same_with_io_uring_and_without(void **state)
{
	(void)state;
	char *root = make_tree();
	for (int i = 0; i < 100; i++) {
		char rel[64];
		snprintf(rel, sizeof(rel), "a/d%d", i);
		mk_dir(root, rel);
		snprintf(rel, sizeof(rel), "a/d%d/f", i);
		mk_file(root, rel);
	}
	struct seen ring = {0}, plain = {0}, one = {0};
	struct walk_options opts = {0};
	struct walk_stats st;
	assert_int_equal(walk_one(root, &opts, &ring, &st), 0);
	if (!st.is_uring)
		fprintf(stderr, "io_uring unavailable here: both walks use the fallback\n");
	opts.is_uring_disabled = 1;
	assert_int_equal(walk_one(root, &opts, &plain, &st), 0);
	assert_int_equal(st.is_uring, 0);
	opts.threads = 1;
	assert_int_equal(walk_one(root, &opts, &one, &st), 0);
	seen_sort(&ring);
	seen_sort(&plain);
	seen_sort(&one);
	assert_int_equal(ring.n, plain.n);
	assert_int_equal(ring.n, one.n);
	for (size_t i = 0; i < ring.n; i++) {
		assert_string_equal(ring.lines[i], plain.lines[i]);
		assert_string_equal(ring.lines[i], one.lines[i]);
	}
	seen_release(&ring);
	seen_release(&plain);
	seen_release(&one);
	remove_root(root);
}

/* In a child where io_uring_setup fails with EPERM (a seccomp filter, as container
 * runtimes install): the walk falls back and lists the same. */
static int refused_child(const char *root, size_t n_expect)
{
	struct sock_filter filter[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(filter) / sizeof(*filter), .filter = filter};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
		return 77;
	struct seen s = {0};
	struct walk_options opts = {0};
	struct walk_stats st;
	int code = walk_one(root, &opts, &s, &st) != 0 ? 30
		   : st.is_uring		       ? 31
		   : s.n != n_expect		       ? 32
						       : 0;
	seen_release(&s);
	return code;
}

static void should_fall_back_when_io_uring_is_refused(void **state)
{
	(void)state;
	char *root = make_tree();
	struct seen s = {0};
	struct walk_options opts = {0};
	struct walk_stats st;
	assert_int_equal(walk_one(root, &opts, &s, &st), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(refused_child(root, s.n));
	seen_release(&s);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	remove_root(root);
	if (WEXITSTATUS(status) == 77) {
		fprintf(stderr, "skipped: cannot install a seccomp filter here\n");
		skip();
	}
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---------------------------------------------------------------------------------------
 * Pruning
 */

static void should_list_but_not_enter_pruned_paths_and_names(void **state)
{
	(void)state;
	char *root = make_tree();
	char *skip = path_of(root, "skip/");
	const char *paths[] = {skip, NULL};
	const char *names[] = {".git", NULL};
	struct walk_options opts = {.prune = {.paths = paths, .names = names}};
	struct seen s = {0};
	struct walk_stats st;
	assert_int_equal(walk_one(root, &opts, &s, &st), 0);
	assert_seen(&s, "d ", root, "skip");
	assert_seen(&s, "d ", root, ".git");
	assert_not_seen(&s, "dir ", root, "skip");
	assert_not_seen(&s, "dir ", root, ".git");
	assert_not_seen(&s, "d ", root, "skip/inner");
	assert_not_seen(&s, "d ", root, ".git/objects");
	assert_int_equal(st.pruned, 2);
	assert_int_equal(st.dirs_read, 5);
	seen_release(&s);

	/* A root is walked even when it is itself pruned. */
	paths[0] = root;
	assert_int_equal(walk_one(root, &opts, &s, &st), 0);
	assert_true(seen_has_dir(&s, root));
	seen_release(&s);
	free(skip);
	remove_root(root);
}

/* ---------------------------------------------------------------------------------------
 * Errors
 */

static void should_count_a_root_that_is_missing_or_not_a_directory(void **state)
{
	(void)state;
	char *root = make_tree();
	char *file = path_of(root, "caf\xe9");
	char *missing = path_of(root, "missing");
	char *link = path_of(root, "loop");
	char *a = path_of(root, "a");
	const char *roots[] = {file, missing, link, a, NULL};
	struct walk_options opts = {.roots = roots};
	struct seen s = {0};
	struct walk_callbacks cb = {.ctx = &s, .dir = record_dir};
	struct walk_stats st;
	assert_int_equal(walk_run(&opts, &cb, &st), 0);
	assert_int_equal(st.vanished, 3);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.dirs_read, 2);
	assert_true(seen_has_dir(&s, a));
	seen_release(&s);

	const char *relative[] = {"tmp", NULL};
	opts.roots = relative;
	assert_int_equal(walk_run(&opts, &cb, &st), -EINVAL);
	free(file);
	free(missing);
	free(link);
	free(a);
	remove_root(root);
}

static void should_count_unreadable_directories_and_go_on(void **state)
{
	(void)state;
	char *root = make_tree();
	mk_dir(root, "secret");
	mk_file(root, "secret/hidden");
	char *secret = path_of(root, "secret");
	assert_int_equal(chmod(secret, 0700), 0);
	assert_int_equal(chmod(root, 0755), 0);
	if (geteuid() != 0) {
		/* Without root the test user owns the directory: drop its own access. */
		assert_int_equal(chmod(secret, 0), 0);
		if (access(secret, R_OK) == 0) {
			fprintf(stderr, "skipped: cannot make a directory unreadable here\n");
			free(secret);
			remove_root(root);
			skip();
		}
	}
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Root reads everything: walk as nobody. */
		if (geteuid() == 0 &&
		    (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0))
			_exit(10);
		if (access(root, R_OK | X_OK) != 0)
			_exit(77); /* $TMPDIR is closed to nobody */
		struct seen s = {0};
		struct walk_options opts = {0};
		struct walk_stats st;
		int rc = walk_one(root, &opts, &s, &st);
		char line[PATH_MAX];
		snprintf(line, sizeof(line), "d %s", secret);
		int code = rc != 0				 ? 11
			   : st.denied != 1			 ? 12
			   : !seen_has(&s, line)		 ? 13
			   : seen_has_dir(&s, secret)		 ? 14
			   : st.dirs_read != 9 || st.errors != 0 ? 15
								 : 0;
		seen_release(&s);
		_exit(code);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	free(secret);
	remove_root(root);
	if (WEXITSTATUS(status) == 77) {
		fprintf(stderr, "skipped: the temporary directory is closed to user nobody\n");
		skip();
	}
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* In a child with its own mount namespace: a tmpfs on root/mnt, root/a bound on
 * root/bind. Returns the child's exit code: 0 when every check passed, 77 to skip. */
static int mounts_child(const char *root)
{
	char *mnt = path_of(root, "mnt"), *a = path_of(root, "a"), *bind = path_of(root, "bind");
	int code = 77;
	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount("tmpfs", mnt, "tmpfs", 0, "size=1m") != 0 ||
	    mount(a, bind, NULL, MS_BIND, NULL) != 0)
		goto out;
	static const char *const tmpfs[] = {"tmpfs", NULL};
	static const struct {
		int is_cross_fs, is_tmpfs_pruned, is_bind_pruned;
		int is_mnt_entered, is_bind_entered;
	} cases[] = {
	    {0, 0, 0, 0, 1}, /* another filesystem: not entered; a bind of this one is */
	    {1, 0, 0, 1, 1}, /* across filesystems */
	    {1, 1, 0, 0, 1}, /* ...but not into a pruned type */
	    {0, 0, 1, 0, 0}, /* bind mounts pruned */
	};
	code = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases) && !code; i++) {
		struct walk_options opts = {
		    .is_cross_fs = cases[i].is_cross_fs,
		    .prune = {.fs_types = cases[i].is_tmpfs_pruned ? tmpfs : NULL,
			      .is_bind_mounts_pruned = cases[i].is_bind_pruned},
		};
		struct seen s = {0};
		struct walk_stats st;
		uint64_t pruned = (uint64_t)!cases[i].is_mnt_entered + !cases[i].is_bind_entered;
		if (walk_one(root, &opts, &s, &st) != 0)
			code = 21;
		else if (seen_has_dir(&s, mnt) != cases[i].is_mnt_entered)
			code = 22;
		else if (seen_has_dir(&s, bind) != cases[i].is_bind_entered)
			code = 23;
		else if (st.pruned != pruned)
			code = 24;
		if (code)
			fprintf(stderr, "mount case %zu failed with %d\n", i, code);
		seen_release(&s);
	}
	umount2(bind, MNT_DETACH);
	umount2(mnt, MNT_DETACH);
out:
	free(mnt);
	free(a);
	free(bind);
	return code;
}

static void should_stay_on_the_filesystem_and_prune_mounts(void **state)
{
	(void)state;
	char *root = make_tree();
	mk_dir(root, "mnt");
	mk_dir(root, "bind");
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(mounts_child(root));
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77) {
		fprintf(stderr, "skipped: no mount namespace here (needs CAP_SYS_ADMIN)\n");
		remove_root(root);
		skip();
	}
	assert_int_equal(WEXITSTATUS(status), 0);
	remove_root(root);
}

/* ---------------------------------------------------------------------------------------
 * Deep trees
 */

static void should_walk_paths_longer_than_path_max(void **state)
{
	(void)state;
	char *root = make_root();
	char name[201];
	memset(name, 'n', 200);
	name[200] = '\0';
	int dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (int i = 0; i < 40; i++) {
		assert_int_equal(mkdirat(dfd, name, 0755), 0);
		int next = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		assert_true(next >= 0);
		close(dfd);
		dfd = next;
	}
	int fd = openat(dfd, "bottom", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
	close(dfd);

	int fds_before = count_fds();
	for (int is_plain = 0; is_plain < 2; is_plain++) {
		struct seen s = {0};
		struct walk_options opts = {.is_uring_disabled = is_plain};
		struct walk_stats st;
		assert_int_equal(walk_one(root, &opts, &s, &st), 0);
		assert_int_equal(st.dirs_read, 41);
		assert_int_equal(st.errors, 0);
		const char *deepest = s.dirs[s.n_dirs - 1];
		assert_int_equal(strlen(deepest), strlen(root) + (size_t)40 * 201);
		assert_true(strlen(deepest) > PATH_MAX);
		char *bottom = malloc(strlen(deepest) + 10);
		sprintf(bottom, "f %s/bottom", deepest);
		assert_true(seen_has(&s, bottom));
		free(bottom);
		seen_release(&s);
	}
	assert_int_equal(count_fds(), fds_before);

	/* With few fds to spare (16: 4 anchors), anchors run out: what lies more than PATH_MAX
	 * below the last one is opened in hops. */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = {.rlim_cur = 16, .rlim_max = 16};
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			_exit(40);
		struct seen s = {0};
		struct walk_options opts = {0};
		struct walk_stats st;
		int rc = walk_one(root, &opts, &s, &st);
		int code = rc ? 41 : st.dirs_read != 41 ? 42 : st.errors ? 43 : 0;
		seen_release(&s);
		_exit(code);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	remove_root(root);
}

static void should_walk_ten_thousand_levels_with_bounded_fds(void **state)
{
	(void)state;
	enum { DEPTH = 10000 };
	/* 10,000 mkdirs take a second on a journaled disk, a tenth of that in memory. */
	char *root = access("/dev/shm", W_OK) == 0 ? make_root_in("/dev/shm") : make_root();
	int dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (int i = 0; i < DEPTH; i++) {
		assert_int_equal(mkdirat(dfd, "d", 0755), 0);
		int next = openat(dfd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		assert_true(next >= 0);
		close(dfd);
		dfd = next;
	}
	close(dfd);
	int fds_before = count_fds();
	struct seen s = {0};
	struct walk_options opts = {0};
	struct walk_stats st;
	assert_int_equal(walk_one(root, &opts, &s, &st), 0);
	assert_int_equal(st.dirs_read, DEPTH + 1);
	assert_int_equal(st.errors, 0);
	assert_int_equal(strlen(s.dirs[s.n_dirs - 1]), strlen(root) + (size_t)2 * DEPTH);
	assert_int_equal(count_fds(), fds_before);
	seen_release(&s);
	remove_root(root);
}

/* ---------------------------------------------------------------------------------------
 * Incremental walks
 */

/* What a caller knew after a first walk: each directory's times and subdirectories. */
struct known {
	struct seen seen;
	char **paths;
	struct trawl_dir_meta *metas;
	size_t n;
	_Atomic int n_lookups;
	_Atomic int n_hints; /* subdirs calls that came with a hint */
};

static int remember_dir(void *ctx, const struct walk_dir *d)
{
	struct known *k = ctx;
	/* The walk's meta may carry WALK_CTIME_RACY (the tree is seconds old): the test
	 * keeps the real times, to test the comparison itself. */
	struct statx stx;
	assert_int_equal(statx(AT_FDCWD, d->path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx), 0);
	k->paths = realloc(k->paths, (k->n + 1) * sizeof(*k->paths));
	k->metas = realloc(k->metas, (k->n + 1) * sizeof(*k->metas));
	k->paths[k->n] = strndup(d->path, d->path_len);
	k->metas[k->n] = (struct trawl_dir_meta){
	    .mtime_ns = stx.stx_mtime.tv_sec * 1000000000LL + stx.stx_mtime.tv_nsec,
	    .ctime_ns = stx.stx_ctime.tv_sec * 1000000000LL + stx.stx_ctime.tv_nsec,
	};
	k->n++;
	return record_dir(&k->seen, d);
}

static int known_lookup(void *ctx, const char *path, size_t len, struct trawl_dir_meta *meta)
{
	struct known *k = ctx;
	atomic_fetch_add(&k->n_lookups, 1);
	for (size_t i = 0; i < k->n; i++) {
		if (strlen(k->paths[i]) == len && memcmp(k->paths[i], path, len) == 0) {
			*meta = k->metas[i];
			return 0;
		}
	}
	return -ENOENT;
}

/* Lists what it knew; every other subdirectory comes without its meta, so that the walk
 * asks known_lookup() for it (both ways are tested). */
static int known_subdirs(void *ctx, const char *path, size_t len, const struct trawl_dir_hint *hint,
			 int (*emit)(void *arg, const char *name, size_t len,
				     const struct trawl_dir_meta *known,
				     const struct trawl_dir_hint *hint),
			 void *arg)
{
	struct known *k = ctx;
	/* Each hint given is the index of the directory's path, plus one: the walk passes
	 * back the one it got with the name, or none. */
	if (hint) {
		assert_true(hint->node >= 1 && hint->node <= k->n);
		assert_int_equal(strlen(k->paths[hint->node - 1]), len);
		assert_memory_equal(k->paths[hint->node - 1], path, len);
		atomic_fetch_add(&k->n_hints, 1);
	}
	for (size_t i = 0; i < k->n; i++) {
		const char *p = k->paths[i];
		if (strlen(p) > len + 1 && memcmp(p, path, len) == 0 && p[len] == '/' &&
		    !strchr(p + len + 1, '/')) {
			struct trawl_dir_hint h = {.base_serial = 1, .node = (uint32_t)i + 1};
			int rc = emit(arg, p + len + 1, strlen(p + len + 1),
				      i % 2 ? &k->metas[i] : NULL, i % 3 ? &h : NULL);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static int known_record(void *ctx, const struct walk_dir *d)
{
	return record_dir(&((struct known *)ctx)->seen, d);
}

static void known_release(struct known *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->paths[i]);
	free(k->paths);
	free(k->metas);
	seen_release(&k->seen);
}

/* Set every directory's mtime an hour back, so that a change made now moves it even
 * within one timestamp tick. */
static void age_dirs(const char *root, const char *const *rels)
{
	struct timeval old[2];
	gettimeofday(&old[0], NULL);
	old[0].tv_sec -= 3600;
	old[1] = old[0];
	for (const char *const *r = rels; *r; r++) {
		char *p = path_of(root, *r);
		assert_int_equal(utimes(**r ? p : root, old), 0);
		free(p);
	}
}

/* A first walk of opts' roots that remembers the n_dirs directories it reads, as an
 * index would; returns the callbacks of that walk. */
static struct walk_callbacks first_walk(const struct walk_options *opts, struct known *k,
					size_t n_dirs)
{
	struct walk_callbacks cb = {.ctx = k, .dir = remember_dir};
	struct walk_stats st;
	assert_int_equal(walk_run(opts, &cb, &st), 0);
	assert_int_equal(k->n, n_dirs);
	return cb;
}

/* Make opts an incremental walk, with callbacks that answer from what k remembers. */
static struct walk_callbacks incremental_callbacks(struct walk_options *opts, struct known *k)
{
	opts->is_incremental = 1;
	return (struct walk_callbacks){
	    .ctx = k, .dir = known_record, .lookup = known_lookup, .subdirs = known_subdirs};
}

static void should_read_only_changed_and_new_directories_when_incremental(void **state)
{
	(void)state;
	char *root = make_tree();
	const char *dirs[] = {"",	    "a",    "a/b",	    "caf\xc3\xa9",
			      "empty",	    ".git", ".git/objects", "skip",
			      "skip/inner", NULL};
	age_dirs(root, dirs);
	const char *roots[] = {root, NULL};
	struct known k = {0};
	struct walk_options opts = {.roots = roots};
	struct walk_callbacks cb = first_walk(&opts, &k, 9);
	struct walk_stats st;

	mk_file(root, "a/b/new.txt"); /* a/b changes */
	mk_dir(root, "a/new");	      /* a changes; a/new is new */
	mk_file(root, "a/new/inside");

	cb = incremental_callbacks(&opts, &k);
	seen_release(&k.seen);
	assert_int_equal(walk_run(&opts, &cb, &st), 0);
	const struct seen *s = &k.seen;
	assert_int_equal(st.dirs_read, 3);
	assert_int_equal(st.dirs_unchanged, 7);
	assert_int_equal(s->n_unchanged, 7);
	/* Six unchanged directories came from their parent's subdirs with a name, two in
	 * three of those with a hint, which came back with the directory's own subdirs. */
	assert_true(atomic_load(&k.n_hints) >= 3);
	assert_seen(s, "f ", root, "a/b/new.txt");
	assert_seen(s, "d ", root, "a/new");
	assert_seen(s, "f ", root, "a/new/inside");
	for (const char *const *d = dirs; *d; d++) {
		char *p = path_of(root, *d);
		assert_true(seen_has_dir(s, **d ? p : root));
		free(p);
	}
	/* Unchanged directories were not read: nothing listed under them. */
	assert_not_seen(s, "f ", root, "caf\xc3\xa9/menu");
	known_release(&k);
	remove_root(root);
}

/* An unchanged directory with several known subdirectories is opened for them to be
 * stat'ed from (an anchor): paths, changes and descriptors come out as without it. */
static void should_walk_below_an_unchanged_directory_with_many_subdirectories(void **state)
{
	(void)state;
	char *root = make_root();
	const char *dirs[] = {"", "p", "p/x", "p/y", "p/z", "p/z/deep", NULL};
	for (const char *const *d = dirs + 1; *d; d++)
		mk_dir(root, *d);
	mk_file(root, "p/x/leaf");
	mk_file(root, "p/z/deep/leaf");
	age_dirs(root, dirs);
	const char *roots[] = {root, NULL};
	struct known k = {0};
	struct walk_options opts = {.roots = roots};
	struct walk_callbacks cb = first_walk(&opts, &k, 6);
	struct walk_stats st;

	mk_file(root, "p/y/new.txt");	 /* p/y changes */
	mk_dir(root, "p/z/deep/newdir"); /* p/z/deep changes; newdir is new */
	cb = incremental_callbacks(&opts, &k);
	int fds_before = count_fds();
	for (int is_plain = 0; is_plain < 2; is_plain++) {
		opts.is_uring_disabled = is_plain;
		seen_release(&k.seen);
		assert_int_equal(walk_run(&opts, &cb, &st), 0);
		assert_int_equal(st.dirs_read, 3);
		assert_int_equal(st.dirs_unchanged, 4);
		assert_seen(&k.seen, "f ", root, "p/y/new.txt");
		assert_seen(&k.seen, "d ", root, "p/z/deep/newdir");
		assert_not_seen(&k.seen, "f ", root, "p/x/leaf");
		for (const char *const *d = dirs; *d; d++) {
			char *p = path_of(root, *d);
			assert_true(seen_has_dir(&k.seen, **d ? p : root));
			free(p);
		}
		assert_int_equal(count_fds(), fds_before);
	}
	known_release(&k);
	remove_root(root);
}

/* Knows the root only, unchanged, with a subdirectory that is gone and bad names. */
static int ghost_lookup(void *ctx, const char *path, size_t len, struct trawl_dir_meta *meta)
{
	struct statx stx;
	(void)ctx;
	(void)len;
	assert_int_equal(statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx), 0);
	meta->mtime_ns = stx.stx_mtime.tv_sec * 1000000000LL + stx.stx_mtime.tv_nsec;
	meta->ctime_ns = stx.stx_ctime.tv_sec * 1000000000LL + stx.stx_ctime.tv_nsec;
	return 0;
}

static int ghost_subdirs(void *ctx, const char *path, size_t len, const struct trawl_dir_hint *hint,
			 int (*emit)(void *arg, const char *name, size_t len,
				     const struct trawl_dir_meta *known,
				     const struct trawl_dir_hint *hint),
			 void *arg)
{
	(void)ctx;
	(void)path;
	(void)len;
	(void)hint;
	static const struct trawl_dir_meta once = {.mtime_ns = 1, .ctime_ns = 1};
	int rc = emit(arg, "ghost", 5, &once, NULL);
	if (rc == 0)
		rc = emit(arg, "a/b", 3, NULL, NULL);
	if (rc == 0)
		rc = emit(arg, "..", 2, NULL, NULL);
	return rc;
}

static void should_count_known_subdirectories_that_vanished(void **state)
{
	(void)state;
	char *root = make_root();
	const char *roots[] = {root, NULL};
	struct seen s = {0};
	struct walk_callbacks cb = {
	    .ctx = &s, .dir = record_dir, .lookup = ghost_lookup, .subdirs = ghost_subdirs};
	struct walk_options opts = {.roots = roots, .is_incremental = 1};
	struct walk_stats st;
	for (int is_plain = 0; is_plain < 2; is_plain++) {
		opts.is_uring_disabled = is_plain;
		assert_int_equal(walk_run(&opts, &cb, &st), 0);
		assert_int_equal(st.dirs_unchanged, 1);
		assert_int_equal(st.vanished, 1);
		assert_int_equal(st.errors, 2);
		assert_int_equal(s.n_dirs, 1);
		seen_release(&s);
	}
	remove_root(root);
}

static int grab_meta(void *ctx, const struct walk_dir *d)
{
	*(struct trawl_dir_meta *)ctx = d->meta;
	return 0;
}

static void should_mark_a_just_changed_directory_racy(void **state)
{
	(void)state;
	char *root = make_root();
	const char *roots[] = {root, NULL};
	struct walk_options opts = {.roots = roots};
	struct trawl_dir_meta meta = {0};
	struct walk_callbacks cb = {.ctx = &meta, .dir = grab_meta};
	struct walk_stats st;
	assert_int_equal(walk_run(&opts, &cb, &st), 0);
	/* Created a moment ago: its ctime cannot be trusted yet, its mtime is kept. */
	struct stat sb;
	assert_int_equal(stat(root, &sb), 0);
	assert_int_equal(meta.ctime_ns, WALK_CTIME_RACY);
	assert_int_equal(meta.mtime_ns, sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec);
	assert_int_equal(meta.mode, sb.st_mode);
	assert_int_equal(meta.uid, sb.st_uid);
	remove_root(root);
}

/* ---------------------------------------------------------------------------------------
 * Stopping
 */

static void should_stop_when_asked(void **state)
{
	(void)state;
	char *root = make_root();
	for (int i = 0; i < 300; i++) {
		char rel[32];
		snprintf(rel, sizeof(rel), "d%d", i);
		mk_dir(root, rel);
		snprintf(rel, sizeof(rel), "d%d/e", i);
		mk_dir(root, rel);
	}
	int fds_before = count_fds();
	struct seen s = {.stop_after = 2};
	struct walk_options opts = {0};
	struct walk_stats st;
	assert_int_equal(walk_one(root, &opts, &s, &st), -ECANCELED);
	assert_true(s.n_dirs < 601);
	seen_release(&s);

	s = (struct seen){.fail_with = 42};
	assert_int_equal(walk_one(root, &opts, &s, &st), 42);
	assert_int_equal(s.n_dirs, 1);
	seen_release(&s);
	assert_int_equal(count_fds(), fds_before);
	remove_root(root);
}

/* ---------------------------------------------------------------------------------------
 * updatedb.conf
 */

static void assert_list(const char *const *list, const char *const *expect)
{
	size_t i = 0;
	for (; expect[i]; i++) {
		assert_non_null(list[i]);
		assert_string_equal(list[i], expect[i]);
	}
	assert_null(list[i]);
}

static void should_parse_updatedb_conf(void **state)
{
	(void)state;
	static const char text[] = "# updatedb.conf\n"
				   "PRUNE_BIND_MOUNTS=\"yes\"\n"
				   "\n"
				   "   # indented comment\n"
				   "PRUNENAMES=\".git .bzr\t.hg .svn\"\n"
				   "PRUNEPATHS=\"/tmp /var/spool/ /\" # trailing comment\n"
				   "PRUNEFS = \"NFS proc\"\r\n"
				   "PRUNEFS=\"tmpfs  sysfs\"";
	struct walk_prune p;
	int line = -1;
	assert_int_equal(walk_prune_parse(text, strlen(text), &p, &line), 0);
	assert_int_equal(p.is_bind_mounts_pruned, 1);
	assert_list(p.names, (const char *const[]){".git", ".bzr", ".hg", ".svn", NULL});
	assert_list(p.paths, (const char *const[]){"/tmp", "/var/spool", "/", NULL});
	assert_list(p.fs_types, (const char *const[]){"tmpfs", "sysfs", NULL});
	walk_prune_release(&p);
	assert_null(p.names);

	assert_int_equal(walk_prune_parse("PRUNEFS=\"\"\n", 11, &p, &line), 0);
	assert_list(p.fs_types, (const char *const[]){NULL});
	assert_null(p.paths);
	walk_prune_release(&p);
}

static void should_reject_a_malformed_updatedb_conf_with_its_line(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		int line;
	} bad[] = {
	    {"PRUNEFS=\"proc\"\n\nPRUNEWHAT=\"x\"\n", 3},
	    {"PRUNEFS=\"proc\n", 1},
	    {"PRUNEFS proc\n", 1},
	    {"# ok\nPRUNEFS=proc\n", 2},
	    {"PRUNE_BIND_MOUNTS=\"maybe\"\n", 1},
	    {"PRUNEFS=\"proc\" junk\n", 1},
	    {"prunefs=\"proc\"\n", 1},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct walk_prune p;
		int line = 0;
		assert_int_equal(walk_prune_parse(bad[i].text, strlen(bad[i].text), &p, &line),
				 -EINVAL);
		assert_int_equal(line, bad[i].line);
		assert_null(p.fs_types);
	}
}

static void should_prune_tmpfs_and_pseudo_filesystems_by_default(void **state)
{
	(void)state;
	int has_proc = 0, has_tmpfs = 0, has_ext4 = 0;
	for (const char *const *t = walk_default_prune_fs; *t; t++) {
		has_proc |= strcmp(*t, "proc") == 0;
		has_tmpfs |= strcmp(*t, "tmpfs") == 0;
		has_ext4 |= strcmp(*t, "ext4") == 0;
	}
	assert_true(has_proc && has_tmpfs && !has_ext4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(should_list_every_entry_once_with_its_kind),
	    cmocka_unit_test(should_never_enter_symlinks),
	    cmocka_unit_test(should_report_parents_before_children),
	    cmocka_unit_test(should_list_the_same_with_io_uring_and_without),
	    cmocka_unit_test(should_fall_back_when_io_uring_is_refused),
	    cmocka_unit_test(should_list_but_not_enter_pruned_paths_and_names),
	    cmocka_unit_test(should_count_a_root_that_is_missing_or_not_a_directory),
	    cmocka_unit_test(should_count_unreadable_directories_and_go_on),
	    cmocka_unit_test(should_stay_on_the_filesystem_and_prune_mounts),
	    cmocka_unit_test(should_walk_paths_longer_than_path_max),
	    cmocka_unit_test(should_walk_ten_thousand_levels_with_bounded_fds),
	    cmocka_unit_test(should_read_only_changed_and_new_directories_when_incremental),
	    cmocka_unit_test(should_walk_below_an_unchanged_directory_with_many_subdirectories),
	    cmocka_unit_test(should_count_known_subdirectories_that_vanished),
	    cmocka_unit_test(should_mark_a_just_changed_directory_racy),
	    cmocka_unit_test(should_stop_when_asked),
	    cmocka_unit_test(should_parse_updatedb_conf),
	    cmocka_unit_test(should_reject_a_malformed_updatedb_conf_with_its_line),
	    cmocka_unit_test(should_prune_tmpfs_and_pseudo_filesystems_by_default),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
