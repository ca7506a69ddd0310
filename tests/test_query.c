/* test_query.c: the query parser: terms, operators, escapes, smart case and clear
 * errors for bad queries. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "query.h"

static struct trawl_query *parse(const char *text)
{
	struct trawl_query *q = NULL;
	struct trawl_query_error err = {0};
	int rc = trawl_query_parse(text, strlen(text), &q, &err);
	if (rc != 0)
		fail_msg("'%s' did not parse: %s at %zu", text, err.message, err.offset_bytes);
	return q;
}

static void assert_rejected(const char *text, const char *message, size_t offset)
{
	struct trawl_query *q = (struct trawl_query *)1;
	struct trawl_query_error err = {0};
	assert_int_equal(trawl_query_parse(text, strlen(text), &q, &err), -EINVAL);
	assert_null(q);
	assert_string_equal(err.message, message);
	assert_int_equal(err.offset_bytes, offset);
}

static void should_split_terms_on_whitespace(void **state)
{
	(void)state;
	struct trawl_query *q = parse("  nginx \t conf ");
	assert_int_equal(q->n_groups, 2);
	assert_string_equal(q->groups[0].terms[0].text, "nginx");
	assert_string_equal(q->groups[1].terms[0].text, "conf");
	assert_int_equal(q->groups[0].terms[0].kind, TERM_FUZZY);
	trawl_query_free(q);
}

static void should_accept_an_empty_query(void **state)
{
	(void)state;
	struct trawl_query *q = parse("   ");
	assert_int_equal(q->n_groups, 0);
	trawl_query_free(q);
}

static void should_recognise_every_operator(void **state)
{
	(void)state;
	struct trawl_query *q = parse("'exact ^start end$ ^whole$ !not fuzzy");
	assert_int_equal(q->n_groups, 6);
	const enum term_kind kinds[] = {TERM_EXACT, TERM_PREFIX, TERM_SUFFIX,
					TERM_EQUAL, TERM_EXACT,	 TERM_FUZZY};
	const char *texts[] = {"exact", "start", "end", "whole", "not", "fuzzy"};
	for (size_t g = 0; g < 6; g++) {
		assert_int_equal(q->groups[g].terms[0].kind, kinds[g]);
		assert_string_equal(q->groups[g].terms[0].text, texts[g]);
		assert_int_equal(q->groups[g].terms[0].is_negated, g == 4);
	}
	trawl_query_free(q);
}

static void should_combine_negation_with_anchors(void **state)
{
	(void)state;
	struct trawl_query *q = parse("!^tmp !.o$");
	assert_int_equal(q->groups[0].terms[0].kind, TERM_PREFIX);
	assert_true(q->groups[0].terms[0].is_negated);
	assert_int_equal(q->groups[1].terms[0].kind, TERM_SUFFIX);
	assert_true(q->groups[1].terms[0].is_negated);
	trawl_query_free(q);
}

static void should_group_alternatives_joined_by_a_bar(void **state)
{
	(void)state;
	struct trawl_query *q = parse("src a | b | c d");
	assert_int_equal(q->n_groups, 3);
	assert_int_equal(q->groups[0].n_terms, 1);
	assert_int_equal(q->groups[1].n_terms, 3);
	assert_string_equal(q->groups[1].terms[2].text, "c");
	assert_int_equal(q->groups[2].n_terms, 1);
	trawl_query_free(q);
}

static void should_take_escaped_bytes_literally(void **state)
{
	(void)state;
	struct trawl_query *q = parse("\\!bang a\\ b \\| x\\$ \\\\");
	assert_int_equal(q->n_groups, 5);
	assert_string_equal(q->groups[0].terms[0].text, "!bang");
	assert_false(q->groups[0].terms[0].is_negated);
	assert_string_equal(q->groups[1].terms[0].text, "a b");
	assert_string_equal(q->groups[2].terms[0].text, "|");
	assert_string_equal(q->groups[3].terms[0].text, "x$");
	assert_int_equal(q->groups[3].terms[0].kind, TERM_FUZZY);
	assert_string_equal(q->groups[4].terms[0].text, "\\");
	trawl_query_free(q);
}

static void should_pick_case_and_marks_per_term(void **state)
{
	(void)state;
	struct trawl_query *q = parse("foo Foo café Café");
	assert_int_equal(q->groups[0].terms[0].fold_flags, 0);
	assert_int_equal(q->groups[1].terms[0].fold_flags, FOLD_KEEP_CASE);
	assert_int_equal(q->groups[2].terms[0].fold_flags, FOLD_KEEP_MARKS);
	assert_int_equal(q->groups[3].terms[0].fold_flags, FOLD_KEEP_CASE | FOLD_KEEP_MARKS);
	assert_int_equal(q->fold_mask, 0xf);
	trawl_query_free(q);
}

static void should_reject_a_lone_negation(void **state)
{
	(void)state;
	assert_rejected("foo !", "empty negation", 4);
}

static void should_reject_an_unterminated_escape(void **state)
{
	(void)state;
	assert_rejected("foo\\", "unterminated escape", 3);
}

static void should_reject_operators_without_a_term(void **state)
{
	(void)state;
	assert_rejected("'", "operator without a term", 0);
	assert_rejected("a ^", "operator without a term", 2);
	assert_rejected("$", "operator without a term", 0);
	assert_rejected("^$", "operator without a term", 0);
	assert_rejected("!'", "operator without a term", 0);
}

static void should_reject_a_bar_without_both_sides(void **state)
{
	(void)state;
	assert_rejected("| a", "'|' without a term before it", 0);
	assert_rejected("a | | b", "'|' without a term before it", 4);
	assert_rejected("a |", "'|' without a term after it", 2);
}

static void should_reject_terms_with_nothing_to_match(void **state)
{
	(void)state;
	/* U+200B ZERO WIDTH SPACE is default-ignorable: it folds to nothing. */
	assert_rejected("a \xe2\x80\x8b", "term has no character to match", 2);
}

static void should_reject_overlong_queries_and_terms(void **state)
{
	(void)state;
	char text[TRAWL_QUERY_MAX_BYTES + 2];
	memset(text, 'a', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	struct trawl_query *q = NULL;
	assert_int_equal(trawl_query_parse(text, strlen(text), &q, NULL), -E2BIG);
	assert_null(q);
	text[TERM_MAX_UNITS + 1] = '\0';
	assert_rejected(text, "term too long", 0);
	text[TERM_MAX_UNITS] = '\0';
	trawl_query_free(parse(text));
}

static void should_parse_any_bytes_without_crashing(void **state)
{
	(void)state;
	/* Every byte value, including NUL and invalid UTF-8, in short random strings. */
	uint32_t seed = 12345;
	for (int round = 0; round < 20000; round++) {
		char text[16];
		size_t len = (seed >> 7) % sizeof(text);
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			text[i] = (char)(seed >> 16);
		}
		struct trawl_query *q = NULL;
		struct trawl_query_error err = {0};
		int rc = trawl_query_parse(text, len, &q, &err);
		assert_true(rc == 0 || rc == -EINVAL);
		assert_true((rc == 0) == (q != NULL));
		if (rc == -EINVAL)
			assert_true(err.offset_bytes <= len && err.message);
		trawl_query_free(q);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(should_split_terms_on_whitespace),
	    cmocka_unit_test(should_accept_an_empty_query),
	    cmocka_unit_test(should_recognise_every_operator),
	    cmocka_unit_test(should_combine_negation_with_anchors),
	    cmocka_unit_test(should_group_alternatives_joined_by_a_bar),
	    cmocka_unit_test(should_take_escaped_bytes_literally),
	    cmocka_unit_test(should_pick_case_and_marks_per_term),
	    cmocka_unit_test(should_reject_a_lone_negation),
	    cmocka_unit_test(should_reject_an_unterminated_escape),
	    cmocka_unit_test(should_reject_operators_without_a_term),
	    cmocka_unit_test(should_reject_a_bar_without_both_sides),
	    cmocka_unit_test(should_reject_terms_with_nothing_to_match),
	    cmocka_unit_test(should_reject_overlong_queries_and_terms),
	    cmocka_unit_test(should_parse_any_bytes_without_crashing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
