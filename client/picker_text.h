/* picker_text.h: paths as the terminal shows them: each character's column width
 * (utf8proc), safe stand-ins for bytes a terminal must not get, truncation from the left
 * that keeps the basename, and painting with match highlights into a frame buffer. */
#ifndef TRAWL_PICKER_TEXT_H
#define TRAWL_PICKER_TEXT_H

#include <stddef.h>
#include <stdint.h>

/** A growing byte buffer: one frame, written to the terminal at once. Running out of
 * memory is sticky: later appends do nothing and `is_oom` stays set. */
struct picker_buf {
	char *data;
	size_t len, cap;
	int is_oom;
};

void picker_buf_init(struct picker_buf *b);
void picker_buf_release(struct picker_buf *b);
void picker_buf_add(struct picker_buf *b, const char *s, size_t n);
void picker_buf_puts(struct picker_buf *b, const char *s);
/** Append a control sequence with one number: ESC [ n final (e.g. 3, 'A': three lines up). */
void picker_buf_csi(struct picker_buf *b, size_t n, char final);

/** One character of a path, as shown. */
struct text_char {
	size_t n_bytes;	   /* bytes it takes in the path */
	int width;	   /* columns it takes on screen: 0, 1 or 2 */
	const char *shown; /* the bytes to send to the terminal (the path's own, or a stand-in) */
	size_t shown_len;
};

/**
 * The character at byte `i` (< len) of `s`. Valid printable UTF-8 shows as itself with
 * utf8proc_charwidth() columns; a byte that is not valid UTF-8 shows as U+FFFD; control
 * and format characters (C0, C1, DEL, bidi overrides, line separators) show as '?', so
 * a name can never move the cursor or restyle the screen.
 */
void text_char_at(const char *s, size_t len, size_t i, struct text_char *c);

/** Whether `len` bytes of `s` are valid UTF-8. */
int text_is_utf8(const char *s, size_t len);

/** The columns `len` bytes of `s` take on screen. */
size_t text_width(const char *s, size_t len);

/** Which part of a path fits in a number of columns. */
struct text_fit {
	size_t from, to;  /* the bytes shown */
	int is_cut_left;  /* "…" before them */
	int is_cut_right; /* "…" after them */
};

/**
 * Fit `len` bytes of the path `s` into `width` columns: the whole path when it fits,
 * else "…" and as much of its end as fits, so the basename stays; a basename that does
 * not fit on its own shows its start, cut with "…" on the right.
 */
void text_fit(const char *s, size_t len, size_t width, struct text_fit *f);

/**
 * Append the part of `s` that `f` selects to `b`, with "…" where it was cut. Characters
 * whose bytes hold one of the ascending byte offsets `pos` (`n_pos` of them) are wrapped
 * in `hl_on` .. `hl_off`; `hl_off` must restore the line's own style. Returns the
 * columns written.
 */
size_t text_paint(struct picker_buf *b, const char *s, size_t len, const struct text_fit *f,
		  const uint32_t *pos, size_t n_pos, const char *hl_on, const char *hl_off);

#endif
