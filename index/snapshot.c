/* snapshot.c: saving the base generation to a snapshot file, and loading one back as a
 * read-only mapping whose arrays the store uses in place and whose postings are CRoaring
 * frozen views. The format is docs/INDEX_FORMAT.md; no byte is used before it is checked. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utf8proc.h>

#include "dirmeta.h"
#include "fold.h"
#include "generation.h"
#include "trawl_index.h"

#define SNAPSHOT_MAGIC "TRAWLIDX"
/* Bump on any change to the layout, and on any change to what the arrays or postings
 * mean (the store's order, the loose fold, the posting rules of postings.c): an old
 * snapshot must be rejected and rebuilt, never read with new meanings. */
#define SNAPSHOT_FORMAT_VERSION 3
/* Written natively; a host of the other byte order reads 0x04030201. */
#define SNAPSHOT_BYTE_ORDER_MARK 0x01020304u
/* Sections start at multiples of this: a cache line, and a multiple of what frozen
 * bitmaps need. */
#define SNAPSHOT_SECTION_ALIGN_BYTES 64
/* roaring_bitmap_frozen_view() wants its buffer aligned so. */
#define SNAPSHOT_BITMAP_ALIGN_BYTES 32
/* The writer's buffer: large enough that writes are few, small enough not to matter. */
#define SNAPSHOT_WRITE_BUFFER_BYTES (1u << 20)

enum section_id {
	SECTION_ENTRY_PARENT = 1,
	SECTION_ENTRY_NAME_ID,
	SECTION_SUBTREE_DIR_BITS,
	SECTION_SUBTREE_DIR_RANK,
	SECTION_SUBTREE_END,
	SECTION_ENTRY_KIND,
	SECTION_NAME_OFFSET,
	SECTION_NAME_BYTES,
	SECTION_NAME_ENTRIES_OFFSET,
	SECTION_NAME_ENTRIES,
	SECTION_CHAR_POSTING_INDEX,
	SECTION_CHAR_POSTINGS,
	SECTION_TRIGRAM_KEYS,
	SECTION_TRIGRAM_POSTING_INDEX,
	SECTION_TRIGRAM_POSTINGS,
	SECTION_DIR_BITS,
	SECTION_DIR_RANK,
	SECTION_DIR_MTIME,
	SECTION_DIR_ATTR_ID,
	SECTION_DIR_ATTRS,
	SECTION_DIR_CTIME_RANK,
	SECTION_DIR_CTIME,
	N_SECTIONS = SECTION_DIR_CTIME,
};

/* One row of the section table. */
struct snapshot_section {
	uint32_t id;
	uint32_t crc32c; /* of the section's length_bytes bytes */
	uint64_t offset_bytes;
	uint64_t length_bytes;
	uint64_t reserved; /* zero */
};

/* Where one frozen bitmap lies in a postings section; length 0: no bitmap. */
struct snapshot_posting {
	uint64_t offset_bytes; /* from the start of the postings section */
	uint64_t length_bytes;
};

struct snapshot_header {
	char magic[8];
	uint32_t format_version;
	uint32_t byte_order_mark;
	uint32_t header_bytes;	/* this header and the section table */
	uint32_t header_crc32c; /* of header_bytes bytes, this field taken as zero */
	uint64_t file_bytes;
	uint32_t n_entries;
	uint32_t n_names;
	uint64_t name_bytes_length_bytes;
	uint64_t n_trigram_slots;
	uint64_t n_trigrams;
	uint32_t n_sections;
	uint32_t roaring_version; /* major << 16 | minor << 8 | revision */
	uint32_t fold_probe_crc32c;
	uint32_t n_dirs;
	char utf8proc_version[16];
	uint32_t n_dir_attrs;
	uint32_t n_dir_ctimes;
};

#define SNAPSHOT_HEADER_BYTES \
	(sizeof(struct snapshot_header) + N_SECTIONS * sizeof(struct snapshot_section))

_Static_assert(sizeof(struct snapshot_header) == 104, "the header has no padding");
_Static_assert(sizeof(struct snapshot_section) == 32, "a section row has no padding");
_Static_assert(sizeof(struct snapshot_posting) == 16, "a posting row has no padding");

static uint64_t align_up(uint64_t n, uint64_t to)
{
	return (n + to - 1) / to * to;
}

/* A fuzzing build (tests/fuzz/) skips the checksum comparisons, so that damaged files
 * reach the structural checks, which must hold on their own: a checksum is no defence
 * against a file made to pass it. */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define IS_FUZZING 1
#else
#define IS_FUZZING 0
#endif

/* ---- CRC32C (Castagnoli, reflected, as iSCSI and ext4 use it) ---- */

#define CRC32C_POLY 0x82f63b78u
/* The hardware path runs three independent streams over blocks of these sizes and
 * joins them with precomputed shift tables: the crc32 instruction has a latency of three
 * cycles and a throughput of one. */
#define CRC32C_LONG_BYTES  8192
#define CRC32C_SHORT_BYTES 256

static uint32_t crc32c_table[8][256];
static uint32_t crc32c_zeros_long[4][256];
static uint32_t crc32c_zeros_short[4][256];
static int crc32c_has_hardware;
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

/* The CRC register is linear over GF(2): an operator on it is its 32 column images. */
static uint32_t gf2_times(const uint32_t *op, uint32_t v)
{
	uint32_t sum = 0;
	for (int i = 0; v; i++, v >>= 1)
		if (v & 1)
			sum ^= op[i];
	return sum;
}

/* The operator that appends `len` zero bytes to a CRC. */
static void crc32c_zeros_operator(uint32_t result[32], uint64_t len)
{
	uint32_t power[32], tmp[32];
	/* One zero bit: shift right, reduce by the polynomial when bit 0 falls out. */
	power[0] = CRC32C_POLY;
	for (int i = 1; i < 32; i++)
		power[i] = 1u << (i - 1);
	for (int i = 0; i < 32; i++)
		result[i] = 1u << i;
	for (uint64_t bits = len * 8; bits; bits >>= 1) {
		if (bits & 1) {
			for (int i = 0; i < 32; i++)
				tmp[i] = gf2_times(power, result[i]);
			memcpy(result, tmp, sizeof(tmp));
		}
		for (int i = 0; i < 32; i++)
			tmp[i] = gf2_times(power, power[i]);
		memcpy(power, tmp, sizeof(tmp));
	}
}

/* zeros[k][b]: the register after `len` zero bytes, starting from b << 8k. */
static void crc32c_zeros(uint32_t zeros[4][256], size_t len)
{
	uint32_t op[32];
	crc32c_zeros_operator(op, len);
	for (int k = 0; k < 4; k++)
		for (uint32_t b = 0; b < 256; b++)
			zeros[k][b] = gf2_times(op, b << (8 * k));
}

/* The CRC32C of A then B, from those of A and of B and the length of B. */
static uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b)
{
	uint32_t op[32];
	crc32c_zeros_operator(op, len_b);
	return gf2_times(op, crc_a) ^ crc_b;
}

static uint32_t crc32c_shift(uint32_t zeros[4][256], uint32_t crc)
{
	return zeros[0][crc & 0xff] ^ zeros[1][(crc >> 8) & 0xff] ^ zeros[2][(crc >> 16) & 0xff] ^
	       zeros[3][crc >> 24];
}

static void crc32c_init(void)
{
	for (uint32_t b = 0; b < 256; b++) {
		uint32_t c = b;
		for (int i = 0; i < 8; i++)
			c = c & 1 ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		crc32c_table[0][b] = c;
	}
	for (uint32_t b = 0; b < 256; b++)
		for (int k = 1; k < 8; k++) {
			uint32_t c = crc32c_table[k - 1][b];
			crc32c_table[k][b] = (c >> 8) ^ crc32c_table[0][c & 0xff];
		}
	crc32c_zeros(crc32c_zeros_long, CRC32C_LONG_BYTES);
	crc32c_zeros(crc32c_zeros_short, CRC32C_SHORT_BYTES);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	crc32c_has_hardware = __builtin_cpu_supports("sse4.2");
#endif
}

/* Slicing by eight: the portable path. */
static uint32_t crc32c_software(uint32_t crc, const unsigned char *p, size_t n)
{
	crc = ~crc;
	while (n && ((uintptr_t)p & 7)) {
		crc = crc32c_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
		n--;
	}
	for (; n >= 8; p += 8, n -= 8) {
		uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
				     (uint32_t)p[3] << 24);
		crc = crc32c_table[7][lo & 0xff] ^ crc32c_table[6][(lo >> 8) & 0xff] ^
		      crc32c_table[5][(lo >> 16) & 0xff] ^ crc32c_table[4][lo >> 24] ^
		      crc32c_table[3][p[4]] ^ crc32c_table[2][p[5]] ^ crc32c_table[1][p[6]] ^
		      crc32c_table[0][p[7]];
	}
	while (n--)
		crc = crc32c_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>

static uint64_t load64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

/* Three streams over blocks of `block` bytes each, joined: crc(A B C) is crc(A) shifted
 * over B and C, xor crc(B) from zero shifted over C, xor crc(C) from zero. */
__attribute__((target("sse4.2"))) static uint64_t crc32c_hardware_blocks(uint64_t c0,
									 const unsigned char **pp,
									 size_t *np, size_t block,
									 uint32_t zeros[4][256])
{
	const unsigned char *p = *pp;
	size_t n = *np;
	for (; n >= 3 * block; p += 2 * block, n -= 3 * block) {
		uint64_t c1 = 0, c2 = 0;
		for (const unsigned char *end = p + block; p < end; p += 8) {
			c0 = _mm_crc32_u64(c0, load64(p));
			c1 = _mm_crc32_u64(c1, load64(p + block));
			c2 = _mm_crc32_u64(c2, load64(p + 2 * block));
		}
		c0 = crc32c_shift(zeros, (uint32_t)c0) ^ (uint32_t)c1;
		c0 = crc32c_shift(zeros, (uint32_t)c0) ^ (uint32_t)c2;
	}
	*pp = p;
	*np = n;
	return c0;
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_hardware(uint32_t crc,
								  const unsigned char *p, size_t n)
{
	uint64_t c = ~crc;
	while (n && ((uintptr_t)p & 7)) {
		c = _mm_crc32_u8((uint32_t)c, *p++);
		n--;
	}
	c = crc32c_hardware_blocks(c, &p, &n, CRC32C_LONG_BYTES, crc32c_zeros_long);
	c = crc32c_hardware_blocks(c, &p, &n, CRC32C_SHORT_BYTES, crc32c_zeros_short);
	for (; n >= 8; p += 8, n -= 8)
		c = _mm_crc32_u64(c, load64(p));
	while (n--)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return ~(uint32_t)c;
}
#else
static uint32_t crc32c_hardware(uint32_t crc, const unsigned char *p, size_t n)
{
	return crc32c_software(crc, p, n);
}
#endif

/* Make crc32c() ready; each entry point calls this first, crc32c() itself does not: with
 * pthread_once() inside the checksum loop's callee, GCC 12.2 at -O3 was seen to drop the
 * loop's stores (wrong code, reproduced outside trawl). */
static void crc32c_ready(void)
{
	pthread_once(&crc32c_once, crc32c_init);
}

/* Continue the CRC32C `crc` (0 to start) over n bytes at p. */
static uint32_t crc32c(uint32_t crc, const void *p, size_t n)
{
	if (crc32c_has_hardware)
		return crc32c_hardware(crc, p, n);
	return crc32c_software(crc, p, n);
}

/* ---- what a snapshot depends on besides its own bytes ---- */

/* Names whose loose folds differ between versions of the folding rules or of Unicode's
 * tables: case, marks, compatibility forms, special casing, invalid bytes. */
static const char *const fold_probes[] = {
    "Stra\303\237e",		/* ß */
    "\303\211COLE",		/* É, composed */
    "e\xcc\x81t\xc3\xa9",	/* é decomposed, then composed */
    "\xc7\x85\xc7\x84",		/* ǅ Ǆ: title and upper digraphs */
    "\xef\xac\x81\xef\xac\x80", /* ﬁ ﬀ ligatures */
    "\xce\xa3\xce\x91\xce\xa3", /* ΣΑΣ: final sigma */
    "\xc4\xb0\xc4\xb1",		/* İ ı */
    "\xef\xbc\xa1\xef\xbd\x82", /* Ａｂ: full width */
    "\xe2\x84\xab\xe2\x84\xa6", /* Å Ω: the Angstrom and Ohm signs */
    "x\xe2\x80\x8by",		/* a zero-width space */
    "\xe2\x85\xab",		/* Ⅻ */
    "\xe6\x97\xa5\xe6\x9c\xac", /* 日本 */
    "\xf0\x9f\x98\x80",		/* an emoji */
    "\xff\xfe\xc3",		/* invalid UTF-8 */
};

/* A CRC32C of the loose folds of the probes: a snapshot made with other folding rules
 * has its names in another order and other postings. Returns 0 or -ENOMEM. */
static int fold_probe_crc32c(uint32_t *out)
{
	char buf[256];
	uint32_t crc = 0;
	struct fold_buf fb;
	fold_buf_init(&fb);
	for (size_t i = 0; i < sizeof(fold_probes) / sizeof(fold_probes[0]); i++) {
		long n =
		    fold_loose_bytes(&fb, fold_probes[i], strlen(fold_probes[i]), buf, sizeof(buf));
		if (n < 0) {
			fold_buf_release(&fb);
			return (int)n;
		}
		uint32_t len = (uint32_t)n;
		crc = crc32c(crc, &len, sizeof(len));
		crc = crc32c(crc, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf));
	}
	fold_buf_release(&fb);
	*out = crc;
	return 0;
}

static uint32_t roaring_version(void)
{
	return (uint32_t)ROARING_VERSION_MAJOR << 16 | (uint32_t)ROARING_VERSION_MINOR << 8 |
	       (uint32_t)ROARING_VERSION_REVISION;
}

static void utf8proc_version_field(char field[16])
{
	memset(field, 0, 16);
	const char *v = utf8proc_version();
	size_t n = strlen(v);
	memcpy(field, v, n < 15 ? n : 15);
}

/* ---- writing ---- */

struct writer {
	int fd;
	unsigned char *buf;
	size_t used;
	uint64_t offset; /* of the next byte in the file */
	uint32_t crc;	 /* of the current section so far */
	struct snapshot_section *sections;
	unsigned char *scratch; /* for frozen bitmaps, SNAPSHOT_BITMAP_ALIGN_BYTES aligned */
	size_t scratch_cap;
};

static int write_all(int fd, const void *p, size_t n, off_t at)
{
	const char *c = p;
	while (n) {
		ssize_t k = at < 0 ? write(fd, c, n) : pwrite(fd, c, n, at);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -EIO;
		c += k;
		n -= (size_t)k;
		if (at >= 0)
			at += k;
	}
	return 0;
}

static int writer_flush(struct writer *w)
{
	int rc = write_all(w->fd, w->buf, w->used, -1);
	w->used = 0;
	return rc;
}

static int writer_put(struct writer *w, const void *p, size_t n)
{
	w->crc = crc32c(w->crc, p, n);
	w->offset += n;
	if (n > SNAPSHOT_WRITE_BUFFER_BYTES - w->used) {
		int rc = writer_flush(w);
		if (rc < 0)
			return rc;
		if (n >= SNAPSHOT_WRITE_BUFFER_BYTES)
			return write_all(w->fd, p, n, -1);
	}
	memcpy(w->buf + w->used, p, n);
	w->used += n;
	return 0;
}

static int writer_pad(struct writer *w, uint64_t align)
{
	static const unsigned char zeros[SNAPSHOT_SECTION_ALIGN_BYTES];
	size_t n = (size_t)(align_up(w->offset, align) - w->offset);
	return n ? writer_put(w, zeros, n) : 0;
}

/* Start section `id` at the next aligned offset. */
static int section_begin(struct writer *w, enum section_id id)
{
	int rc = writer_pad(w, SNAPSHOT_SECTION_ALIGN_BYTES);
	struct snapshot_section *s = &w->sections[id - 1];
	s->id = id;
	s->offset_bytes = w->offset;
	w->crc = 0;
	return rc;
}

static void section_end(struct writer *w, enum section_id id)
{
	struct snapshot_section *s = &w->sections[id - 1];
	s->length_bytes = w->offset - s->offset_bytes;
	s->crc32c = w->crc;
}

static int write_section(struct writer *w, enum section_id id, const void *p, size_t n)
{
	int rc = section_begin(w, id);
	if (rc == 0 && n)
		rc = writer_put(w, p, n);
	section_end(w, id);
	return rc;
}

static size_t frozen_bytes(const roaring_bitmap_t *r)
{
	return r ? roaring_bitmap_frozen_size_in_bytes(r) : 0;
}

/* The rows saying where each of the `n` bitmaps lies, then the bitmaps, each at an
 * aligned offset. With `keys`, only the bitmaps of used slots (keys[i] != 0) count. A
 * NULL bitmap gets a row of length 0. */
static int write_postings(struct writer *w, enum section_id index_id, enum section_id blobs_id,
			  roaring_bitmap_t *const *maps, const uint32_t *keys, size_t n)
{
	int rc = section_begin(w, index_id);
	uint64_t at = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (keys && !keys[i])
			continue;
		struct snapshot_posting row = {0, frozen_bytes(maps[i])};
		if (row.length_bytes) {
			row.offset_bytes = at;
			at += align_up(row.length_bytes, SNAPSHOT_BITMAP_ALIGN_BYTES);
		}
		rc = writer_put(w, &row, sizeof(row));
	}
	section_end(w, index_id);
	if (rc == 0)
		rc = section_begin(w, blobs_id);
	for (size_t i = 0; i < n && rc == 0; i++) {
		size_t len = keys && !keys[i] ? 0 : frozen_bytes(maps[i]);
		if (!len)
			continue;
		if (len > w->scratch_cap) {
			size_t cap = (size_t)align_up(len, SNAPSHOT_BITMAP_ALIGN_BYTES);
			unsigned char *s = aligned_alloc(SNAPSHOT_BITMAP_ALIGN_BYTES, cap);
			if (!s)
				return -ENOMEM;
			free(w->scratch);
			w->scratch = s;
			w->scratch_cap = cap;
		}
		roaring_bitmap_frozen_serialize(maps[i], (char *)w->scratch);
		if ((rc = writer_put(w, w->scratch, len)) == 0)
			rc = writer_pad(w, SNAPSHOT_BITMAP_ALIGN_BYTES);
	}
	section_end(w, blobs_id);
	return rc;
}

static int write_store(struct writer *w, const struct store *s)
{
	size_t n = s->n_entries, names = (size_t)s->n_names + 1, words = store_words(s->n_entries);
	int rc = write_section(w, SECTION_ENTRY_PARENT, s->parent, n * sizeof(uint32_t));
	if (rc == 0)
		rc = write_section(w, SECTION_ENTRY_NAME_ID, s->name_id, n * sizeof(uint32_t));
	if (rc == 0)
		rc = write_section(w, SECTION_SUBTREE_DIR_BITS, s->dir_bits,
				   words * sizeof(uint64_t));
	if (rc == 0)
		rc = write_section(w, SECTION_SUBTREE_DIR_RANK, s->dir_rank,
				   words * sizeof(uint32_t));
	if (rc == 0)
		rc = write_section(w, SECTION_SUBTREE_END, s->dir_end,
				   (size_t)s->n_dirs * sizeof(uint32_t));
	if (rc == 0)
		rc = write_section(w, SECTION_ENTRY_KIND, s->kind, n);
	if (rc == 0)
		rc =
		    write_section(w, SECTION_NAME_OFFSET, s->name_offset, names * sizeof(uint32_t));
	if (rc == 0)
		rc = write_section(w, SECTION_NAME_BYTES, s->name_bytes, s->name_bytes_len);
	if (rc == 0)
		rc = write_section(w, SECTION_NAME_ENTRIES_OFFSET, s->name_entries_offset,
				   names * sizeof(uint32_t));
	if (rc == 0)
		rc = write_section(w, SECTION_NAME_ENTRIES, s->name_entries, n * sizeof(uint32_t));
	return rc;
}

static int write_meta(struct writer *w, const struct dirmeta *m)
{
	size_t dirs = m->n_dirs;
	int rc = write_section(w, SECTION_DIR_BITS, m->dir_bits,
			       dirmeta_words(m->n_entries) * sizeof(uint64_t));
	if (rc == 0)
		rc = write_section(w, SECTION_DIR_RANK, m->dir_rank,
				   dirmeta_blocks(m->n_entries) * sizeof(uint32_t));
	if (rc == 0)
		rc = write_section(w, SECTION_DIR_MTIME, m->mtime_ns, dirs * sizeof(int64_t));
	if (rc == 0)
		rc = write_section(w, SECTION_DIR_ATTR_ID, m->attr_ids, dirs * m->attr_id_bytes);
	if (rc == 0)
		rc = write_section(w, SECTION_DIR_ATTRS, m->attrs,
				   (size_t)m->n_attrs * 3 * sizeof(uint32_t));
	if (rc == 0)
		rc = write_section(w, SECTION_DIR_CTIME_RANK, m->ctime_rank,
				   (size_t)m->n_ctimes * sizeof(uint32_t));
	if (rc == 0)
		rc = write_section(w, SECTION_DIR_CTIME, m->ctime_ns,
				   (size_t)m->n_ctimes * sizeof(int64_t));
	return rc;
}

static int write_snapshot(int fd, const struct base *b)
{
	const struct store *s = &b->store;
	const struct postings *p = &b->postings;
	struct snapshot_header h = {0};
	struct snapshot_section sections[N_SECTIONS] = {0};
	unsigned char head[SNAPSHOT_HEADER_BYTES] = {0};
	struct writer w = {.fd = fd, .sections = sections};
	size_t n_trigrams = 0;
	for (size_t slot = 0; slot < p->n_slots; slot++)
		n_trigrams += p->keys[slot] != 0;
	int rc = fold_probe_crc32c(&h.fold_probe_crc32c);
	if (rc < 0)
		return rc;
	if (!(w.buf = malloc(SNAPSHOT_WRITE_BUFFER_BYTES)))
		return -ENOMEM;
	/* The header goes in last, when the sections' checksums are known. */
	if ((rc = writer_put(&w, head, sizeof(head))) < 0 || (rc = write_store(&w, s)) < 0 ||
	    (rc = write_postings(&w, SECTION_CHAR_POSTING_INDEX, SECTION_CHAR_POSTINGS, p->chars,
				 NULL, 256)) < 0 ||
	    (rc = write_section(&w, SECTION_TRIGRAM_KEYS, p->keys, p->n_slots * sizeof(uint32_t))) <
		0 ||
	    (rc = write_postings(&w, SECTION_TRIGRAM_POSTING_INDEX, SECTION_TRIGRAM_POSTINGS,
				 p->maps, p->keys, p->n_slots)) < 0 ||
	    (rc = write_meta(&w, &b->meta)) < 0 || (rc = writer_flush(&w)) < 0)
		goto out;

	memcpy(h.magic, SNAPSHOT_MAGIC, sizeof(h.magic));
	h.format_version = SNAPSHOT_FORMAT_VERSION;
	h.byte_order_mark = SNAPSHOT_BYTE_ORDER_MARK;
	h.header_bytes = (uint32_t)SNAPSHOT_HEADER_BYTES;
	h.file_bytes = w.offset;
	h.n_entries = s->n_entries;
	h.n_names = s->n_names;
	h.name_bytes_length_bytes = s->name_bytes_len;
	h.n_trigram_slots = p->n_slots;
	h.n_trigrams = n_trigrams;
	h.n_sections = N_SECTIONS;
	h.n_dirs = b->meta.n_dirs; /* the store's too: both count the entries of kind dir */
	h.n_dir_attrs = b->meta.n_attrs;
	h.n_dir_ctimes = b->meta.n_ctimes;
	h.roaring_version = roaring_version();
	utf8proc_version_field(h.utf8proc_version);
	memcpy(head, &h, sizeof(h));
	memcpy(head + sizeof(h), sections, sizeof(sections));
	h.header_crc32c = crc32c(0, head, sizeof(head));
	memcpy(head + offsetof(struct snapshot_header, header_crc32c), &h.header_crc32c,
	       sizeof(h.header_crc32c));
	rc = write_all(fd, head, sizeof(head), 0);
out:
	free(w.buf);
	free(w.scratch);
	return rc;
}

/* Make the rename durable: fsync the directory holding `path`. */
static int sync_directory(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	if (!dir)
		return -ENOMEM;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) < 0 && errno != EINVAL ? -errno : 0; /* EINVAL: not supported */
	close(fd);
	return rc;
}

static int save_base(const struct base *b, const char *path)
{
	size_t cap = strlen(path) + 32;
	char *tmp = malloc(cap);
	if (!tmp)
		return -ENOMEM;
	snprintf(tmp, cap, "%s.tmp.%ld", path, (long)getpid());
	/* 0600: a snapshot lists every path its owner can see. */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		int rc = -errno;
		free(tmp);
		return rc;
	}
	int rc = write_snapshot(fd, b);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	else
		rc = sync_directory(path);
	free(tmp);
	return rc;
}

int trawl_index_save(struct trawl_index *ix, const char *path)
{
	crc32c_ready();
	struct generation *g = generation_get(ix);
	if (g->delta.n_records || g->delta.n_metas || !roaring_bitmap_is_empty(g->tombstones)) {
		generation_put(g);
		int rc = trawl_index_rebuild(ix);
		if (rc < 0)
			return rc;
		/* Changes made since the rebuild stay in the index, not in the file. */
		g = generation_get(ix);
	}
	int rc = save_base(g->base, path);
	generation_put(g);
	return rc;
}

/* ---- loading ---- */

/* Loading checks every byte. With several threads each takes an equal share of the
 * checksums, of the store's checks and of the trigram views; below this many bytes one
 * thread is done before another would have started. */
#define SNAPSHOT_LOAD_MAX_THREADS	 16
#define SNAPSHOT_LOAD_PARALLEL_MIN_BYTES (1u << 16)

struct loader {
	const unsigned char *map;
	size_t size;
	struct snapshot_header h;
	struct snapshot_section sections[N_SECTIONS];
	struct base *b;
	unsigned n_parts;
	/* The CRC32C and length of each part's piece of each section. */
	uint32_t piece_crc[N_SECTIONS][SNAPSHOT_LOAD_MAX_THREADS];
	uint64_t piece_bytes[N_SECTIONS][SNAPSHOT_LOAD_MAX_THREADS];
	/* Each part's first trigram slot and the posting row of its first used slot. */
	size_t first_slot[SNAPSHOT_LOAD_MAX_THREADS + 1];
	size_t first_row[SNAPSHOT_LOAD_MAX_THREADS + 1];
	int rc[SNAPSHOT_LOAD_MAX_THREADS];
};

/* The start of part i of n items. */
static uint64_t share(uint64_t n, unsigned i, unsigned n_parts)
{
	return n / n_parts * i + n % n_parts * i / n_parts;
}

/* What the parts of a load do: run_parts() runs one phase on every part. */
enum load_phase {
	LOAD_CHECKSUMS,
	LOAD_CHECKS,
};

static void checksum_part(struct loader *l, unsigned i);
static void check_part(struct loader *l, unsigned i);

struct part {
	struct loader *l;
	unsigned i;
	enum load_phase phase;
};

static void run_part_here(struct loader *l, unsigned i, enum load_phase phase)
{
	if (phase == LOAD_CHECKSUMS)
		checksum_part(l, i);
	else
		check_part(l, i);
}

static void *run_part(void *arg)
{
	struct part *p = arg;
	run_part_here(p->l, p->i, p->phase);
	return NULL;
}

/* Run `phase` for every part: part 0 here, the others on their own threads (or here too
 * when a thread cannot be started). */
static void run_parts(struct loader *l, enum load_phase phase)
{
	struct part parts[SNAPSHOT_LOAD_MAX_THREADS];
	pthread_t tids[SNAPSHOT_LOAD_MAX_THREADS];
	int started[SNAPSHOT_LOAD_MAX_THREADS] = {0};
	for (unsigned i = 1; i < l->n_parts; i++) {
		parts[i] = (struct part){l, i, phase};
		started[i] = pthread_create(&tids[i], NULL, run_part, &parts[i]) == 0;
	}
	run_part_here(l, 0, phase);
	for (unsigned i = 1; i < l->n_parts; i++) {
		if (started[i])
			pthread_join(tids[i], NULL);
		else
			run_part_here(l, i, phase);
	}
}

static const struct snapshot_section *section(const struct loader *l, enum section_id id)
{
	return &l->sections[id - 1];
}

static const void *section_bytes(const struct loader *l, enum section_id id)
{
	return l->map + section(l, id)->offset_bytes;
}

/* Whether section `id` holds exactly `count` items of `item_bytes`. */
static int has_items(const struct loader *l, enum section_id id, uint64_t count,
		     uint64_t item_bytes)
{
	uint64_t n;
	return !__builtin_mul_overflow(count, item_bytes, &n) && section(l, id)->length_bytes == n;
}

static int is_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* The header, the section table and the sizes they claim, against the file. */
static int check_header(struct loader *l)
{
	struct snapshot_header *h = &l->h;
	if (l->size < sizeof(*h))
		return -EINVAL;
	memcpy(h, l->map, sizeof(*h));
	/* The magic, byte order and version come first: they alone are fixed forever. */
	if (memcmp(h->magic, SNAPSHOT_MAGIC, sizeof(h->magic)) != 0 ||
	    h->byte_order_mark != SNAPSHOT_BYTE_ORDER_MARK ||
	    h->format_version != SNAPSHOT_FORMAT_VERSION)
		return -EINVAL;
	if (h->header_bytes != SNAPSHOT_HEADER_BYTES || h->n_sections != N_SECTIONS ||
	    l->size < SNAPSHOT_HEADER_BYTES || h->file_bytes != l->size)
		return -EINVAL;
	unsigned char head[SNAPSHOT_HEADER_BYTES];
	memcpy(head, l->map, sizeof(head));
	memset(head + offsetof(struct snapshot_header, header_crc32c), 0, sizeof(uint32_t));
	if (crc32c(0, head, sizeof(head)) != h->header_crc32c && !IS_FUZZING)
		return -EINVAL;
	memcpy(l->sections, l->map + sizeof(*h), sizeof(l->sections));

	/* Sections in id order, aligned, apart, inside the file, zeros between them. */
	uint64_t at = SNAPSHOT_HEADER_BYTES;
	for (int i = 0; i < N_SECTIONS; i++) {
		const struct snapshot_section *s = &l->sections[i];
		if (s->id != (uint32_t)i + 1 || s->reserved ||
		    s->offset_bytes % SNAPSHOT_SECTION_ALIGN_BYTES || s->offset_bytes < at ||
		    s->offset_bytes > l->size || s->length_bytes > l->size - s->offset_bytes ||
		    !is_zero(l->map + at, (size_t)(s->offset_bytes - at)))
			return -EINVAL;
		at = s->offset_bytes + s->length_bytes;
	}
	if (at != l->size)
		return -EINVAL;

	uint64_t n = h->n_entries, names = (uint64_t)h->n_names + 1;
	if (h->n_entries == 0 || h->n_entries == UINT32_MAX || h->n_names > h->n_entries ||
	    h->name_bytes_length_bytes > UINT32_MAX)
		return -EINVAL;
	if (h->n_dirs > h->n_entries || h->n_dir_attrs > h->n_dirs || h->n_dir_ctimes > h->n_dirs)
		return -EINVAL;
	if (!has_items(l, SECTION_ENTRY_PARENT, n, 4) ||
	    !has_items(l, SECTION_ENTRY_NAME_ID, n, 4) ||
	    !has_items(l, SECTION_SUBTREE_DIR_BITS, store_words(h->n_entries), 8) ||
	    !has_items(l, SECTION_SUBTREE_DIR_RANK, store_words(h->n_entries), 4) ||
	    !has_items(l, SECTION_SUBTREE_END, h->n_dirs, 4) ||
	    !has_items(l, SECTION_ENTRY_KIND, n, 1) ||
	    !has_items(l, SECTION_NAME_OFFSET, names, 4) ||
	    !has_items(l, SECTION_NAME_BYTES, h->name_bytes_length_bytes, 1) ||
	    !has_items(l, SECTION_NAME_ENTRIES_OFFSET, names, 4) ||
	    !has_items(l, SECTION_NAME_ENTRIES, n, 4) ||
	    !has_items(l, SECTION_CHAR_POSTING_INDEX, 256, sizeof(struct snapshot_posting)) ||
	    !has_items(l, SECTION_TRIGRAM_KEYS, h->n_trigram_slots, 4) ||
	    !has_items(l, SECTION_TRIGRAM_POSTING_INDEX, h->n_trigrams,
		       sizeof(struct snapshot_posting)) ||
	    !has_items(l, SECTION_DIR_BITS, dirmeta_words(h->n_entries), 8) ||
	    !has_items(l, SECTION_DIR_RANK, dirmeta_blocks(h->n_entries), 4) ||
	    !has_items(l, SECTION_DIR_MTIME, h->n_dirs, 8) ||
	    !has_items(l, SECTION_DIR_ATTR_ID, h->n_dirs, dirmeta_attr_id_bytes(h->n_dir_attrs)) ||
	    !has_items(l, SECTION_DIR_ATTRS, h->n_dir_attrs, 12) ||
	    !has_items(l, SECTION_DIR_CTIME_RANK, h->n_dir_ctimes, 4) ||
	    !has_items(l, SECTION_DIR_CTIME, h->n_dir_ctimes, 8))
		return -EINVAL;
	/* The trigram table is open addressing over a power of two: a probe ends at an
	 * empty slot, so there must be one. */
	uint64_t slots = h->n_trigram_slots;
	if (slots & (slots - 1) || (slots ? h->n_trigrams >= slots : h->n_trigrams != 0))
		return -EINVAL;
	return 0;
}

/* Whether the snapshot was made with the bitmap format and folding rules in use here. */
static int check_compatible(const struct loader *l)
{
	char version[16];
	uint32_t probe;
	int rc = fold_probe_crc32c(&probe);
	if (rc < 0)
		return rc;
	utf8proc_version_field(version);
	if (l->h.roaring_version != roaring_version() || probe != l->h.fold_probe_crc32c ||
	    memcmp(version, l->h.utf8proc_version, sizeof(version)) != 0)
		return -EINVAL;
	return 0;
}

/* Part i checksums its share of the bytes of all sections taken end to end. */
static void checksum_part(struct loader *l, unsigned i)
{
	uint64_t total = 0, at = 0;
	for (int k = 0; k < N_SECTIONS; k++)
		total += l->sections[k].length_bytes;
	uint64_t lo = share(total, i, l->n_parts), hi = share(total, i + 1, l->n_parts);
	for (int k = 0; k < N_SECTIONS; k++) {
		const struct snapshot_section *s = &l->sections[k];
		uint64_t a = lo > at ? lo : at;
		uint64_t b = hi < at + s->length_bytes ? hi : at + s->length_bytes;
		l->piece_bytes[k][i] = a < b ? b - a : 0;
		l->piece_crc[k][i] =
		    a < b ? crc32c(0, l->map + s->offset_bytes + (a - at), (size_t)(b - a)) : 0;
		at += s->length_bytes;
	}
}

static int check_checksums(struct loader *l)
{
	run_parts(l, LOAD_CHECKSUMS);
	for (int k = 0; k < N_SECTIONS; k++) {
		uint32_t crc = 0;
		for (unsigned i = 0; i < l->n_parts; i++)
			if (l->piece_bytes[k][i])
				crc = crc32c_combine(crc, l->piece_crc[k][i], l->piece_bytes[k][i]);
		if (crc != l->sections[k].crc32c && !IS_FUZZING)
			return -EINVAL;
	}
	return 0;
}

static void use_store(struct store *s, const struct loader *l)
{
	/* The mapping is read-only: the casts give the store its usual types, and a write
	 * through them would fault rather than corrupt. */
	s->n_entries = l->h.n_entries;
	s->parent = (uint32_t *)section_bytes(l, SECTION_ENTRY_PARENT);
	s->name_id = (uint32_t *)section_bytes(l, SECTION_ENTRY_NAME_ID);
	s->kind = (uint8_t *)section_bytes(l, SECTION_ENTRY_KIND);
	s->n_dirs = l->h.n_dirs;
	s->dir_bits = (uint64_t *)section_bytes(l, SECTION_SUBTREE_DIR_BITS);
	s->dir_rank = (uint32_t *)section_bytes(l, SECTION_SUBTREE_DIR_RANK);
	s->dir_end = (uint32_t *)section_bytes(l, SECTION_SUBTREE_END);
	s->n_names = l->h.n_names;
	s->name_offset = (uint32_t *)section_bytes(l, SECTION_NAME_OFFSET);
	s->name_bytes = (char *)section_bytes(l, SECTION_NAME_BYTES);
	s->name_bytes_len = l->h.name_bytes_length_bytes;
	s->name_entries_offset = (uint32_t *)section_bytes(l, SECTION_NAME_ENTRIES_OFFSET);
	s->name_entries = (uint32_t *)section_bytes(l, SECTION_NAME_ENTRIES);
}

static void use_meta(struct dirmeta *m, const struct loader *l)
{
	m->n_entries = l->h.n_entries;
	m->n_dirs = l->h.n_dirs;
	m->dir_bits = (uint64_t *)section_bytes(l, SECTION_DIR_BITS);
	m->dir_rank = (uint32_t *)section_bytes(l, SECTION_DIR_RANK);
	m->mtime_ns = (int64_t *)section_bytes(l, SECTION_DIR_MTIME);
	m->attr_ids = (void *)section_bytes(l, SECTION_DIR_ATTR_ID);
	m->attr_id_bytes = dirmeta_attr_id_bytes(l->h.n_dir_attrs);
	m->n_attrs = l->h.n_dir_attrs;
	m->attrs = (uint32_t *)section_bytes(l, SECTION_DIR_ATTRS);
	m->n_ctimes = l->h.n_dir_ctimes;
	m->ctime_rank = (uint32_t *)section_bytes(l, SECTION_DIR_CTIME_RANK);
	m->ctime_ns = (int64_t *)section_bytes(l, SECTION_DIR_CTIME);
}

/* A bitmap of the directories among n_entries and its counts, one per `words_per_count`
 * words: each count is the directories before its words, they add up to n_dirs, and no
 * bit is set past the last entry (check_store_part() ties each bit to its entry's kind).
 * So a directory's rank indexes the arrays kept by rank. */
static int check_dir_counts(const uint64_t *bits, const uint32_t *counts, size_t words_per_count,
			    uint32_t n_entries, uint32_t n_dirs)
{
	uint32_t n = 0;
	size_t words = store_words(n_entries);
	for (size_t w = 0; w < words; w++) {
		if (w % words_per_count == 0 && counts[w / words_per_count] != n)
			return -EINVAL;
		n += (uint32_t)__builtin_popcountll(bits[w]);
	}
	if (n_entries % 64 && bits[words - 1] >> (n_entries % 64))
		return -EINVAL;
	return n == n_dirs ? 0 : -EINVAL;
}

/* The meta's directory counts (per block), and the ctime list. */
static int check_meta_ranks(const struct dirmeta *m)
{
	if (check_dir_counts(m->dir_bits, m->dir_rank, DIRMETA_BLOCK_ENTRIES / 64, m->n_entries,
			     m->n_dirs) < 0)
		return -EINVAL;
	/* The ctime list is binary-searched: ranks strictly ascending, of directories. */
	for (uint32_t i = 0; i < m->n_ctimes; i++)
		if (m->ctime_rank[i] >= m->n_dirs ||
		    (i && m->ctime_rank[i] <= m->ctime_rank[i - 1]))
			return -EINVAL;
	return 0;
}

/* What the search, the lookups and the writer rely on to stay inside the arrays and to
 * terminate: one root at id 0 and every parent before its child (no cycles), every parent
 * a directory (only directories have subtree ends stored: another entry's subtree is
 * itself), the directory counts right (so ranks index the subtree ends), subtrees inside
 * the store, name ids and entry ids in range, name offsets ascending within their arrays.
 * These are the ends and the counts; check_store_part() checks a share of the rest. */
static int check_store_ends(const struct store *s)
{
	if (s->parent[0] != STORE_NO_PARENT || s->name_offset[0] != 0 ||
	    s->name_offset[s->n_names] != s->name_bytes_len || s->name_entries_offset[0] != 0 ||
	    s->name_entries_offset[s->n_names] != s->n_entries)
		return -EINVAL;
	return check_dir_counts(s->dir_bits, s->dir_rank, 1, s->n_entries, s->n_dirs);
}

/* Whether entry `id` breaks one of the invariants above. Branch-free: one pass
 * over the arrays, no misprediction. A parent is only looked at once it is known to be
 * an entry. */
static inline uint32_t entry_is_bad(const struct store *s, const struct dirmeta *m, uint32_t id)
{
	uint32_t n = s->n_entries, kind = s->kind[id], parent = s->parent[id];
	uint32_t is_dir = kind == TRAWL_KIND_DIR;
	return ((parent >= id) & (id != 0)) |
	       ((id != 0) & !store_is_dir(s, parent < id ? parent : 0)) |
	       (s->name_id[id] >= s->n_names) | (s->name_entries[id] >= n) |
	       ((kind != TRAWL_KIND_FILE) & !is_dir & (kind != TRAWL_KIND_LINK)) |
	       ((uint32_t)store_is_dir(s, id) != is_dir) |
	       ((uint32_t)dirmeta_is_dir(m, id) != is_dir);
}

/* Whether the subtree end of a directory among entries [lo, hi) is not past it or not in
 * the store (other entries' ends are implied). A word that two parts share is checked by
 * both. The counts are checked already: every rank taken here is below n_dirs. */
static uint32_t dir_ends_are_bad(const struct store *s, uint32_t lo, uint32_t hi)
{
	uint32_t bad = 0;
	for (size_t w = lo / 64; w * 64 < hi; w++) {
		uint32_t r = s->dir_rank[w];
		for (uint64_t bits = s->dir_bits[w]; bits; bits &= bits - 1, r++) {
			uint32_t id = (uint32_t)(w * 64) + (uint32_t)__builtin_ctzll(bits);
			bad |= (s->dir_end[r] <= id) | (s->dir_end[r] > s->n_entries);
		}
	}
	return bad;
}

static inline uint32_t name_is_bad(const struct store *s, uint32_t k)
{
	return (s->name_offset[k] > s->name_offset[k + 1]) |
	       (s->name_entries_offset[k] > s->name_entries_offset[k + 1]);
}

/* Directory meta points into the table of triples. */
static inline uint32_t dir_is_bad(const struct dirmeta *m, uint32_t r)
{
	uint32_t a = m->attr_id_bytes == 2 ? ((const uint16_t *)m->attr_ids)[r]
					   : ((const uint32_t *)m->attr_ids)[r];
	return a >= m->n_attrs;
}

static int check_store_part(const struct store *s, const struct dirmeta *m, uint32_t lo,
			    uint32_t hi, uint32_t name_lo, uint32_t name_hi, uint32_t dir_lo,
			    uint32_t dir_hi)
{
	uint32_t bad = dir_ends_are_bad(s, lo, hi);
	for (uint32_t id = lo; id < hi; id++)
		bad |= entry_is_bad(s, m, id);
	for (uint32_t r = dir_lo; r < dir_hi; r++)
		bad |= dir_is_bad(m, r);
	for (uint32_t k = name_lo; k < name_hi; k++)
		bad |= name_is_bad(s, k);
	return bad ? -EINVAL : 0;
}

/* A frozen view of the bitmap of `row` in section `blobs`; NULL for an empty row. */
static int view_posting(const struct loader *l, enum section_id blobs, const void *row_bytes,
			roaring_bitmap_t **out)
{
	const struct snapshot_section *s = section(l, blobs);
	struct snapshot_posting row;
	memcpy(&row, row_bytes, sizeof(row));
	*out = NULL;
	if (!row.length_bytes)
		return 0;
	if (row.offset_bytes % SNAPSHOT_BITMAP_ALIGN_BYTES || row.offset_bytes > s->length_bytes ||
	    row.length_bytes > s->length_bytes - row.offset_bytes)
		return -EINVAL;
	/* NULL is either a malformed bitmap or a failed malloc, which alone sets errno. */
	errno = 0;
	const roaring_bitmap_t *r = roaring_bitmap_frozen_view(
	    (const char *)l->map + s->offset_bytes + row.offset_bytes, (size_t)row.length_bytes);
	if (!r)
		return errno == ENOMEM ? -ENOMEM : -EINVAL;
	/* Views are only ever read: postings are never modified after they are built. */
	*out = (roaring_bitmap_t *)r;
	/* Ids beyond the store would send the search outside its arrays. */
	if (!roaring_bitmap_is_empty(r) && roaring_bitmap_maximum(r) >= l->h.n_entries)
		return -EINVAL;
	return 0;
}

/* The character postings, and the trigram table without its bitmaps yet. */
static int use_postings(struct postings *p, struct loader *l)
{
	const unsigned char *rows = section_bytes(l, SECTION_CHAR_POSTING_INDEX);
	for (int c = 0; c < 256; c++) {
		int rc = view_posting(l, SECTION_CHAR_POSTINGS,
				      rows + c * sizeof(struct snapshot_posting), &p->chars[c]);
		if (rc < 0)
			return rc;
	}
	p->n_slots = (size_t)l->h.n_trigram_slots;
	p->n_trigrams = (size_t)l->h.n_trigrams;
	if (!p->n_slots)
		return 0;
	/* The keys are copied (4 bytes a slot) so that the postings own all they point to
	 * but the bitmaps' contents, and postings_release() applies as it is. */
	p->keys = malloc(p->n_slots * sizeof(*p->keys));
	p->maps = calloc(p->n_slots, sizeof(roaring_bitmap_t *));
	if (!p->keys || !p->maps)
		return -ENOMEM;
	memcpy(p->keys, section_bytes(l, SECTION_TRIGRAM_KEYS), p->n_slots * sizeof(*p->keys));
	/* Used slots take posting rows in slot order: where each part's rows begin. */
	size_t row = 0;
	for (unsigned i = 0; i <= l->n_parts; i++) {
		l->first_slot[i] = (size_t)share(p->n_slots, i, l->n_parts);
		if (i > 0)
			for (size_t slot = l->first_slot[i - 1]; slot < l->first_slot[i]; slot++)
				row += p->keys[slot] != 0;
		l->first_row[i] = row;
	}
	return row == p->n_trigrams ? 0 : -EINVAL;
}

/* Part i checks its share of the store and views its share of the trigram slots. */
static void check_part(struct loader *l, unsigned i)
{
	const struct store *s = &l->b->store;
	struct postings *p = &l->b->postings;
	const struct dirmeta *m = &l->b->meta;
	int rc = check_store_part(s, m, (uint32_t)share(s->n_entries, i, l->n_parts),
				  (uint32_t)share(s->n_entries, i + 1, l->n_parts),
				  (uint32_t)share(s->n_names, i, l->n_parts),
				  (uint32_t)share(s->n_names, i + 1, l->n_parts),
				  (uint32_t)share(m->n_dirs, i, l->n_parts),
				  (uint32_t)share(m->n_dirs, i + 1, l->n_parts));
	const unsigned char *rows = section_bytes(l, SECTION_TRIGRAM_POSTING_INDEX);
	size_t row = l->first_row[i];
	for (size_t slot = l->first_slot[i]; slot < l->first_slot[i + 1] && rc == 0; slot++)
		if (p->keys[slot])
			rc = view_posting(l, SECTION_TRIGRAM_POSTINGS,
					  rows + row++ * sizeof(struct snapshot_posting),
					  &p->maps[slot]);
	l->rc[i] = rc;
}

/* The trigram table must be the one postings.c finds keys in: written with another hash
 * or probe order, it would silently miss trigrams. */
static int check_trigram_table(const struct postings *p)
{
	for (size_t slot = 0; slot < p->n_slots; slot++)
		if (p->keys[slot] && postings_trigram(p, p->keys[slot]) != p->maps[slot])
			return -EINVAL;
	return 0;
}

static int load_base(struct base *b, unsigned threads)
{
	struct loader l = {.map = b->mapping, .size = b->mapping_len, .b = b};
	l.n_parts = threads ? threads : 2;
	if (l.n_parts > SNAPSHOT_LOAD_MAX_THREADS)
		l.n_parts = SNAPSHOT_LOAD_MAX_THREADS;
	if (l.size < SNAPSHOT_LOAD_PARALLEL_MIN_BYTES)
		l.n_parts = 1;
	int rc = check_header(&l);
	if (rc == 0)
		rc = check_compatible(&l);
	if (rc == 0)
		rc = check_checksums(&l);
	if (rc < 0)
		return rc;
	use_store(&b->store, &l);
	use_meta(&b->meta, &l);
	if ((rc = check_store_ends(&b->store)) < 0 || (rc = check_meta_ranks(&b->meta)) < 0 ||
	    (rc = use_postings(&b->postings, &l)) < 0)
		return rc;
	run_parts(&l, LOAD_CHECKS);
	for (unsigned i = 0; i < l.n_parts; i++)
		if (l.rc[i] < 0)
			return l.rc[i];
	if ((rc = check_trigram_table(&b->postings)) < 0)
		return rc;
	/* Name masks are not stored: they are worked out from the names, so no file can
	 * make them disagree with them. */
	return postings_masks_from_names(&b->postings, &b->store);
}

int trawl_index_load(const char *path, unsigned threads, struct trawl_index **out)
{
	crc32c_ready();
	*out = NULL;
	/* O_NONBLOCK: opening a FIFO must not hang; it is then refused as not a file. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < (off_t)SNAPSHOT_HEADER_BYTES ||
	    (uint64_t)st.st_size > SIZE_MAX) {
		close(fd);
		return -EINVAL;
	}
	void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	int map_errno = errno;
	close(fd); /* the mapping keeps the file */
	if (map == MAP_FAILED)
		return -map_errno;
	struct base *b = base_new();
	if (!b) {
		munmap(map, (size_t)st.st_size);
		return -ENOMEM;
	}
	b->mapping = map;
	b->mapping_len = (size_t)st.st_size;
	int rc = load_base(b, threads);
	if (rc < 0) {
		base_put(b);
		return rc;
	}
	return index_from_base(b, threads, out);
}
