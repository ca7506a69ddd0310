/* term_key.c: bytes from the terminal into keys. xterm's sequences, which every terminal
 * emulator people use today sends: CSI (ESC [) and SS3 (ESC O) for the special keys. */
#include <string.h>
#include <utf8proc.h>

#include "term_key.h"

#define ESC 0x1b
/* A CSI sequence longer than this is garbage, not a key: consume it and move on. */
#define CSI_MAX_BYTES 32

static size_t decoded(struct term_key *k, enum term_key_kind kind, size_t n)
{
	k->kind = kind;
	return n;
}

/* `buf` starts with ESC [; the sequence ends at a byte in 0x40..0x7e. */
static size_t decode_csi(const unsigned char *buf, size_t len, int is_final, struct term_key *k)
{
	size_t end = 2;
	while (end < len && end < CSI_MAX_BYTES && (buf[end] < 0x40 || buf[end] > 0x7e))
		end++;
	if (end == len || end == CSI_MAX_BYTES)
		return is_final || end == CSI_MAX_BYTES ? decoded(k, KEY_NONE, end) : 0;
	/* The parameters: up to two numbers separated by ';' (the second is a modifier,
	 * or the column of a position report). */
	int param[2] = {0, 0}, n_param = 0;
	for (size_t i = 2; i < end; i++) {
		if (buf[i] >= '0' && buf[i] <= '9') {
			if (n_param < 2 && param[n_param] < 100000)
				param[n_param] = param[n_param] * 10 + (buf[i] - '0');
		} else if (buf[i] == ';') {
			n_param++;
		} else {
			return decoded(k, KEY_NONE, end + 1);
		}
	}
	switch (buf[end]) {
	case 'A':
		return decoded(k, KEY_UP, end + 1);
	case 'B':
		return decoded(k, KEY_DOWN, end + 1);
	case 'C':
		return decoded(k, KEY_RIGHT, end + 1);
	case 'D':
		return decoded(k, KEY_LEFT, end + 1);
	case 'H':
		return decoded(k, KEY_HOME, end + 1);
	case 'F':
		return decoded(k, KEY_END, end + 1);
	case 'Z':
		return decoded(k, KEY_BTAB, end + 1);
	case 'R':
		k->row = param[0];
		k->col = param[1];
		return decoded(k, KEY_CPR, end + 1);
	case '~':
		switch (param[0]) {
		case 1:
		case 7:
			return decoded(k, KEY_HOME, end + 1);
		case 4:
		case 8:
			return decoded(k, KEY_END, end + 1);
		case 3:
			return decoded(k, KEY_DELETE, end + 1);
		case 5:
			return decoded(k, KEY_PGUP, end + 1);
		case 6:
			return decoded(k, KEY_PGDN, end + 1);
		case 200:
			return decoded(k, KEY_PASTE_BEGIN, end + 1);
		case 201:
			return decoded(k, KEY_PASTE_END, end + 1);
		default:
			return decoded(k, KEY_NONE, end + 1);
		}
	default:
		return decoded(k, KEY_NONE, end + 1);
	}
}

static size_t decode_escape(const unsigned char *buf, size_t len, int is_final, struct term_key *k)
{
	if (len == 1)
		return is_final ? decoded(k, KEY_ESC, 1) : 0;
	if (buf[1] == '[')
		return decode_csi(buf, len, is_final, k);
	if (buf[1] == 'O') {
		if (len == 2) {
			if (!is_final)
				return 0;
			k->cp = 'O'; /* alt-O, not the start of a sequence */
			return decoded(k, KEY_ALT, 2);
		}
		static const struct {
			unsigned char byte;
			enum term_key_kind kind;
		} ss3[] = {{'A', KEY_UP},   {'B', KEY_DOWN}, {'C', KEY_RIGHT}, {'D', KEY_LEFT},
			   {'H', KEY_HOME}, {'F', KEY_END},  {'M', KEY_ENTER}, {'Z', KEY_BTAB}};
		for (size_t i = 0; i < sizeof(ss3) / sizeof(ss3[0]); i++)
			if (buf[2] == ss3[i].byte)
				return decoded(k, ss3[i].kind, 3);
		return decoded(k, KEY_NONE, 3);
	}
	if (buf[1] == 0x7f || buf[1] == 0x08)
		return decoded(k, KEY_ALT_BSPACE, 2);
	if (buf[1] >= 0x20 && buf[1] < 0x7f) {
		k->cp = buf[1];
		return decoded(k, KEY_ALT, 2);
	}
	/* Escape followed by another escape or a control key: the escape was pressed alone. */
	return decoded(k, KEY_ESC, 1);
}

static size_t decode_control(unsigned char c, struct term_key *k)
{
	switch (c) {
	case '\r':
		return decoded(k, KEY_ENTER, 1);
	case '\t':
		return decoded(k, KEY_TAB, 1);
	case 0x08:
	case 0x7f:
		return decoded(k, KEY_BSPACE, 1);
	default:
		k->cp = c + 0x40;
		if (k->cp >= 'A' && k->cp <= 'Z')
			k->cp += 'a' - 'A';
		return decoded(k, KEY_CTRL, 1);
	}
}

size_t term_key_decode(const char *buf, size_t len, int is_final, struct term_key *k)
{
	const unsigned char *b = (const unsigned char *)buf;
	memset(k, 0, sizeof(*k));
	if (len == 0)
		return 0;
	if (b[0] == ESC)
		return decode_escape(b, len, is_final, k);
	if (b[0] < 0x20 || b[0] == 0x7f)
		return decode_control(b[0], k);
	size_t need = b[0] < 0x80 ? 1 : b[0] >= 0xf0 ? 4 : b[0] >= 0xe0 ? 3 : 2;
	for (size_t i = 1; i < need && i < len; i++)
		if ((b[i] & 0xc0) != 0x80)
			return decoded(k, KEY_NONE, 1);
	if (len < need)
		return is_final ? decoded(k, KEY_NONE, len) : 0;
	utf8proc_int32_t cp;
	if (utf8proc_iterate(b, (utf8proc_ssize_t)need, &cp) != (utf8proc_ssize_t)need ||
	    (cp >= 0x80 && cp < 0xa0))
		return decoded(k, KEY_NONE, 1);
	k->cp = (uint32_t)cp;
	memcpy(k->utf8, buf, need);
	return decoded(k, KEY_CHAR, need);
}
