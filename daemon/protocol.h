/* protocol.h: the wire format of docs/PROTOCOL.md: parsing one request line into a
 * struct request, and appending answer lines to an output buffer. No I/O, no state. */
#ifndef TRAWL_PROTOCOL_H
#define TRAWL_PROTOCOL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define PROTOCOL_VERSION	1
#define PROTOCOL_MAX_LINE_BYTES 65536 /* a request line, newline excluded */
#define PROTOCOL_MAX_LIMIT	10000 /* results one query may ask for */
#define PROTOCOL_DEFAULT_LIMIT	50

enum request_op {
	OP_HELLO = 1,
	OP_QUERY,
	OP_CANCEL,
	OP_STATUS,
	OP_RESCAN,
	OP_PICK,
	OP_SHUTDOWN,
};

/** A parsed request. Strings point into `doc` or into `bytes`; release with
 * request_release(). */
struct request {
	json_t *doc; /* the parsed line */
	json_t *id;  /* borrowed from doc; JSON null when the request had none */
	enum request_op op;
	/* query */
	const char *query;
	size_t query_len;
	size_t limit;
	char *under; /* owned: decoded "under" or "under_bytes"; NULL when absent */
	size_t under_len;
	unsigned kinds; /* TRAWL_KIND_* mask, 0 for all */
	int has_positions;
	int has_frecency;
	/* cancel */
	json_t *target; /* borrowed */
	/* pick */
	char *path; /* owned */
	size_t path_len;
	/* rescan */
	int is_full;
};

/** Why a request was refused: a message (lowercase, no full stop) and, for a query that
 * does not parse, the byte offset into the query (else -1). */
struct request_error {
	char message[256];
	long offset;
};

/**
 * Parse one request line (without its newline). Returns 0 and fills `req`, or -EINVAL
 * and fills `err` (req->id is then still the request's id when it could be read, so the
 * error can be answered to it; release `req` in both cases). Returns -ENOMEM too.
 */
int request_parse(const char *line, size_t len, struct request *req, struct request_error *err);

/** Free what a request holds and zero it. */
void request_release(struct request *req);

/** A growable byte buffer of answer lines. */
struct outbuf {
	char *data;
	size_t len, cap;
};

void outbuf_release(struct outbuf *b);
/** Append bytes; returns 0 or -ENOMEM. */
int outbuf_append(struct outbuf *b, const void *data, size_t len);

/** Append `obj` with "id" set to `id` (NULL: JSON null) as one line. Does not steal
 * `obj`. Returns 0 or -ENOMEM. */
int protocol_put_object(struct outbuf *b, json_t *id, json_t *obj);

/** Append {"id":…,"error":"<message>"} (and "offset" when offset >= 0). */
int protocol_put_error(struct outbuf *b, json_t *id, const char *message, long offset);

/** Append {"id":…,"ok":true}. */
int protocol_put_ok(struct outbuf *b, json_t *id);

/** Append one result line. `path` may be any bytes: valid UTF-8 goes as "path", anything
 * else as base64 "path_bytes". `positions` may be NULL. */
int protocol_put_result(struct outbuf *b, json_t *id, const char *path, size_t len, int32_t score,
			unsigned kind, const uint32_t *positions, size_t n_positions);

/** Append the done line of a query. */
int protocol_put_done(struct outbuf *b, json_t *id, uint64_t matched, int is_estimate,
		      uint64_t elapsed_us);

/** Append the done line of a cancelled query. */
int protocol_put_cancelled(struct outbuf *b, json_t *id);

/** Base64 (RFC 4648, padded) of `len` bytes into a new NUL-terminated string, or NULL. */
char *protocol_base64_encode(const void *data, size_t len);

/** Decode base64 into a new buffer (*out, *out_len, NUL-terminated). Returns 0, -EINVAL,
 * -ENOMEM. */
int protocol_base64_decode(const char *text, size_t len, char **out, size_t *out_len);

/** Whether `len` bytes are valid UTF-8 without NUL. */
int protocol_is_utf8(const char *s, size_t len);

#endif
