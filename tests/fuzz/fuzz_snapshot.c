/* fuzz_snapshot.c: libFuzzer target for the snapshot loader: any file must be refused
 * cleanly or load into an index that answers queries. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "trawl_index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/trawl-fuzz-snapshot.%d", (int)getpid());
	FILE *f = fopen(path, "wb");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	struct trawl_index *ix = NULL;
	if (trawl_index_load(path, 1, &ix) == 0) {
		struct trawl_query *q = NULL;
		struct trawl_query_error err;
		if (trawl_query_parse("a", 1, &q, &err) == 0) {
			struct trawl_results res = {0};
			struct trawl_search_options opts = {.threads = 1};
			trawl_index_search(ix, q, &opts, &res);
			trawl_results_release(&res);
			trawl_query_free(q);
		}
		trawl_index_free(ix);
	}
	unlink(path);
	return 0;
}
