/* picker_line.h: the picker's query line and its editing commands (readline's and fzf's
 * meanings of ctrl-u, ctrl-w and friends). Pure: no terminal, no allocation. */
#ifndef TRAWL_PICKER_LINE_H
#define TRAWL_PICKER_LINE_H

#include <stddef.h>

#include "trawl_index.h"

/** The query being typed: valid UTF-8, `cursor` a byte offset on a character boundary. */
struct picker_line {
	char text[TRAWL_QUERY_MAX_BYTES + 1]; /* NUL-terminated */
	size_t len;
	size_t cursor;
};

/** Replace the text with `s` (cut at the last whole character that fits) and put the
 * cursor at its end. */
void picker_line_set(struct picker_line *l, const char *s);

/** Insert `n` bytes of UTF-8 at the cursor and move past them. Returns 0, or -E2BIG when
 * the query would exceed TRAWL_QUERY_MAX_BYTES (then nothing changes). */
int picker_line_insert(struct picker_line *l, const char *s, size_t n);

/* Editing commands. Those that change the text return 1 when it changed, else 0. */
int picker_line_delete_backward(struct picker_line *l); /* backspace, ctrl-h */
int picker_line_delete_forward(struct picker_line *l);	/* delete, ctrl-d */
int picker_line_kill_to_start(struct picker_line *l);	/* ctrl-u */
int picker_line_kill_to_end(struct picker_line *l);	/* (no key by default, as fzf) */
/** ctrl-w: delete the whitespace-separated word before the cursor, and the blanks after it. */
int picker_line_rubout_word(struct picker_line *l);
/** alt-backspace: delete back to the start of the word (letters and digits) before the
 * cursor; '/', '.', '-' and other punctuation separate words, as in a path. */
int picker_line_kill_word_backward(struct picker_line *l);
/** alt-d: delete forward to the end of the next word. */
int picker_line_kill_word_forward(struct picker_line *l);

void picker_line_left(struct picker_line *l);	    /* left, ctrl-b */
void picker_line_right(struct picker_line *l);	    /* right, ctrl-f */
void picker_line_start(struct picker_line *l);	    /* home, ctrl-a */
void picker_line_end(struct picker_line *l);	    /* end, ctrl-e */
void picker_line_word_left(struct picker_line *l);  /* alt-b */
void picker_line_word_right(struct picker_line *l); /* alt-f */

#endif
