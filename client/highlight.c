/* highlight.c: writing one path for a reader: matched characters in color, and on a
 * terminal control bytes shown as '?' so that a file name cannot drive the terminal. */
#include <stdint.h>
#include <stdio.h>

#include "client.h"

#define HIGHLIGHT_ON  "\033[1;32m"
#define HIGHLIGHT_OFF "\033[0m"

static void put_byte(FILE *out, unsigned char ch, int is_tty_safe)
{
	putc(is_tty_safe && (ch < 0x20 || ch == 0x7F) ? '?' : ch, out);
}

void highlight_write(FILE *out, const char *path, size_t len, const uint32_t *pos, size_t n_pos,
		     int is_tty_safe)
{
	size_t k = 0;
	for (size_t i = 0; i < len;) {
		if (k < n_pos && pos[k] < i) {
			k++; /* inside the character highlighted last, or out of order */
			continue;
		}
		if (k < n_pos && pos[k] == i) {
			/* A highlighted character spans from its position to the next
			 * character start: a byte that does not continue UTF-8. */
			size_t end = i + 1;
			while (end < len && ((unsigned char)path[end] & 0xC0) == 0x80)
				end++;
			fputs(HIGHLIGHT_ON, out);
			for (; i < end; i++)
				put_byte(out, (unsigned char)path[i], is_tty_safe);
			fputs(HIGHLIGHT_OFF, out);
			continue;
		}
		put_byte(out, (unsigned char)path[i++], is_tty_safe);
	}
}
