/* protocol.c: request parsing and answer formatting for docs/PROTOCOL.md. Every check of
 * a request's shape lives here, so the server only ever sees well-formed requests. */
#include "protocol.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "trawl_index.h"

static const struct {
	const char *name;
	enum request_op op;
} op_names[] = {
    {"hello", OP_HELLO},   {"query", OP_QUERY}, {"cancel", OP_CANCEL},	   {"status", OP_STATUS},
    {"rescan", OP_RESCAN}, {"pick", OP_PICK},	{"shutdown", OP_SHUTDOWN},
};

static int fail(struct request_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(struct request_error *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int protocol_is_utf8(const char *s, size_t len)
{
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
	size_t i = 0;
	while (i < len) {
		if (p[i] < 0x80) {
			if (p[i] == 0)
				return 0;
			i++;
			continue;
		}
		utf8proc_int32_t cp;
		utf8proc_ssize_t n = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &cp);
		if (n <= 0)
			return 0;
		i += (size_t)n;
	}
	return 1;
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *protocol_base64_encode(const void *data, size_t len)
{
	const unsigned char *in = data;
	char *out = malloc((len + 2) / 3 * 4 + 1);
	if (!out)
		return NULL;
	char *o = out;
	size_t i = 0;
	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*o++ = b64_alphabet[v >> 18];
		*o++ = b64_alphabet[(v >> 12) & 63];
		*o++ = b64_alphabet[(v >> 6) & 63];
		*o++ = b64_alphabet[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		*o++ = b64_alphabet[v >> 18];
		*o++ = b64_alphabet[(v >> 12) & 63];
		*o++ = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

static int b64_value(unsigned char c)
{
	const char *p = c ? strchr(b64_alphabet, c) : NULL;
	return p ? (int)(p - b64_alphabet) : -1;
}

int protocol_base64_decode(const char *text, size_t len, char **out, size_t *out_len)
{
	*out = NULL;
	*out_len = 0;
	if (len % 4)
		return -EINVAL;
	char *buf = malloc(len / 4 * 3 + 1);
	if (!buf)
		return -ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < len; i += 4) {
		int is_last = i + 4 == len;
		int pad = 0;
		if (is_last && text[i + 3] == '=')
			pad = text[i + 2] == '=' ? 2 : 1;
		uint32_t v = 0;
		for (int k = 0; k < 4; k++) {
			int d = k >= 4 - pad ? 0 : b64_value((unsigned char)text[i + k]);
			if (d < 0) {
				free(buf);
				return -EINVAL;
			}
			v = v << 6 | (uint32_t)d;
		}
		buf[n++] = (char)(v >> 16);
		if (pad < 2)
			buf[n++] = (char)(v >> 8);
		if (pad < 1)
			buf[n++] = (char)v;
	}
	buf[n] = '\0';
	*out = buf;
	*out_len = n;
	return 0;
}

/* A path given as "<key>" (UTF-8 text) or "<key>_bytes" (base64 of raw bytes). Returns 0
 * with *out NULL when neither is present. */
static int get_path(json_t *doc, const char *key, char **out, size_t *out_len,
		    struct request_error *err)
{
	char bytes_key[32];
	snprintf(bytes_key, sizeof(bytes_key), "%s_bytes", key);
	json_t *text = json_object_get(doc, key);
	json_t *raw = json_object_get(doc, bytes_key);
	*out = NULL;
	*out_len = 0;
	if (text && raw)
		return fail(err, "give '%s' or '%s', not both", key, bytes_key);
	if (text) {
		if (!json_is_string(text))
			return fail(err, "'%s' must be a string", key);
		size_t n = json_string_length(text);
		*out = malloc(n + 1);
		if (!*out)
			return -ENOMEM;
		memcpy(*out, json_string_value(text), n + 1);
		*out_len = n;
		return 0;
	}
	if (raw) {
		if (!json_is_string(raw))
			return fail(err, "'%s' must be a string", bytes_key);
		int rc = protocol_base64_decode(json_string_value(raw), json_string_length(raw),
						out, out_len);
		if (rc == -EINVAL)
			return fail(err, "'%s' is not base64", bytes_key);
		if (rc == 0 && memchr(*out, '\0', *out_len)) {
			free(*out);
			*out = NULL;
			return fail(err, "'%s' holds a NUL byte", bytes_key);
		}
		return rc;
	}
	return 0;
}

static int get_bool(json_t *doc, const char *key, int *out, struct request_error *err)
{
	json_t *v = json_object_get(doc, key);
	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return fail(err, "'%s' must be true or false", key);
	*out = json_is_true(v);
	return 0;
}

static int parse_query(json_t *doc, struct request *req, struct request_error *err)
{
	json_t *q = json_object_get(doc, "query");
	if (!q)
		return fail(err, "query: missing 'query'");
	if (!json_is_string(q))
		return fail(err, "'query' must be a string");
	req->query = json_string_value(q);
	req->query_len = json_string_length(q);
	if (req->query_len > TRAWL_QUERY_MAX_BYTES)
		return fail(err, "query: longer than %d bytes", TRAWL_QUERY_MAX_BYTES);

	req->limit = PROTOCOL_DEFAULT_LIMIT;
	json_t *limit = json_object_get(doc, "limit");
	if (limit && !json_is_null(limit)) {
		if (!json_is_integer(limit) || json_integer_value(limit) < 1 ||
		    json_integer_value(limit) > PROTOCOL_MAX_LIMIT)
			return fail(err, "'limit' must be an integer from 1 to %d",
				    PROTOCOL_MAX_LIMIT);
		req->limit = (size_t)json_integer_value(limit);
	}

	json_t *type = json_object_get(doc, "type");
	if (type && !json_is_null(type)) {
		if (!json_is_string(type) || json_string_length(type) == 0)
			return fail(err, "'type' must be \"f\", \"d\" or \"l\"");
		for (const char *t = json_string_value(type); *t; t++) {
			if (*t == 'f')
				req->kinds |= TRAWL_KIND_FILE;
			else if (*t == 'd')
				req->kinds |= TRAWL_KIND_DIR;
			else if (*t == 'l')
				req->kinds |= TRAWL_KIND_LINK;
			else
				return fail(err, "'type' must be \"f\", \"d\" or \"l\"");
		}
	}

	int rc = get_path(doc, "under", &req->under, &req->under_len, err);
	if (rc < 0)
		return rc;
	if (req->under && (req->under_len == 0 || req->under[0] != '/'))
		return fail(err, "'under' must be an absolute path");
	rc = get_bool(doc, "positions", &req->has_positions, err);
	if (rc == 0)
		rc = get_bool(doc, "frecency", &req->has_frecency, err);
	return rc;
}

int request_parse(const char *line, size_t len, struct request *req, struct request_error *err)
{
	memset(req, 0, sizeof(*req));
	err->message[0] = '\0';
	err->offset = -1;
	req->id = json_null();

	json_error_t jerr;
	req->doc = json_loadb(line, len, JSON_DECODE_ANY, &jerr);
	if (!req->doc)
		return fail(err, "not JSON: %s", jerr.text);
	if (!json_is_object(req->doc))
		return fail(err, "a request must be a JSON object");

	json_t *id = json_object_get(req->doc, "id");
	if (id && (json_is_integer(id) || json_is_string(id) || json_is_real(id))) {
		json_decref(req->id);
		req->id = json_incref(id);
	} else if (id && !json_is_null(id)) {
		return fail(err, "'id' must be a number or a string");
	}

	json_t *op = json_object_get(req->doc, "op");
	if (!op)
		return fail(err, "missing 'op'");
	if (!json_is_string(op))
		return fail(err, "'op' must be a string");
	const char *name = json_string_value(op);
	for (size_t k = 0; k < sizeof(op_names) / sizeof(op_names[0]); k++)
		if (strcmp(name, op_names[k].name) == 0)
			req->op = op_names[k].op;
	if (!req->op) {
		char shown[64];
		snprintf(shown, sizeof(shown), "%s", name);
		return fail(err, "unknown op '%s'", shown);
	}

	switch (req->op) {
	case OP_QUERY:
		return parse_query(req->doc, req, err);
	case OP_CANCEL:
		req->target = json_object_get(req->doc, "target");
		if (!req->target || !(json_is_integer(req->target) || json_is_string(req->target) ||
				      json_is_real(req->target)))
			return fail(err, "cancel: 'target' must be the id of a query");
		return 0;
	case OP_PICK: {
		int rc = get_path(req->doc, "path", &req->path, &req->path_len, err);
		if (rc == 0 && !req->path)
			return fail(err, "pick: missing 'path'");
		if (rc == 0 && (req->path_len == 0 || req->path[0] != '/'))
			return fail(err, "'path' must be an absolute path");
		return rc;
	}
	case OP_RESCAN:
		return get_bool(req->doc, "full", &req->is_full, err);
	case OP_HELLO:
	case OP_STATUS:
	case OP_SHUTDOWN:
		return 0;
	}
	return 0;
}

void request_release(struct request *req)
{
	json_decref(req->id);
	json_decref(req->doc);
	free(req->under);
	free(req->path);
	memset(req, 0, sizeof(*req));
}

void outbuf_release(struct outbuf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

int outbuf_append(struct outbuf *b, const void *data, size_t len)
{
	if (b->cap - b->len < len) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap - b->len < len)
			cap *= 2;
		char *p = realloc(b->data, cap);
		if (!p)
			return -ENOMEM;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

/* jansson's dump callback, appending to an outbuf. */
static int dump_to_outbuf(const char *buffer, size_t size, void *data)
{
	return outbuf_append(data, buffer, size) == 0 ? 0 : -1;
}

int protocol_put_object(struct outbuf *b, json_t *id, json_t *obj)
{
	/* "id" first: readers of raw lines (and the tests) find it at the start. */
	json_t *line = json_object();
	if (!line || json_object_set(line, "id", id ? id : json_null()) < 0 ||
	    json_object_update(line, obj) < 0) {
		json_decref(line);
		return -ENOMEM;
	}
	size_t before = b->len;
	int rc = json_dump_callback(line, dump_to_outbuf, b, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(line);
	if (rc == 0)
		rc = outbuf_append(b, "\n", 1);
	if (rc != 0) {
		b->len = before;
		return -ENOMEM;
	}
	return 0;
}

/* Put a freshly built object, then drop it; a NULL object means allocation failed. */
static int put_new(struct outbuf *b, json_t *id, json_t *obj)
{
	if (!obj)
		return -ENOMEM;
	int rc = protocol_put_object(b, id, obj);
	json_decref(obj);
	return rc;
}

int protocol_put_error(struct outbuf *b, json_t *id, const char *message, long offset)
{
	json_t *obj = json_object();
	if (obj)
		json_object_set_new(obj, "error", json_string(message));
	if (obj && offset >= 0)
		json_object_set_new(obj, "offset", json_integer(offset));
	return put_new(b, id, obj);
}

int protocol_put_ok(struct outbuf *b, json_t *id)
{
	return put_new(b, id, json_pack("{s:b}", "ok", 1));
}

static const char *kind_letter(unsigned kind)
{
	return kind == TRAWL_KIND_DIR ? "d" : kind == TRAWL_KIND_LINK ? "l" : "f";
}

int protocol_put_result(struct outbuf *b, json_t *id, const char *path, size_t len, int32_t score,
			unsigned kind, const uint32_t *positions, size_t n_positions)
{
	json_t *obj = json_object();
	if (!obj)
		return -ENOMEM;
	int rc = 0;
	if (protocol_is_utf8(path, len)) {
		rc = json_object_set_new(obj, "path", json_stringn_nocheck(path, len));
	} else {
		char *b64 = protocol_base64_encode(path, len);
		rc = b64 ? json_object_set_new(obj, "path_bytes", json_string(b64)) : -1;
		free(b64);
	}
	rc |= json_object_set_new(obj, "score", json_integer(score));
	rc |= json_object_set_new(obj, "type", json_string(kind_letter(kind)));
	if (positions) {
		json_t *arr = json_array();
		for (size_t k = 0; arr && k < n_positions; k++)
			rc |= json_array_append_new(arr, json_integer(positions[k]));
		rc |= json_object_set_new(obj, "positions", arr);
	}
	if (rc != 0) {
		json_decref(obj);
		return -ENOMEM;
	}
	return put_new(b, id, obj);
}

int protocol_put_done(struct outbuf *b, json_t *id, uint64_t matched, int is_estimate,
		      uint64_t elapsed_us)
{
	json_t *obj = json_pack("{s:b,s:I}", "done", 1, "matched", (json_int_t)matched);
	if (obj && is_estimate)
		json_object_set_new(obj, "matched_is_estimate", json_true());
	if (obj)
		json_object_set_new(obj, "elapsed_us", json_integer((json_int_t)elapsed_us));
	return put_new(b, id, obj);
}

int protocol_put_cancelled(struct outbuf *b, json_t *id)
{
	return put_new(b, id, json_pack("{s:b,s:b}", "done", 1, "cancelled", 1));
}
