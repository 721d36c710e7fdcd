/* Two kinds of error, kept apart.
 *
 *   REVIVE_ASSERT(n > 0);                       a broken invariant: a bug. Prints file:line, aborts
 *                                               (every rank, via MPI_Abort when MPI is running).
 *   if (load(&x, path, &err)) return -1;        a user's mistake: the message travels back to main
 *   return rv_fail(err, "%s: line %d: ...", ...)   in a struct rv_error and ends in a non-zero exit.
 *
 * Messages name the file, the place and the fix, on one line.
 */
#ifndef REVIVE_ERROR_H
#define REVIVE_ERROR_H

#include <stdarg.h>
#include <stddef.h>

struct rv_error {
    char msg[1024];
};

/* Formats into err->msg (if err is not NULL) and returns -1, so `return rv_fail(...)` reads well. */
int rv_fail(struct rv_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints "file:line: assertion failed: expr" and aborts the whole job. */
_Noreturn void rv_assert_fail(const char *file, int line, const char *expr);

#define REVIVE_ASSERT(cond) \
    do { if (!(cond)) rv_assert_fail(__FILE__, __LINE__, #cond); } while (0)

/* Allocation that never returns NULL: running out of memory is not recoverable here. */
void *rv_malloc(size_t bytes);
void *rv_calloc(size_t count, size_t size);

#endif
