/* test_store.c: the store's subtree ends, kept for directories only, are the ends a walk
 * of parents finds, for every entry of random trees: built from paths, appended node by
 * node as a rebuild does, folded from an index's changes, and loaded from a snapshot. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "generation.h"
#include "store.h"
#include "trawl_index.h"

/* ---- random trees ---- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return n ? (uint32_t)(rng_state >> 33) % n : 0;
}

static void rng_seed(uint64_t salt)
{
	const char *seed = getenv("TRAWL_PROPERTY_SEED");
	rng_state = (seed ? strtoull(seed, NULL, 10) : 42) + salt;
}

static int property_cases(int fallback)
{
	const char *env = getenv("TRAWL_PROPERTY_CASES");
	return env ? atoi(env) : fallback;
}

/* Few distinct names, so that paths share directories and a file listed early often
 * turns out to have children. */
static const char *const names[] = {"a", "b", "c", "d", "etc", "usr", "x.conf", "Z"};
#define N_NAMES (sizeof(names) / sizeof(names[0]))

/* Paths of a random tree, one a line, into `list` (cap bytes); returns its length. Some
 * trees hold a chain of directories longer than a word of the bitmap, some a directory
 * with more files than a word; directories are marked by a trailing '/'. */
static size_t random_list(char *list, size_t cap)
{
	size_t len = 0, n_paths = 1 + rnd(rnd(4) == 0 ? 600 : 60);
	for (size_t i = 0; i < n_paths; i++) {
		size_t depth = 1 + rnd(rnd(50) == 0 ? 200 : 6);
		char path[2048];
		size_t n = 0;
		for (size_t d = 0; d < depth; d++)
			n += (size_t)snprintf(path + n, sizeof(path) - n, "/%s",
					      names[rnd(N_NAMES)]);
		assert_true(n < sizeof(path));
		if (rnd(5) == 0)
			path[n++] = '/';
		assert_true(len + n + 1 <= cap);
		memcpy(list + len, path, n);
		len += n;
		list[len++] = '\n';
	}
	if (rnd(8) == 0) {
		/* A wide directory: runs of words with no directory bit set. */
		size_t wide = 64 + rnd(200);
		for (size_t i = 0; i < wide; i++)
			len += (size_t)snprintf(list + len, cap - len, "/wide/f%zu\n", i);
		assert_true(len < cap);
	}
	return len;
}

/* ---- the reference: ends found by walking up from every entry ---- */

/* Every entry's subtree end equals the one a walk of parents finds, the subtree is
 * exactly that id range, only directories have children, and the directory bits and
 * counts agree with the kinds. */
static void assert_subtree_ends(const struct store *s)
{
	uint32_t n = s->n_entries;
	uint32_t *end = malloc((size_t)n * sizeof(*end));
	uint32_t *below = calloc(n, sizeof(*below));
	assert_non_null(end);
	assert_non_null(below);
	for (uint32_t id = 0; id < n; id++)
		end[id] = id + 1;
	for (uint32_t id = 1; id < n; id++) {
		assert_true(s->parent[id] < id);
		for (uint32_t a = s->parent[id]; a != STORE_NO_PARENT; a = s->parent[a]) {
			if (end[a] < id + 1)
				end[a] = id + 1;
			below[a]++;
		}
	}
	uint32_t n_dirs = 0;
	for (uint32_t id = 0; id < n; id++) {
		int is_dir = s->kind[id] == TRAWL_KIND_DIR;
		assert_int_equal(store_subtree_end(s, id), end[id]);
		assert_int_equal(end[id] - id - 1, below[id]);
		assert_int_equal(store_is_dir(s, id), is_dir);
		if (below[id])
			assert_true(is_dir);
		if (id % 64 == 0)
			assert_int_equal(s->dir_rank[id / 64], n_dirs);
		n_dirs += (uint32_t)is_dir;
	}
	assert_int_equal(s->n_dirs, n_dirs);
	free(end);
	free(below);
}

static void assert_same_subtrees(const struct store *a, const struct store *b)
{
	assert_int_equal(a->n_entries, b->n_entries);
	assert_int_equal(a->n_dirs, b->n_dirs);
	size_t words = store_words(a->n_entries);
	assert_memory_equal(a->dir_bits, b->dir_bits, words * sizeof(*a->dir_bits));
	assert_memory_equal(a->dir_rank, b->dir_rank, words * sizeof(*a->dir_rank));
	if (a->n_dirs)
		assert_memory_equal(a->dir_end, b->dir_end, a->n_dirs * sizeof(*a->dir_end));
}

static void build_store(struct store *s, const char *list, size_t len)
{
	struct store_folded folded = {0};
	size_t rejected = 0;
	assert_int_equal(store_build_from_list(s, list, len, '\n', &rejected, &folded), 0);
	assert_int_equal(rejected, 0);
	store_folded_release(&folded);
}

/* A directory for the snapshots, removed even when a test fails. */
struct fixture {
	char dir[128];
	char path[192];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	const char *tmp = getenv("TMPDIR");
	snprintf(f->dir, sizeof(f->dir), "%s/trawl-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/index.snapshot", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* ---- tests ---- */

static void should_find_every_subtree_end_a_walk_of_parents_finds(void **state)
{
	(void)state;
	rng_seed(0);
	char *list = malloc(1 << 20);
	assert_non_null(list);
	for (int c = 0, cases = property_cases(400); c < cases; c++) {
		struct store s;
		build_store(&s, list, random_list(list, 1 << 20));
		assert_subtree_ends(&s);
		store_release(&s);
	}
	free(list);
}

/* A rebuild appends the live entries node by node, skipping removed subtrees by their
 * ends: the store it makes must hold the ends of what was kept. */
static void should_find_the_ends_of_a_tree_appended_as_a_rebuild_does(void **state)
{
	(void)state;
	rng_seed(1);
	char *list = malloc(1 << 20);
	assert_non_null(list);
	for (int c = 0, cases = property_cases(400); c < cases; c++) {
		struct store s, kept;
		build_store(&s, list, random_list(list, 1 << 20));
		uint32_t *node_of = malloc((size_t)s.n_entries * sizeof(*node_of));
		assert_non_null(node_of);
		struct store_builder *sb = store_builder_new();
		assert_non_null(sb);
		node_of[0] = STORE_BUILDER_ROOT;
		/* Every entry the first time, one in five subtrees removed the others. */
		int is_pruned = c % 2;
		for (uint32_t id = 1; id < s.n_entries;) {
			if (is_pruned && rnd(5) == 0) {
				id = store_subtree_end(&s, id);
				continue;
			}
			size_t n;
			const char *name = store_name(&s, id, &n);
			assert_int_equal(store_builder_append(sb, node_of[s.parent[id]], name, n,
							      s.kind[id], &node_of[id]),
					 0);
			id++;
		}
		struct store_folded folded = {0};
		assert_int_equal(store_builder_finish(sb, &kept, &folded, NULL), 0);
		store_builder_free(sb);
		store_folded_release(&folded);
		assert_subtree_ends(&kept);
		if (!is_pruned)
			assert_same_subtrees(&s, &kept);
		store_release(&kept);
		store_release(&s);
		free(node_of);
	}
	free(list);
}

static void should_refuse_a_child_under_a_file(void **state)
{
	(void)state;
	struct store_builder *sb = store_builder_new();
	assert_non_null(sb);
	uint32_t dir, file, child;
	assert_int_equal(
	    store_builder_append(sb, STORE_BUILDER_ROOT, "etc", 3, TRAWL_KIND_DIR, &dir), 0);
	assert_int_equal(store_builder_append(sb, dir, "hosts", 5, TRAWL_KIND_FILE, &file), 0);
	assert_int_equal(store_builder_append(sb, file, "x", 1, TRAWL_KIND_FILE, &child), -EINVAL);
	assert_int_equal(store_builder_append(sb, file + 1, "x", 1, TRAWL_KIND_FILE, &child),
			 -EINVAL);
	struct store s;
	struct store_folded folded = {0};
	assert_int_equal(store_builder_finish(sb, &s, &folded, NULL), 0);
	store_builder_free(sb);
	store_folded_release(&folded);
	assert_int_equal(s.n_entries, 3);
	assert_subtree_ends(&s);
	store_release(&s);
}

/* Random adds and removes folded into a new base by a rebuild, then that base saved and
 * loaded: the mapped store's ends are the rebuilt store's, and a walk's. */
static void should_keep_every_subtree_end_through_a_rebuild_and_a_snapshot(void **state)
{
	struct fixture *f = *state;
	rng_seed(2);
	char *list = malloc(1 << 20);
	assert_non_null(list);
	for (int c = 0, cases = property_cases(400) / 4; c < cases; c++) {
		struct trawl_index *ix = NULL, *loaded = NULL;
		size_t len = random_list(list, 1 << 20);
		assert_int_equal(trawl_index_build_from_list(list, len, '\n', 2, &ix, NULL), 0);
		int n_changes = (int)rnd(30);
		for (int k = 0; k < n_changes; k++) {
			char p[64];
			size_t n = 0;
			for (size_t d = 0, depth = 1 + rnd(4); d < depth; d++)
				n += (size_t)snprintf(p + n, sizeof(p) - n, "/%s",
						      names[rnd(N_NAMES)]);
			if (rnd(3) == 0) {
				int rc = trawl_index_remove(ix, p, n);
				assert_true(rc == 0 || rc == -ENOENT);
			} else {
				unsigned kind = rnd(3) == 0 ? TRAWL_KIND_DIR : TRAWL_KIND_FILE;
				assert_int_equal(trawl_index_add(ix, p, n, kind), 0);
			}
		}
		assert_int_equal(trawl_index_rebuild(ix), 0);
		const struct store *built = &ix->current->base->store;
		assert_subtree_ends(built);
		assert_int_equal(trawl_index_save(ix, f->path), 0);
		assert_int_equal(trawl_index_load(f->path, 1 + (unsigned)(c % 2), &loaded), 0);
		const struct store *mapped = &loaded->current->base->store;
		assert_non_null(loaded->current->base->mapping);
		assert_subtree_ends(mapped);
		assert_same_subtrees(built, mapped);
		assert_int_equal(store_memory_bytes(mapped), store_memory_bytes(built));
		trawl_index_free(loaded);
		trawl_index_free(ix);
	}
	free(list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(should_find_every_subtree_end_a_walk_of_parents_finds),
	    cmocka_unit_test(should_find_the_ends_of_a_tree_appended_as_a_rebuild_does),
	    cmocka_unit_test(should_refuse_a_child_under_a_file),
	    cmocka_unit_test_setup_teardown(
		should_keep_every_subtree_end_through_a_rebuild_and_a_snapshot, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
