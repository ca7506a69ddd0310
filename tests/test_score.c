/* test_score.c: the scoring of one term: the dynamic programme against brute force over
 * every alignment, the pre-check against the programme, positions, contiguous operators
 * and the fallback for very long paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "score.h"
#include "tunables.h"

/* A subject built from a string, owning its memory. */
struct owned_subject {
	struct fold_buf fold;
	int8_t *bonus;
	struct subject s;
};

static void subject_make(struct owned_subject *o, const char *path, size_t len)
{
	fold_buf_init(&o->fold);
	assert_int_equal(fold(&o->fold, path, len, 0), 0);
	o->bonus = malloc(o->fold.len + 1);
	assert_non_null(o->bonus);
	score_bonuses(o->bonus, o->fold.classes, o->fold.len);
	o->s = (struct subject){o->fold.units, o->bonus, o->fold.len, 0, 0};
	score_locate_name(&o->s);
}

static void subject_release(struct owned_subject *o)
{
	fold_buf_release(&o->fold);
	free(o->bonus);
}

static struct score_scratch *scratch_new(size_t cells)
{
	struct score_scratch *x = calloc(1, sizeof(*x));
	assert_non_null(x);
	x->d = malloc(cells * sizeof(*x->d));
	x->g = malloc(cells * sizeof(*x->g));
	assert_true(x->d && x->g);
	x->cells = cells;
	return x;
}

static void scratch_free(struct score_scratch *x)
{
	free(x->d);
	free(x->g);
	free(x);
}

static void units_of(const char *s, uint32_t *out, size_t *n)
{
	*n = strlen(s);
	for (size_t i = 0; i < *n; i++)
		out[i] = (unsigned char)s[i];
}

/* The best score_alignment() over every increasing placement of the term. */
static int32_t brute_force(const uint32_t *term, size_t n, const struct subject *s, uint32_t *pos,
			   size_t k, size_t from)
{
	if (k == n)
		return score_alignment(term, n, s, pos);
	int32_t best = SCORE_NONE;
	for (size_t j = from; j < s->len; j++) {
		if (s->units[j] != term[k])
			continue;
		pos[k] = (uint32_t)j;
		int32_t v = brute_force(term, n, s, pos, k + 1, j + 1);
		if (v > best)
			best = v;
	}
	return best;
}

static void should_equal_the_best_alignment_found_by_brute_force(void **state)
{
	(void)state;
	static const char alphabet[] = "aabB/._-x1";
	struct score_scratch *x = scratch_new((size_t)64 * 64);
	uint32_t seed = 7;
	int matched = 0;
	for (int round = 0; round < 20000; round++) {
		char path[16], term_text[6];
		size_t m = 1 + round % 14, n = 1 + round % 5;
		for (size_t j = 0; j < m; j++) {
			seed = seed * 1103515245u + 12345u;
			path[j] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			term_text[i] = "ab/.x1"[(seed >> 16) % 6];
		}
		struct owned_subject o;
		subject_make(&o, path, m);
		uint32_t term[6], pos[6], brute_pos[6];
		for (size_t i = 0; i < n; i++)
			term[i] = (unsigned char)term_text[i];
		int32_t expect = brute_force(term, n, &o.s, brute_pos, 0, 0);
		int32_t got = score_term(x, TERM_FUZZY, term, n, &o.s, NULL);
		int32_t got_with_pos = score_term(x, TERM_FUZZY, term, n, &o.s, pos);
		/* score_term adds the component bonus on top of the alignment. */
		if (expect == SCORE_NONE) {
			assert_int_equal(got, SCORE_NONE);
			assert_int_equal(got_with_pos, SCORE_NONE);
		} else {
			matched++;
			assert_int_equal(got, got_with_pos);
			/* The positions are an alignment that scores the optimum. */
			assert_int_equal(score_alignment(term, n, &o.s, pos), expect);
			assert_true(got >= expect);
		}
		subject_release(&o);
	}
	print_message("%d of 20000 cases matched\n", matched);
	assert_true(matched > 2000); /* the generator must exercise real matches */
	scratch_free(x);
}

static void should_never_reject_in_the_precheck_what_matches(void **state)
{
	(void)state;
	/* A term is matched exactly when it is a subsequence; the pre-check runs first. */
	struct score_scratch *x = scratch_new((size_t)2 * 64);
	const char *cases[][2] = {
	    {"/usr/lib/libc.so", "ulc"},
	    {"/a/b", "ab"},
	    {"abc", "abc"},
	    {"abc", "abcd"},
	    {"abc", "ca"},
	    {"aaaa", "aaaa"},
	    {"a/a", "a/a"},
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct owned_subject o;
		subject_make(&o, cases[c][0], strlen(cases[c][0]));
		uint32_t term[8], pos[8];
		size_t n;
		units_of(cases[c][1], term, &n);
		int is_subsequence = brute_force(term, n, &o.s, pos, 0, 0) != SCORE_NONE;
		assert_int_equal(score_term(x, TERM_FUZZY, term, n, &o.s, NULL) != SCORE_NONE,
				 is_subsequence);
		subject_release(&o);
	}
	scratch_free(x);
}

static int32_t score_of(enum term_kind kind, const char *term_text, const char *path, uint32_t *pos)
{
	struct score_scratch *x = scratch_new(4096);
	struct owned_subject o;
	subject_make(&o, path, strlen(path));
	uint32_t term[64];
	size_t n;
	units_of(term_text, term, &n);
	int32_t v = score_term(x, kind, term, n, &o.s, pos);
	subject_release(&o);
	scratch_free(x);
	return v;
}

static void should_prefer_starts_of_words(void **state)
{
	(void)state;
	assert_true(score_of(TERM_FUZZY, "ab", "/x/axxb", NULL) <
		    score_of(TERM_FUZZY, "ab", "/x/a_b", NULL));
	assert_true(score_of(TERM_FUZZY, "fb", "/x/xfoobar", NULL) <
		    score_of(TERM_FUZZY, "fb", "/x/fooBar", NULL));
}

static void should_prefer_consecutive_runs(void **state)
{
	(void)state;
	assert_true(score_of(TERM_FUZZY, "abc", "/x/axbxc", NULL) <
		    score_of(TERM_FUZZY, "abc", "/x/abcxx", NULL));
}

static void should_penalize_long_gaps_more(void **state)
{
	(void)state;
	assert_true(score_of(TERM_FUZZY, "ac", "/x/abbbbbc", NULL) <
		    score_of(TERM_FUZZY, "ac", "/x/abc", NULL));
}

static void should_find_contiguous_terms_only_where_anchored(void **state)
{
	(void)state;
	uint32_t pos[8];
	assert_int_equal(score_of(TERM_EXACT, "ab", "/x/axb", NULL), SCORE_NONE);
	assert_true(score_of(TERM_EXACT, "ab", "/x/cab", pos) != SCORE_NONE);
	assert_int_equal(pos[0], 4);
	assert_int_equal(score_of(TERM_PREFIX, "ab", "/x/cab", NULL), SCORE_NONE);
	assert_true(score_of(TERM_PREFIX, "ab", "/abc/d", pos) != SCORE_NONE);
	assert_int_equal(pos[0], 1);
	assert_int_equal(score_of(TERM_SUFFIX, "ab", "/ab/c", NULL), SCORE_NONE);
	assert_true(score_of(TERM_SUFFIX, "ab", "/c/xab", pos) != SCORE_NONE);
	assert_int_equal(pos[0], 4);
	assert_int_equal(score_of(TERM_EQUAL, "ab", "/c/xab", NULL), SCORE_NONE);
	assert_true(score_of(TERM_EQUAL, "ab", "/c/ab", NULL) != SCORE_NONE);
	assert_true(score_of(TERM_EQUAL, "c/ab", "/c/ab", NULL) != SCORE_NONE);
}

static void should_bound_work_on_very_long_paths(void **state)
{
	(void)state;
	/* 200 000 bytes: far past the programme's cell budget for a 10-unit term. */
	size_t len = 200000;
	char *path = malloc(len);
	assert_non_null(path);
	for (size_t j = 0; j < len; j++)
		path[j] = j % 50 == 0 ? '/' : (char)('a' + j % 23);
	struct owned_subject o;
	subject_make(&o, path, len);
	struct score_scratch *x = scratch_new(16);
	uint32_t term[10], pos[10];
	size_t n;
	units_of("abcdefghij", term, &n);
	int32_t v = score_term(x, TERM_FUZZY, term, n, &o.s, pos);
	assert_true(v != SCORE_NONE);
	/* The fallback scores the alignment it reports (no component bonus applies). */
	assert_int_equal(score_alignment(term, n, &o.s, pos), v);
	for (size_t i = 1; i < n; i++)
		assert_true(pos[i] > pos[i - 1]);
	units_of("zz", term, &n);
	assert_int_equal(score_term(x, TERM_FUZZY, term, n, &o.s, NULL), SCORE_NONE);
	scratch_free(x);
	subject_release(&o);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(should_equal_the_best_alignment_found_by_brute_force),
	    cmocka_unit_test(should_never_reject_in_the_precheck_what_matches),
	    cmocka_unit_test(should_prefer_starts_of_words),
	    cmocka_unit_test(should_prefer_consecutive_runs),
	    cmocka_unit_test(should_penalize_long_gaps_more),
	    cmocka_unit_test(should_find_contiguous_terms_only_where_anchored),
	    cmocka_unit_test(should_bound_work_on_very_long_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
