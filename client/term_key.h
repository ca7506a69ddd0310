/* term_key.h: decoding the bytes a terminal sends into keys (UTF-8 characters, control
 * keys, escape sequences of the cursor keys and the cursor position report). Pure. */
#ifndef TRAWL_TERM_KEY_H
#define TRAWL_TERM_KEY_H

#include <stddef.h>
#include <stdint.h>

enum term_key_kind {
	KEY_NONE,   /* bytes consumed that mean nothing to us (unknown sequence, bad UTF-8) */
	KEY_CHAR,   /* a printable character: `cp`, its UTF-8 in `utf8` */
	KEY_CTRL,   /* a control character: `cp` is its letter, 'a'..'z' (ctrl-@ is '@') */
	KEY_ALT,    /* escape then a printable ASCII character: `cp` */
	KEY_ESC,    /* escape alone */
	KEY_ENTER,  /* carriage return (ctrl-m) */
	KEY_TAB,    /* tab (ctrl-i) */
	KEY_BTAB,   /* shift-tab */
	KEY_BSPACE, /* backspace (DEL, or ctrl-h) */
	KEY_ALT_BSPACE,
	KEY_UP,
	KEY_DOWN,
	KEY_LEFT,
	KEY_RIGHT,
	KEY_HOME,
	KEY_END,
	KEY_DELETE,
	KEY_PGUP,
	KEY_PGDN,
	KEY_PASTE_BEGIN, /* bracketed paste: the text between these is typed, not bound */
	KEY_PASTE_END,
	KEY_CPR, /* cursor position report: `row` and `col`, both from 1 */
};

struct term_key {
	enum term_key_kind kind;
	uint32_t cp;  /* KEY_CHAR, KEY_CTRL, KEY_ALT */
	char utf8[5]; /* KEY_CHAR: the character's bytes, NUL-terminated */
	int row, col; /* KEY_CPR */
};

/**
 * Decode the first key in `buf` (`len` bytes) into *k. Returns the number of bytes it
 * took (>= 1), or 0 when the bytes are the start of a longer key that has not fully
 * arrived yet. A lone escape, or a sequence cut short, stays undecided (0) until
 * `is_final` says no more bytes are coming soon; then it decodes as what it is so far.
 */
size_t term_key_decode(const char *buf, size_t len, int is_final, struct term_key *k);

#endif
