/* test_match.c: queries against paths through the public interface: smart case, smart
 * normalization, every operator, positions, and each ranking rule. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "trawl_index.h"

static struct trawl_matcher *matcher;

static int setup(void **state)
{
	(void)state;
	matcher = trawl_matcher_new();
	return matcher ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	trawl_matcher_free(matcher);
	return 0;
}

static struct trawl_query *parse(const char *text)
{
	struct trawl_query *q = NULL;
	assert_int_equal(trawl_query_parse(text, strlen(text), &q, NULL), 0);
	return q;
}

/* Whether `query` matches `path`; the score goes to *score when not NULL. */
static int matches_scored(const char *query, const char *path, int32_t *score)
{
	struct trawl_query *q = parse(query);
	int32_t s = 0;
	int rc = trawl_match(matcher, q, path, strlen(path), &s);
	assert_true(rc == 0 || rc == 1);
	trawl_query_free(q);
	if (score)
		*score = s;
	return rc;
}

static int matches(const char *query, const char *path)
{
	return matches_scored(query, path, NULL);
}

/* Assert that `query` ranks `better` strictly before `worse`, both matching. */
static void assert_ranks_before(const char *query, const char *better, const char *worse)
{
	int32_t sb, sw;
	if (!matches_scored(query, better, &sb))
		fail_msg("'%s' does not match '%s'", query, better);
	if (!matches_scored(query, worse, &sw))
		fail_msg("'%s' does not match '%s'", query, worse);
	if (trawl_rank_cmp(sb, better, strlen(better), sw, worse, strlen(worse)) >= 0)
		fail_msg("'%s': '%s' (%d) should rank before '%s' (%d)", query, better, sb, worse,
			 sw);
}

static void should_match_any_case_for_a_lowercase_term(void **state)
{
	(void)state;
	assert_true(matches("foo", "/x/Foo"));
	assert_true(matches("foo", "/x/FOO"));
	assert_true(matches("foo", "/x/foo"));
}

static void should_match_case_exactly_for_a_term_with_uppercase(void **state)
{
	(void)state;
	assert_true(matches("Foo", "/x/Foo"));
	assert_false(matches("Foo", "/x/foo"));
	assert_false(matches("Foo", "/x/FOO"));
	/* Smart case is per term: the other term stays insensitive. */
	assert_true(matches("Foo bar", "/BAR/Foo"));
}

static void should_ignore_accents_for_a_term_without_them(void **state)
{
	(void)state;
	assert_true(matches("cafe", "/x/café"));
	assert_true(matches("cafe", "/x/CAFÉ"));
	assert_true(matches("cafe", "/x/cafe"));
}

static void should_match_accents_exactly_for_a_term_with_them(void **state)
{
	(void)state;
	assert_true(matches("café", "/x/café"));
	assert_true(matches("café", "/x/CAFÉ"));
	assert_false(matches("café", "/x/cafe"));
	assert_false(matches("café", "/x/cafè"));
	assert_false(matches("Café", "/x/café"));
}

static void should_treat_nfc_and_nfd_spellings_as_equal(void **state)
{
	(void)state;
	const char *nfc = "/x/caf\xc3\xa9", *nfd = "/x/cafe\xcc\x81";
	assert_true(matches("caf\xc3\xa9", nfd));
	assert_true(matches("cafe\xcc\x81", nfc));
	assert_true(matches("cafe\xcc\x81", nfd));
	assert_false(matches("cafe\xcc\x81", "/x/cafe"));
}

static void should_apply_full_case_folds(void **state)
{
	(void)state;
	assert_true(matches("strasse", "/x/Straße"));
	assert_true(matches("straße", "/x/STRASSE"));
	assert_true(matches("istanbul", "/x/İstanbul"));
	assert_true(matches("σοφοσ", "/x/ΣΟΦΟΣ"));
}

static void should_match_names_that_are_not_utf8_byte_for_byte(void **state)
{
	(void)state;
	const char path[] = "/data/\xff\xfe-report";
	struct trawl_query *q = parse("report");
	int32_t score;
	uint32_t pos[16];
	size_t n;
	assert_int_equal(
	    trawl_match_positions(matcher, q, path, sizeof(path) - 1, &score, pos, 16, &n), 1);
	assert_int_equal(n, 6);
	assert_int_equal(pos[0], 9);
	trawl_query_free(q);
	/* An invalid byte in a query matches that byte only. */
	assert_true(matches("\xff", path));
	assert_false(matches("\xfd", path));
	assert_false(matches("\xff", "/data/\xc3\xbf")); /* U+00FF is not byte 0xFF */
}

static void should_match_fuzzy_terms_in_order_across_components(void **state)
{
	(void)state;
	assert_true(matches("ulc", "/usr/lib/libc.so"));
	assert_false(matches("clu", "/usr/lib/libc.so"));
	assert_true(matches("nginx/conf", "/etc/nginx/sites/conf"));
	assert_false(matches("nginx/conf", "/etc/nginxconf"));
}

static void should_require_every_term_in_any_order(void **state)
{
	(void)state;
	assert_true(matches("conf nginx", "/etc/nginx/nginx.conf"));
	assert_false(matches("conf apache", "/etc/nginx/nginx.conf"));
}

static void should_match_exact_terms_as_substrings(void **state)
{
	(void)state;
	assert_true(matches("'ginx", "/etc/nginx"));
	assert_false(matches("'gnx", "/etc/nginx"));
}

static void should_anchor_prefix_terms_at_component_starts(void **state)
{
	(void)state;
	assert_true(matches("^ngi", "/etc/nginx/x"));
	assert_false(matches("^gin", "/etc/nginx/x"));
	assert_true(matches("^/etc", "/etc/nginx"));
}

static void should_anchor_suffix_terms_at_the_end(void **state)
{
	(void)state;
	assert_true(matches(".conf$", "/etc/nginx.conf"));
	assert_false(matches(".conf$", "/etc/nginx.conf.bak"));
	assert_true(matches("^nginx.conf$", "/etc/nginx.conf"));
	assert_false(matches("^nginx.conf$", "/etc/xnginx.conf"));
}

static void should_exclude_paths_with_a_negated_term(void **state)
{
	(void)state;
	assert_false(matches("conf !nginx", "/etc/nginx/a.conf"));
	assert_true(matches("conf !nginx", "/etc/apache/a.conf"));
	/* Negation is exact, not fuzzy: "ngx" is not a substring here. */
	assert_true(matches("!ngx", "/etc/nginx"));
	assert_false(matches("!^etc", "/etc/x"));
	assert_true(matches("!^tc", "/etc/x"));
}

static void should_match_either_alternative(void **state)
{
	(void)state;
	assert_true(matches("png | jpg", "/a/b.jpg"));
	assert_true(matches("png | jpg", "/a/b.png"));
	assert_false(matches("png | jpg", "/a/b.gif"));
	assert_true(matches("img png | jpg", "/img/b.jpg"));
	assert_false(matches("img png | jpg", "/doc/b.jpg"));
}

static void should_match_every_path_with_an_empty_query(void **state)
{
	(void)state;
	int32_t score = -1;
	assert_true(matches_scored("", "/anything", &score));
	assert_int_equal(score, 0);
}

static void should_report_byte_offsets_of_matched_characters(void **state)
{
	(void)state;
	const char *path = "/é/Straße.txt"; /* é: 1-2, S at 4, ß: 8-9 */
	struct trawl_query *q = parse("strasse txt");
	int32_t score;
	uint32_t pos[32];
	size_t n;
	assert_int_equal(trawl_match_positions(matcher, q, path, strlen(path), &score, pos, 32, &n),
			 1);
	/* s t r a ß(ss) e, then t x t: "ss" is one character, reported once. */
	const uint32_t expect[] = {4, 5, 6, 7, 8, 10, 12, 13, 14};
	assert_int_equal(n, sizeof(expect) / sizeof(expect[0]));
	assert_memory_equal(pos, expect, sizeof(expect));
	int32_t plain;
	assert_int_equal(trawl_match(matcher, q, path, strlen(path), &plain), 1);
	assert_int_equal(plain, score);
	trawl_query_free(q);
}

static void should_rank_basename_matches_before_directory_matches(void **state)
{
	(void)state;
	assert_ranks_before("report", "/data/x/report.txt", "/report/data/x.txt");
	assert_ranks_before("mkfl", "/src/lib/Makefile", "/src/mk/fl/a.c");
}

static void should_rank_an_exact_basename_before_fuzzy_matches(void **state)
{
	(void)state;
	assert_ranks_before("readme", "/very/deep/tree/of/dirs/README", "/readme.d/r");
	assert_ranks_before("readme", "/very/deep/tree/of/dirs/README", "/x/read_me");
	assert_ranks_before("nginx.conf", "/a/b/c/d/nginx.conf", "/etc/nginx.conf.d");
}

static void should_rank_an_exact_stem_before_other_basenames(void **state)
{
	(void)state;
	assert_ranks_before("nginx", "/a/b/c/d/nginx.conf", "/etc/nginxctl");
	assert_ranks_before("multiarray", "/p/core/multiarray.py", "/p/multiarray_tests.py");
}

static void should_rank_a_basename_prefix_before_a_fuzzy_basename(void **state)
{
	(void)state;
	assert_ranks_before("mult", "/p/core/multiarray.py", "/p/x/mxuxlxt.py");
}

static void should_rank_a_whole_directory_name_before_a_partial_one(void **state)
{
	(void)state;
	assert_ranks_before("core multiarray", "/p/core/multiarray.py", "/p/corelib/multiarray.py");
}

static void should_break_ties_by_components_then_length_then_bytes(void **state)
{
	(void)state;
	assert_true(trawl_rank_cmp(5, "/a/bb", 5, 5, "/a/b/c", 6) < 0);
	assert_true(trawl_rank_cmp(5, "/a/bbbbbbbbb", 12, 5, "/a/b/c", 6) < 0);
	assert_true(trawl_rank_cmp(5, "/a/b", 4, 5, "/a/bb", 5) < 0);
	assert_true(trawl_rank_cmp(5, "/a/b", 4, 5, "/a/c", 4) < 0);
	assert_true(trawl_rank_cmp(5, "/a/c", 4, 5, "/a/b", 4) > 0);
	assert_int_equal(trawl_rank_cmp(5, "/a/c", 4, 5, "/a/c", 4), 0);
	assert_true(trawl_rank_cmp(6, "/a/b/c/d/e", 10, 5, "/a", 2) < 0);
}

static void should_handle_paths_far_longer_than_path_max(void **state)
{
	(void)state;
	size_t len = 70000;
	char *path = malloc(len);
	assert_non_null(path);
	for (size_t i = 0; i < len; i++)
		path[i] = i % 100 == 0 ? '/' : 'a' + i % 26;
	static const char name[] = "/needle.c";
	for (size_t i = 0; i < sizeof(name) - 1; i++)
		path[len - 9 + i] = name[i];
	struct trawl_query *q = parse("needle abc");
	int32_t score;
	uint32_t pos[64];
	size_t n;
	assert_int_equal(trawl_match_positions(matcher, q, path, len, &score, pos, 64, &n), 1);
	assert_int_equal(pos[n - 1], len - 3); /* the last 'e' of "needle.c" */
	trawl_query_free(q);
	free(path);
}

static void should_never_reject_in_the_quick_check_what_matches(void **state)
{
	(void)state;
	/* trawl_match() rejects ASCII paths early by a subsequence test on raw bytes;
	 * trawl_match_positions() always runs the full match. They must agree. */
	static const char alphabet[] = "abAB/._-x1 ";
	static const char *const terms[] = {"a",   "ab", "Ab", "'ab", "^a", "b$",   "!x",
					    "a/b", "x1", "ba", "B",   "_",  "a | x"};
	uint32_t seed = 99;
	int n_matched = 0;
	for (int round = 0; round < 20000; round++) {
		char path[24];
		size_t len = 1 + round % 20;
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			path[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		char query[64];
		seed = seed * 1103515245u + 12345u;
		const char *t1 = terms[(seed >> 16) % 13];
		const char *t2 = terms[(seed >> 8) % 13];
		snprintf(query, sizeof(query), "%s %s", t1, round % 2 ? t2 : "");
		struct trawl_query *q = parse(query);
		int32_t quick = 0, full = 0;
		uint32_t pos[64];
		size_t n;
		int a = trawl_match(matcher, q, path, len, &quick);
		int b = trawl_match_positions(matcher, q, path, len, &full, pos, 64, &n);
		if (a != b || (a && quick != full))
			fail_msg("'%s' on '%.*s': quick %d (%d), full %d (%d)", query, (int)len,
				 path, a, quick, b, full);
		n_matched += a;
		trawl_query_free(q);
	}
	assert_true(n_matched > 2000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(should_match_any_case_for_a_lowercase_term),
	    cmocka_unit_test(should_match_case_exactly_for_a_term_with_uppercase),
	    cmocka_unit_test(should_ignore_accents_for_a_term_without_them),
	    cmocka_unit_test(should_match_accents_exactly_for_a_term_with_them),
	    cmocka_unit_test(should_treat_nfc_and_nfd_spellings_as_equal),
	    cmocka_unit_test(should_apply_full_case_folds),
	    cmocka_unit_test(should_match_names_that_are_not_utf8_byte_for_byte),
	    cmocka_unit_test(should_match_fuzzy_terms_in_order_across_components),
	    cmocka_unit_test(should_require_every_term_in_any_order),
	    cmocka_unit_test(should_match_exact_terms_as_substrings),
	    cmocka_unit_test(should_anchor_prefix_terms_at_component_starts),
	    cmocka_unit_test(should_anchor_suffix_terms_at_the_end),
	    cmocka_unit_test(should_exclude_paths_with_a_negated_term),
	    cmocka_unit_test(should_match_either_alternative),
	    cmocka_unit_test(should_match_every_path_with_an_empty_query),
	    cmocka_unit_test(should_report_byte_offsets_of_matched_characters),
	    cmocka_unit_test(should_rank_basename_matches_before_directory_matches),
	    cmocka_unit_test(should_rank_an_exact_basename_before_fuzzy_matches),
	    cmocka_unit_test(should_rank_an_exact_stem_before_other_basenames),
	    cmocka_unit_test(should_rank_a_basename_prefix_before_a_fuzzy_basename),
	    cmocka_unit_test(should_rank_a_whole_directory_name_before_a_partial_one),
	    cmocka_unit_test(should_break_ties_by_components_then_length_then_bytes),
	    cmocka_unit_test(should_handle_paths_far_longer_than_path_max),
	    cmocka_unit_test(should_never_reject_in_the_quick_check_what_matches),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
