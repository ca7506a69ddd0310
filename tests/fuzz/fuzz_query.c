/* fuzz_query.c: libFuzzer target for the query language: parse any bytes, and when
 * they parse, match them against a few paths with and without positions. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "trawl_index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const paths[] = {
    "/etc/nginx/nginx.conf",
    "/home/me/Documents/Caf\xc3\xa9.txt",
    "/srv/caf\xe9/a b",
    "/usr/share/doc/libfoo-dev/changelog.Debian.gz",
    "/",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trawl_query *q = NULL;
	struct trawl_query_error err;
	if (trawl_query_parse((const char *)data, size, &q, &err) != 0)
		return 0;
	struct trawl_matcher *m = trawl_matcher_new();
	for (size_t k = 0; m && k < sizeof(paths) / sizeof(paths[0]); k++) {
		int32_t score, score_pos;
		uint32_t pos[512];
		size_t n_pos;
		size_t len = strlen(paths[k]);
		int is_match = trawl_match(m, q, paths[k], len, &score);
		int is_match_pos =
		    trawl_match_positions(m, q, paths[k], len, &score_pos, pos, 512, &n_pos);
		/* Positions never change the verdict or the score. */
		if (is_match != is_match_pos || (is_match > 0 && score != score_pos))
			__builtin_trap();
	}
	trawl_matcher_free(m);
	trawl_query_free(q);
	return 0;
}
