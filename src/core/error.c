#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "comm.h"

int rv_fail(struct rv_error *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

_Noreturn void rv_assert_fail(const char *file, int line, const char *expr)
{
    fprintf(stderr, "%s:%d: assertion failed: %s\n", file, line, expr);
    fflush(stderr);
    comm_abort(70);
    abort();
}

void *rv_malloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "revive: out of memory allocating %zu bytes\n", bytes);
        comm_abort(71);
        abort();
    }
    return p;
}

void *rv_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) {
        fprintf(stderr, "revive: out of memory allocating %zu x %zu bytes\n", count, size);
        comm_abort(71);
        abort();
    }
    return p;
}
