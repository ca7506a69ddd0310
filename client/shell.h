/* shell.h: the shell integration scripts: key bindings that run the picker. */
#ifndef TRAWL_SHELL_H
#define TRAWL_SHELL_H

#include <stdio.h>

/**
 * Write the integration script for `shell` ("bash", "zsh" or "fish") to `out`, for
 * `eval "$(trawl --bash)"`, `eval "$(trawl --zsh)"` or `trawl --fish | source`: CTRL-T
 * inserts picked paths, quoted; ALT-C cds into a picked directory. Setting TRAWL_NO_CTRL_T
 * or TRAWL_NO_ALT_C (non-empty) before the eval leaves that key unbound. Returns 0,
 * -EINVAL for another shell, -EIO when writing fails.
 */
int shell_print(const char *shell, FILE *out);

#endif
