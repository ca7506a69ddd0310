/* test_protocol.c: request parsing and answer lines of docs/PROTOCOL.md. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol.h"
#include "trawl_index.h"

static int parse(const char *line, struct request *req, struct request_error *err)
{
	return request_parse(line, strlen(line), req, err);
}

static void assert_refused(const char *line, const char *message)
{
	struct request req;
	struct request_error err;
	assert_int_equal(parse(line, &req, &err), -EINVAL);
	if (!strstr(err.message, message))
		fail_msg("'%s': got error '%s', expected it to contain '%s'", line, err.message,
			 message);
	request_release(&req);
}

static void should_read_every_query_field(void **state)
{
	(void)state;
	struct request req;
	struct request_error err;
	assert_int_equal(parse("{\"id\":7,\"op\":\"query\",\"query\":\"nginx conf\",\"limit\":5,"
			       "\"under\":\"/etc\",\"type\":\"fd\",\"positions\":true,"
			       "\"frecency\":false}",
			       &req, &err),
			 0);
	assert_int_equal(req.op, OP_QUERY);
	assert_int_equal(json_integer_value(req.id), 7);
	assert_int_equal(req.query_len, 10);
	assert_memory_equal(req.query, "nginx conf", 10);
	assert_int_equal(req.limit, 5);
	assert_string_equal(req.under, "/etc");
	assert_int_equal(req.kinds, TRAWL_KIND_FILE | TRAWL_KIND_DIR);
	assert_true(req.has_positions);
	assert_false(req.has_frecency);
	request_release(&req);
}

static void should_default_the_limit_and_the_kinds(void **state)
{
	(void)state;
	struct request req;
	struct request_error err;
	assert_int_equal(parse("{\"id\":\"a\",\"op\":\"query\",\"query\":\"\"}", &req, &err), 0);
	assert_string_equal(json_string_value(req.id), "a");
	assert_int_equal(req.limit, PROTOCOL_DEFAULT_LIMIT);
	assert_int_equal(req.kinds, 0);
	assert_null(req.under);
	request_release(&req);
}

static void should_answer_a_request_without_id_with_null(void **state)
{
	(void)state;
	struct request req;
	struct request_error err;
	assert_int_equal(parse("{\"op\":\"hello\"}", &req, &err), 0);
	assert_true(json_is_null(req.id));
	request_release(&req);
}

static void should_keep_the_id_of_a_refused_request(void **state)
{
	(void)state;
	struct request req;
	struct request_error err;
	assert_int_equal(parse("{\"id\":9,\"op\":\"frobnicate\"}", &req, &err), -EINVAL);
	assert_int_equal(json_integer_value(req.id), 9);
	assert_string_equal(err.message, "unknown op 'frobnicate'");
	request_release(&req);
}

static void should_refuse_malformed_requests(void **state)
{
	(void)state;
	assert_refused("", "not JSON");
	assert_refused("{\"id\":1,", "not JSON");
	assert_refused("[1,2]", "must be a JSON object");
	assert_refused("\"query\"", "must be a JSON object");
	assert_refused("{\"id\":1}", "missing 'op'");
	assert_refused("{\"id\":1,\"op\":3}", "'op' must be a string");
	assert_refused("{\"id\":[1],\"op\":\"hello\"}", "'id' must be a number or a string");
	assert_refused("{\"id\":1,\"op\":\"query\"}", "missing 'query'");
	assert_refused("{\"id\":1,\"op\":\"query\",\"query\":5}", "'query' must be a string");
	assert_refused("{\"op\":\"query\",\"query\":\"a\",\"limit\":0}", "'limit' must be");
	assert_refused("{\"op\":\"query\",\"query\":\"a\",\"limit\":10001}", "'limit' must be");
	assert_refused("{\"op\":\"query\",\"query\":\"a\",\"limit\":\"5\"}", "'limit' must be");
	assert_refused("{\"op\":\"query\",\"query\":\"a\",\"type\":\"x\"}", "'type' must be");
	assert_refused("{\"op\":\"query\",\"query\":\"a\",\"under\":\"etc\"}", "absolute path");
	assert_refused("{\"op\":\"query\",\"query\":\"a\",\"under_bytes\":\"!!\"}", "not base64");
	assert_refused(
	    "{\"op\":\"query\",\"query\":\"a\",\"under\":\"/a\",\"under_bytes\":\"Lw==\"}",
	    "not both");
	assert_refused("{\"op\":\"query\",\"query\":\"a\",\"positions\":1}", "true or false");
	assert_refused("{\"op\":\"cancel\"}", "'target' must be");
	assert_refused("{\"op\":\"pick\"}", "missing 'path'");
	assert_refused("{\"op\":\"pick\",\"path\":\"rel\"}", "absolute path");
	assert_refused("{\"op\":\"query\",\"query\":\"a\\u0000b\"}", "not JSON");
}

static void should_refuse_a_query_longer_than_the_limit(void **state)
{
	(void)state;
	size_t n = TRAWL_QUERY_MAX_BYTES + 1;
	char *line = malloc(n + 64);
	assert_non_null(line);
	int head = sprintf(line, "{\"op\":\"query\",\"query\":\"");
	memset(line + head, 'a', n);
	strcpy(line + head + n, "\"}");
	assert_refused(line, "longer than");
	free(line);
}

static void should_decode_raw_path_bytes(void **state)
{
	(void)state;
	struct request req;
	struct request_error err;
	/* "/caf\xe9" */
	assert_int_equal(parse("{\"op\":\"pick\",\"path_bytes\":\"L2NhZuk=\"}", &req, &err), 0);
	assert_int_equal(req.path_len, 5);
	assert_memory_equal(req.path, "/caf\xe9", 5);
	request_release(&req);
}

static void should_round_trip_base64_of_every_length(void **state)
{
	(void)state;
	unsigned char bytes[40];
	for (size_t k = 0; k < sizeof(bytes); k++)
		bytes[k] = (unsigned char)(k * 37 + 11);
	for (size_t len = 0; len <= sizeof(bytes); len++) {
		char *text = protocol_base64_encode(bytes, len);
		assert_non_null(text);
		assert_int_equal(strlen(text), (len + 2) / 3 * 4);
		char *back;
		size_t back_len;
		assert_int_equal(protocol_base64_decode(text, strlen(text), &back, &back_len), 0);
		assert_int_equal(back_len, len);
		assert_memory_equal(back, bytes, len);
		free(back);
		free(text);
	}
}

static void should_tell_utf8_from_other_bytes(void **state)
{
	(void)state;
	assert_true(protocol_is_utf8("/home/caf\xc3\xa9", 11));
	assert_false(protocol_is_utf8("/home/caf\xe9", 10));
	assert_false(protocol_is_utf8("/a\0b", 4));
	assert_false(protocol_is_utf8("/\xed\xa0\x80", 4)); /* a surrogate */
}

static void should_send_a_non_utf8_path_as_bytes(void **state)
{
	(void)state;
	struct outbuf b = {0};
	json_t *id = json_integer(3);
	assert_int_equal(protocol_put_result(&b, id, "/caf\xe9", 5, 12, TRAWL_KIND_FILE, NULL, 0),
			 0);
	assert_int_equal(protocol_put_result(&b, id, "/caf\xc3\xa9", 6, 11, TRAWL_KIND_DIR,
					     (const uint32_t[]){1, 2}, 2),
			 0);
	assert_int_equal(protocol_put_done(&b, id, 2, 1, 40), 0);
	assert_int_equal(outbuf_append(&b, "", 1), 0);
	assert_string_equal(b.data,
			    "{\"id\":3,\"path_bytes\":\"L2NhZuk=\",\"score\":12,\"type\":\"f\"}\n"
			    "{\"id\":3,\"path\":\"/caf\xc3\xa9\",\"score\":11,\"type\":\"d\","
			    "\"positions\":[1,2]}\n"
			    "{\"id\":3,\"done\":true,\"matched\":2,\"matched_is_estimate\":true,"
			    "\"elapsed_us\":40}\n");
	json_decref(id);
	outbuf_release(&b);
}

static void should_put_errors_with_their_offset(void **state)
{
	(void)state;
	struct outbuf b = {0};
	assert_int_equal(protocol_put_error(&b, NULL, "query: empty negation", 3), 0);
	assert_int_equal(protocol_put_cancelled(&b, NULL), 0);
	assert_int_equal(outbuf_append(&b, "", 1), 0);
	assert_string_equal(b.data,
			    "{\"id\":null,\"error\":\"query: empty negation\",\"offset\":3}\n"
			    "{\"id\":null,\"done\":true,\"cancelled\":true}\n");
	outbuf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(should_read_every_query_field),
	    cmocka_unit_test(should_default_the_limit_and_the_kinds),
	    cmocka_unit_test(should_answer_a_request_without_id_with_null),
	    cmocka_unit_test(should_keep_the_id_of_a_refused_request),
	    cmocka_unit_test(should_refuse_malformed_requests),
	    cmocka_unit_test(should_refuse_a_query_longer_than_the_limit),
	    cmocka_unit_test(should_decode_raw_path_bytes),
	    cmocka_unit_test(should_round_trip_base64_of_every_length),
	    cmocka_unit_test(should_tell_utf8_from_other_bytes),
	    cmocka_unit_test(should_send_a_non_utf8_path_as_bytes),
	    cmocka_unit_test(should_put_errors_with_their_offset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
