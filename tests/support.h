/* What several cmocka tests need and nothing in the engine does: scratch directories. */
#ifndef REVIVE_TESTS_SUPPORT_H
#define REVIVE_TESTS_SUPPORT_H

#include <stddef.h>

/* Makes a fresh directory /tmp/<name>-XXXXXX into dir (cap bytes); 0 on success, -1 if not. */
int support_make_tmpdir(char *dir, size_t cap, const char *name);

/* Removes path and, if it is a directory, everything below it; a missing path is no error. */
void support_rm_rf(const char *path);

#endif
