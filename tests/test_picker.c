/* test_picker.c: the picker's pure parts: decoding keys from terminal bytes, editing the
 * query line, measuring and cutting paths for the screen, painting highlights, and the
 * shell integration scripts. The terminal itself is tested in tests/picker.sh. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "picker_impl.h"
#include "picker_line.h"
#include "picker_text.h"
#include "shell.h"
#include "term_key.h"

/* ---- keys ---- */

static struct term_key decode(const char *bytes, size_t *used)
{
	struct term_key k;
	*used = term_key_decode(bytes, strlen(bytes), 0, &k);
	return k;
}

static void should_decode_a_utf8_character_whole(void **state)
{
	(void)state;
	size_t n;
	struct term_key k = decode("\xe6\x97\xa5x", &n);
	assert_int_equal(n, 3);
	assert_int_equal(k.kind, KEY_CHAR);
	assert_int_equal(k.cp, 0x65e5);
	assert_string_equal(k.utf8, "\xe6\x97\xa5");
}

static void should_wait_for_the_rest_of_a_split_character(void **state)
{
	(void)state;
	struct term_key k;
	assert_int_equal(term_key_decode("\xe6\x97", 2, 0, &k), 0);
}

static void should_skip_a_byte_that_is_not_utf8(void **state)
{
	(void)state;
	size_t n;
	struct term_key k = decode("\xff"
				   "a",
				   &n);
	assert_int_equal(n, 1);
	assert_int_equal(k.kind, KEY_NONE);
}

static void should_decode_arrows_in_both_cursor_modes(void **state)
{
	(void)state;
	size_t n;
	assert_int_equal(decode("\033[A", &n).kind, KEY_UP);
	assert_int_equal(n, 3);
	assert_int_equal(decode("\033OB", &n).kind, KEY_DOWN);
	assert_int_equal(decode("\033[1;5C", &n).kind, KEY_RIGHT);
	assert_int_equal(n, 6);
	assert_int_equal(decode("\033[D", &n).kind, KEY_LEFT);
}

static void should_decode_special_keys_with_tildes(void **state)
{
	(void)state;
	size_t n;
	assert_int_equal(decode("\033[3~", &n).kind, KEY_DELETE);
	assert_int_equal(decode("\033[5~", &n).kind, KEY_PGUP);
	assert_int_equal(decode("\033[6~", &n).kind, KEY_PGDN);
	assert_int_equal(decode("\033[1~", &n).kind, KEY_HOME);
	assert_int_equal(decode("\033[4~", &n).kind, KEY_END);
	assert_int_equal(decode("\033[200~", &n).kind, KEY_PASTE_BEGIN);
	assert_int_equal(decode("\033[201~", &n).kind, KEY_PASTE_END);
	assert_int_equal(decode("\033[Z", &n).kind, KEY_BTAB);
}

static void should_decode_control_keys_by_letter(void **state)
{
	(void)state;
	size_t n;
	struct term_key k = decode("\x0b", &n);
	assert_int_equal(k.kind, KEY_CTRL);
	assert_int_equal(k.cp, 'k');
	assert_int_equal(decode("\n", &n).cp, 'j');
	assert_int_equal(decode("\r", &n).kind, KEY_ENTER);
	assert_int_equal(decode("\t", &n).kind, KEY_TAB);
	assert_int_equal(decode("\x7f", &n).kind, KEY_BSPACE);
	assert_int_equal(decode("\x08", &n).kind, KEY_BSPACE);
}

static void should_take_a_lone_escape_only_when_nothing_follows(void **state)
{
	(void)state;
	struct term_key k;
	assert_int_equal(term_key_decode("\033", 1, 0, &k), 0);
	assert_int_equal(term_key_decode("\033", 1, 1, &k), 1);
	assert_int_equal(k.kind, KEY_ESC);
	assert_int_equal(term_key_decode("\033\033[A", 4, 0, &k), 1);
	assert_int_equal(k.kind, KEY_ESC);
}

static void should_wait_for_the_end_of_an_escape_sequence(void **state)
{
	(void)state;
	struct term_key k;
	assert_int_equal(term_key_decode("\033[12;", 5, 0, &k), 0);
	assert_int_equal(term_key_decode("\033[12;", 5, 1, &k), 5);
	assert_int_equal(k.kind, KEY_NONE);
}

static void should_decode_alt_keys(void **state)
{
	(void)state;
	size_t n;
	struct term_key k = decode("\033b", &n);
	assert_int_equal(k.kind, KEY_ALT);
	assert_int_equal(k.cp, 'b');
	assert_int_equal(decode("\033\x7f", &n).kind, KEY_ALT_BSPACE);
}

static void should_decode_a_cursor_position_report(void **state)
{
	(void)state;
	size_t n;
	struct term_key k = decode("\033[12;40R", &n);
	assert_int_equal(k.kind, KEY_CPR);
	assert_int_equal(k.row, 12);
	assert_int_equal(k.col, 40);
	assert_int_equal(n, 8);
}

static void should_consume_an_unknown_sequence_whole(void **state)
{
	(void)state;
	size_t n;
	assert_int_equal(decode("\033[?1;2cx", &n).kind, KEY_NONE);
	assert_int_equal(n, 7);
}

/* ---- the query line ---- */

static void type(struct picker_line *l, const char *s)
{
	assert_int_equal(picker_line_insert(l, s, strlen(s)), 0);
}

static void should_insert_at_the_cursor(void **state)
{
	(void)state;
	struct picker_line l;
	picker_line_set(&l, "ac");
	picker_line_left(&l);
	type(&l, "b");
	assert_string_equal(l.text, "abc");
	assert_int_equal(l.cursor, 2);
}

static void should_delete_whole_characters_backward_and_forward(void **state)
{
	(void)state;
	struct picker_line l;
	picker_line_set(&l, "x\xc3\xa9y");
	picker_line_left(&l);
	assert_int_equal(picker_line_delete_backward(&l), 1);
	assert_string_equal(l.text, "xy");
	picker_line_start(&l);
	assert_int_equal(picker_line_delete_forward(&l), 1);
	assert_string_equal(l.text, "y");
	picker_line_start(&l);
	assert_int_equal(picker_line_delete_backward(&l), 0);
}

static void should_move_over_multibyte_characters(void **state)
{
	(void)state;
	struct picker_line l;
	picker_line_set(&l, "\xe6\x97\xa5\xe6\x9c\xac");
	picker_line_left(&l);
	assert_int_equal(l.cursor, 3);
	picker_line_left(&l);
	assert_int_equal(l.cursor, 0);
	picker_line_left(&l);
	assert_int_equal(l.cursor, 0);
	picker_line_right(&l);
	assert_int_equal(l.cursor, 3);
	picker_line_end(&l);
	assert_int_equal(l.cursor, 6);
}

static void should_kill_to_the_start_with_ctrl_u(void **state)
{
	(void)state;
	struct picker_line l;
	picker_line_set(&l, "nginx conf");
	picker_line_word_left(&l);
	assert_int_equal(picker_line_kill_to_start(&l), 1);
	assert_string_equal(l.text, "conf");
	assert_int_equal(l.cursor, 0);
}

static void should_rub_out_a_blank_separated_word_with_ctrl_w(void **state)
{
	(void)state;
	struct picker_line l;
	picker_line_set(&l, "etc/nginx conf.d  ");
	assert_int_equal(picker_line_rubout_word(&l), 1);
	assert_string_equal(l.text, "etc/nginx ");
	assert_int_equal(picker_line_rubout_word(&l), 1);
	assert_string_equal(l.text, "");
	assert_int_equal(picker_line_rubout_word(&l), 0);
}

static void should_stop_at_punctuation_with_alt_backspace(void **state)
{
	(void)state;
	struct picker_line l;
	picker_line_set(&l, "etc/nginx.conf");
	assert_int_equal(picker_line_kill_word_backward(&l), 1);
	assert_string_equal(l.text, "etc/nginx.");
	assert_int_equal(picker_line_kill_word_backward(&l), 1);
	assert_string_equal(l.text, "etc/");
}

static void should_refuse_to_grow_past_the_query_limit(void **state)
{
	(void)state;
	struct picker_line *l = malloc(sizeof(*l));
	assert_non_null(l);
	char *big = malloc(TRAWL_QUERY_MAX_BYTES + 2);
	assert_non_null(big);
	memset(big, 'a', TRAWL_QUERY_MAX_BYTES + 1);
	big[TRAWL_QUERY_MAX_BYTES + 1] = '\0';
	picker_line_set(l, big);
	assert_int_equal(l->len, TRAWL_QUERY_MAX_BYTES);
	assert_int_equal(picker_line_insert(l, "b", 1), -E2BIG);
	assert_int_equal(l->len, TRAWL_QUERY_MAX_BYTES);
	free(big);
	free(l);
}

static void should_cut_an_initial_query_on_a_character_boundary(void **state)
{
	(void)state;
	struct picker_line *l = malloc(sizeof(*l));
	char *big = malloc(TRAWL_QUERY_MAX_BYTES + 4);
	assert_non_null(l);
	assert_non_null(big);
	memset(big, 'a', TRAWL_QUERY_MAX_BYTES - 1);
	memcpy(big + TRAWL_QUERY_MAX_BYTES - 1, "\xc3\xa9\xc3\xa9", 5);
	picker_line_set(l, big);
	assert_int_equal(l->len, TRAWL_QUERY_MAX_BYTES - 1);
	free(big);
	free(l);
}

/* ---- text on screen ---- */

static void should_measure_wide_characters_as_two_columns(void **state)
{
	(void)state;
	assert_int_equal(text_width("abc", 3), 3);
	assert_int_equal(text_width("\xe6\x97\xa5\xe6\x9c\xac", 6), 4);
	/* e + combining acute: one column */
	assert_int_equal(text_width("e\xcc\x81", 3), 1);
}

static void should_show_bytes_that_are_not_utf8_as_replacement_characters(void **state)
{
	(void)state;
	struct text_char c;
	text_char_at("\xff\xfe", 2, 0, &c);
	assert_int_equal(c.n_bytes, 1);
	assert_int_equal(c.width, 1);
	assert_memory_equal(c.shown, "\xef\xbf\xbd", 3);
	assert_int_equal(text_width("/\xff\xfe", 3), 3);
}

static void should_never_send_control_characters_to_the_terminal(void **state)
{
	(void)state;
	struct text_char c;
	text_char_at("\033", 1, 0, &c);
	assert_string_equal(c.shown, "?");
	text_char_at("\n", 1, 0, &c);
	assert_string_equal(c.shown, "?");
	text_char_at("\xc2\x9b", 2, 0, &c); /* C1 CSI */
	assert_int_equal(c.n_bytes, 2);
	assert_string_equal(c.shown, "?");
	text_char_at("\xe2\x80\xae", 3, 0, &c); /* right-to-left override */
	assert_string_equal(c.shown, "?");
}

static void should_keep_a_path_that_fits(void **state)
{
	(void)state;
	struct text_fit f;
	text_fit("/etc/hosts", 10, 10, &f);
	assert_int_equal(f.from, 0);
	assert_int_equal(f.to, 10);
	assert_false(f.is_cut_left);
	assert_false(f.is_cut_right);
}

static void should_cut_a_long_path_from_the_left_keeping_the_basename(void **state)
{
	(void)state;
	const char *p = "/usr/share/doc/nginx/README";
	struct text_fit f;
	text_fit(p, strlen(p), 12, &f);
	assert_true(f.is_cut_left);
	assert_false(f.is_cut_right);
	assert_string_equal(p + f.from, "ginx/README"); /* "…" and 11 columns */
}

static void should_cut_wide_characters_whole(void **state)
{
	(void)state;
	const char *p = "/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e/x"; /* /日本語/x: 9 columns */
	struct text_fit f;
	text_fit(p, strlen(p), 6, &f);
	/* 5 columns after the "…": 語/x is 4, 本語/x would be 6 */
	assert_string_equal(p + f.from, "\xe8\xaa\x9e/x");
	assert_true(text_width(p + f.from, strlen(p + f.from)) + 1 <= 6);
}

static void should_show_the_start_of_a_basename_too_long_to_fit(void **state)
{
	(void)state;
	const char *p = "/tmp/averyveryverylongname";
	struct text_fit f;
	text_fit(p, strlen(p), 10, &f);
	assert_true(f.is_cut_left);
	assert_true(f.is_cut_right);
	assert_int_equal(f.from, 5);
	assert_int_equal(f.to - f.from, 8);
}

/* Paint a path into a string, highlights as [ ]. */
static char *paint(const char *path, size_t width, const uint32_t *pos, size_t n_pos)
{
	struct picker_buf b;
	struct text_fit f;
	picker_buf_init(&b);
	text_fit(path, strlen(path), width, &f);
	text_paint(&b, path, strlen(path), &f, pos, n_pos, "[", "]");
	picker_buf_add(&b, "", 1);
	assert_false(b.is_oom);
	return b.data;
}

static void should_highlight_matched_characters_in_runs(void **state)
{
	(void)state;
	const uint32_t pos[] = {5, 6, 7, 9};
	char *s = paint("/etc/nginx", 20, pos, 4);
	assert_string_equal(s, "/etc/[ngi]n[x]");
	free(s);
}

static void should_highlight_a_multibyte_character_by_its_first_byte(void **state)
{
	(void)state;
	const uint32_t pos[] = {1};
	char *s = paint("/\xc3\xa9t\xc3\xa9", 20, pos, 1);
	assert_string_equal(s, "/[\xc3\xa9]t\xc3\xa9");
	free(s);
}

static void should_paint_the_ellipsis_of_a_cut_path(void **state)
{
	(void)state;
	const uint32_t pos[] = {1, 21};
	char *s = paint("/usr/share/doc/nginx/README", 12, pos, 2);
	assert_string_equal(s, "\xe2\x80\xa6ginx/[R]EADME");
	free(s);
}

static void should_format_counts_in_five_characters(void **state)
{
	(void)state;
	char buf[16];
	picker_format_count(123, buf, sizeof(buf));
	assert_string_equal(buf, "123");
	picker_format_count(9999, buf, sizeof(buf));
	assert_string_equal(buf, "9999");
	picker_format_count(12345, buf, sizeof(buf));
	assert_string_equal(buf, "12.3k");
	picker_format_count(99999, buf, sizeof(buf));
	assert_string_equal(buf, "99.9k");
	picker_format_count(412446, buf, sizeof(buf));
	assert_string_equal(buf, "412k");
	picker_format_count(7935688, buf, sizeof(buf));
	assert_string_equal(buf, "7.9M");
	picker_format_count(27000000, buf, sizeof(buf));
	assert_string_equal(buf, "27M");
}

/* ---- shell integration ---- */

static char *shell_text(const char *shell)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	assert_int_equal(shell_print(shell, f), 0);
	fclose(f);
	return text;
}

static void should_print_a_script_for_each_shell(void **state)
{
	(void)state;
	const char *shells[] = {"bash", "zsh", "fish"};
	for (size_t i = 0; i < 3; i++) {
		char *s = shell_text(shells[i]);
		assert_non_null(strstr(s, "TRAWL_NO_CTRL_T"));
		assert_non_null(strstr(s, "TRAWL_NO_ALT_C"));
		assert_non_null(strstr(s, "--height"));
		assert_non_null(strstr(s, "--type d"));
		free(s);
	}
}

static void should_quote_paths_the_way_each_shell_reads_them(void **state)
{
	(void)state;
	char *s = shell_text("bash");
	assert_non_null(strstr(s, "printf -v"));
	assert_non_null(strstr(s, "%q"));
	free(s);
	s = shell_text("zsh");
	assert_non_null(strstr(s, "${(q)"));
	free(s);
	s = shell_text("fish");
	assert_non_null(strstr(s, "string escape"));
	free(s);
}

static void should_refuse_an_unknown_shell(void **state)
{
	(void)state;
	FILE *f = fopen("/dev/null", "w");
	assert_non_null(f);
	assert_int_equal(shell_print("tcsh", f), -EINVAL);
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(should_decode_a_utf8_character_whole),
	    cmocka_unit_test(should_wait_for_the_rest_of_a_split_character),
	    cmocka_unit_test(should_skip_a_byte_that_is_not_utf8),
	    cmocka_unit_test(should_decode_arrows_in_both_cursor_modes),
	    cmocka_unit_test(should_decode_special_keys_with_tildes),
	    cmocka_unit_test(should_decode_control_keys_by_letter),
	    cmocka_unit_test(should_take_a_lone_escape_only_when_nothing_follows),
	    cmocka_unit_test(should_wait_for_the_end_of_an_escape_sequence),
	    cmocka_unit_test(should_decode_alt_keys),
	    cmocka_unit_test(should_decode_a_cursor_position_report),
	    cmocka_unit_test(should_consume_an_unknown_sequence_whole),
	    cmocka_unit_test(should_insert_at_the_cursor),
	    cmocka_unit_test(should_delete_whole_characters_backward_and_forward),
	    cmocka_unit_test(should_move_over_multibyte_characters),
	    cmocka_unit_test(should_kill_to_the_start_with_ctrl_u),
	    cmocka_unit_test(should_rub_out_a_blank_separated_word_with_ctrl_w),
	    cmocka_unit_test(should_stop_at_punctuation_with_alt_backspace),
	    cmocka_unit_test(should_refuse_to_grow_past_the_query_limit),
	    cmocka_unit_test(should_cut_an_initial_query_on_a_character_boundary),
	    cmocka_unit_test(should_measure_wide_characters_as_two_columns),
	    cmocka_unit_test(should_show_bytes_that_are_not_utf8_as_replacement_characters),
	    cmocka_unit_test(should_never_send_control_characters_to_the_terminal),
	    cmocka_unit_test(should_keep_a_path_that_fits),
	    cmocka_unit_test(should_cut_a_long_path_from_the_left_keeping_the_basename),
	    cmocka_unit_test(should_cut_wide_characters_whole),
	    cmocka_unit_test(should_show_the_start_of_a_basename_too_long_to_fit),
	    cmocka_unit_test(should_highlight_matched_characters_in_runs),
	    cmocka_unit_test(should_highlight_a_multibyte_character_by_its_first_byte),
	    cmocka_unit_test(should_paint_the_ellipsis_of_a_cut_path),
	    cmocka_unit_test(should_format_counts_in_five_characters),
	    cmocka_unit_test(should_print_a_script_for_each_shell),
	    cmocka_unit_test(should_quote_paths_the_way_each_shell_reads_them),
	    cmocka_unit_test(should_refuse_an_unknown_shell),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
