/* test_fold.c: normalization: case folding, mark stripping, NFC/NFD equality, invalid
 * UTF-8, offsets and classes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fold.h"

/* Fold `s` and compare the units with the code points of `expect` (valid UTF-8). */
static void assert_folds_to(const char *s, unsigned flags, const char *expect)
{
	struct fold_buf a, b;
	fold_buf_init(&a);
	fold_buf_init(&b);
	assert_int_equal(fold(&a, s, strlen(s), flags), 0);
	/* The expectation is already folded: folding it with case and marks kept turns
	 * it into its code points (NFC). */
	assert_int_equal(fold(&b, expect, strlen(expect), FOLD_KEEP_CASE | FOLD_KEEP_MARKS), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.units, b.units, a.len * sizeof(*a.units));
	fold_buf_release(&a);
	fold_buf_release(&b);
}

static void should_lowercase_ascii_by_default(void **state)
{
	(void)state;
	assert_folds_to("/Usr/Share/README", 0, "/usr/share/readme");
}

static void should_keep_case_when_asked(void **state)
{
	(void)state;
	assert_folds_to("/Usr/README", FOLD_KEEP_CASE, "/Usr/README");
}

static void should_strip_marks_by_default(void **state)
{
	(void)state;
	assert_folds_to("Café Crème", 0, "cafe creme");
}

static void should_keep_marks_when_asked(void **state)
{
	(void)state;
	assert_folds_to("Café", FOLD_KEEP_MARKS, "café");
	assert_folds_to("Café", FOLD_KEEP_MARKS | FOLD_KEEP_CASE, "Café");
}

static void should_fold_nfc_and_nfd_alike(void **state)
{
	(void)state;
	/* "é" precomposed, and "e" followed by U+0301 COMBINING ACUTE ACCENT. */
	for (unsigned flags = 0; flags < FOLD_VARIANTS; flags++)
		assert_folds_to("caf\xc3\xa9", flags,
				flags & FOLD_KEEP_MARKS ? "caf\xc3\xa9"
							: "caf"
							  "e");
	for (unsigned flags = 0; flags < FOLD_VARIANTS; flags++)
		assert_folds_to("cafe\xcc\x81", flags,
				flags & FOLD_KEEP_MARKS ? "caf\xc3\xa9" : "cafe");
}

static void should_apply_full_case_folds(void **state)
{
	(void)state;
	assert_folds_to("Straße", 0, "strasse");
	assert_folds_to("İstanbul", 0, "istanbul");
	assert_folds_to("ΣΟΦΟΣ", 0, "σοφοσ");
	assert_folds_to("ﬁle", 0, "file"); /* compatibility ligature */
}

static void should_pass_invalid_bytes_through(void **state)
{
	(void)state;
	const char s[] = "a\xff\xfe"
			 "b\xc3";
	struct fold_buf b;
	fold_buf_init(&b);
	assert_int_equal(fold(&b, s, sizeof(s) - 1, 0), 0);
	assert_int_equal(b.len, 5);
	assert_int_equal(b.units[0], 'a');
	assert_int_equal(b.units[1], FOLD_RAW_BYTE_BASE + 0xff);
	assert_int_equal(b.units[2], FOLD_RAW_BYTE_BASE + 0xfe);
	assert_int_equal(b.units[3], 'b');
	assert_int_equal(b.units[4], FOLD_RAW_BYTE_BASE + 0xc3); /* truncated sequence */
	fold_buf_release(&b);
}

static void should_record_source_offsets(void **state)
{
	(void)state;
	const char *s = "aé/ß"; /* a(0) é(1-2) /(3) ß(4-5) */
	struct fold_buf b;
	fold_buf_init(&b);
	assert_int_equal(fold(&b, s, strlen(s), 0), 0);
	assert_int_equal(b.len, 5); /* a e / s s */
	const uint32_t offsets[] = {0, 1, 3, 4, 4};
	assert_memory_equal(b.offsets, offsets, sizeof(offsets));
	fold_buf_release(&b);
}

static void should_classify_characters_of_the_source(void **state)
{
	(void)state;
	const char *s = "/aB1_é";
	struct fold_buf b;
	fold_buf_init(&b);
	assert_int_equal(fold(&b, s, strlen(s), 0), 0);
	const uint8_t classes[] = {CLASS_SLASH, CLASS_LOWER, CLASS_UPPER,
				   CLASS_DIGIT, CLASS_DELIM, CLASS_LOWER};
	assert_int_equal(b.len, sizeof(classes));
	assert_memory_equal(b.classes, classes, sizeof(classes));
	fold_buf_release(&b);
}

static void should_survive_long_runs_of_marks(void **state)
{
	(void)state;
	char s[3 + 2 * 500];
	s[0] = 'a';
	for (size_t i = 0; i < 500; i++) {
		s[1 + 2 * i] = '\xcc'; /* U+0301 COMBINING ACUTE ACCENT */
		s[2 + 2 * i] = '\x81';
	}
	s[1 + 2 * 500] = 'b';
	struct fold_buf b;
	fold_buf_init(&b);
	assert_int_equal(fold(&b, s, 2 + 2 * 500, 0), 0);
	assert_int_equal(b.len, 2);
	assert_int_equal(fold(&b, s, 2 + 2 * 500, FOLD_KEEP_MARKS), 0);
	assert_true(b.len >= 2);
	fold_buf_release(&b);
}

/* The loose byte form of ASCII takes a shortcut: it must equal what folding gives, for
 * every ASCII byte, and report its length past a short buffer. */
static void should_give_ascii_loose_bytes_as_folding_does(void **state)
{
	(void)state;
	struct fold_buf b;
	fold_buf_init(&b);
	char in[128], out[128];
	for (int i = 0; i < 128; i++)
		in[i] = (char)i;
	assert_int_equal(fold_loose_bytes(&b, in, sizeof(in), out, sizeof(out)), 128);
	/* What the general path gives: the same text with one non-ASCII character after it
	 * (an e with an acute accent, which folds to "e"). */
	char wide[130];
	memcpy(wide, in, sizeof(in));
	wide[128] = (char)0xc3;
	wide[129] = (char)0xa9;
	char wide_out[130];
	assert_int_equal(fold_loose_bytes(&b, wide, sizeof(wide), wide_out, sizeof(wide_out)), 129);
	assert_int_equal(wide_out[128], 'e');
	assert_memory_equal(out, wide_out, sizeof(out));
	char small[4];
	assert_int_equal(fold_loose_bytes(&b, "ABCDEFG", 7, small, sizeof(small)), 7);
	assert_memory_equal(small, "abcd", 4);
	fold_buf_release(&b);
}

/* A cluster that folds to more units than it has bytes ("½" is "1⁄2") leaves less room
 * for the ASCII after it: a long run of each must fit (the fuzzer found it did not). */
static void should_fold_expanding_clusters_followed_by_ascii(void **state)
{
	(void)state;
	char in[1000];
	size_t n = 0;
	for (int i = 0; i < 200; i++) {
		in[n++] = (char)0xc2;
		in[n++] = (char)0xbd;
	}
	while (n < sizeof(in))
		in[n++] = 'a';
	struct fold_buf b;
	fold_buf_init(&b);
	assert_int_equal(fold(&b, in, n, 0), 0);
	assert_int_equal(b.len, 200 * 3 + 600);
	assert_int_equal(b.units[0], '1');
	assert_int_equal(b.units[b.len - 1], 'a');
	fold_buf_release(&b);
}

static void should_detect_uppercase_and_marks_in_terms(void **state)
{
	(void)state;
	assert_false(fold_has_upper("foo", 3));
	assert_true(fold_has_upper("fOo", 3));
	assert_true(fold_has_upper("É", strlen("É")));
	assert_false(fold_has_upper("ß", strlen("ß")));
	assert_false(fold_has_mark("cafe", 4));
	assert_true(fold_has_mark("café", strlen("café")));
	assert_true(fold_has_mark("cafe\xcc\x81", 6));
	assert_false(fold_has_mark("\xff", 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(should_lowercase_ascii_by_default),
	    cmocka_unit_test(should_keep_case_when_asked),
	    cmocka_unit_test(should_strip_marks_by_default),
	    cmocka_unit_test(should_keep_marks_when_asked),
	    cmocka_unit_test(should_fold_nfc_and_nfd_alike),
	    cmocka_unit_test(should_apply_full_case_folds),
	    cmocka_unit_test(should_pass_invalid_bytes_through),
	    cmocka_unit_test(should_record_source_offsets),
	    cmocka_unit_test(should_classify_characters_of_the_source),
	    cmocka_unit_test(should_survive_long_runs_of_marks),
	    cmocka_unit_test(should_give_ascii_loose_bytes_as_folding_does),
	    cmocka_unit_test(should_fold_expanding_clusters_followed_by_ascii),
	    cmocka_unit_test(should_detect_uppercase_and_marks_in_terms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
