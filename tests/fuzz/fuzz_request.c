/* fuzz_request.c: libFuzzer target for the request parser and the query parser behind
 * it: any bytes as one request line must give a request or a clean refusal. */
#include <stddef.h>
#include <stdint.h>

#include "protocol.h"
#include "trawl_index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct request req;
	struct request_error err;
	if (request_parse((const char *)data, size, &req, &err) == 0 && req.op == OP_QUERY) {
		struct trawl_query *q = NULL;
		struct trawl_query_error qe;
		if (trawl_query_parse(req.query, req.query_len, &q, &qe) == 0)
			trawl_query_free(q);
	}
	struct outbuf out = {0};
	protocol_put_error(&out, req.id, err.message, err.offset);
	outbuf_release(&out);
	request_release(&req);
	return 0;
}
