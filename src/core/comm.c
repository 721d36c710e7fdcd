#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm.h"

void comm_init(struct comm *c, int *argc, char ***argv)
{
    int already = 0;
    MPI_Initialized(&already);
    if (!already)
        MPI_Init(argc, argv);
    c->initialized = !already;
    c->bytes_sent = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->size);
}

void comm_finalize(struct comm *c)
{
    if (c->initialized) {
        MPI_Finalize();
        c->initialized = 0;
    }
}

_Noreturn void comm_abort(int code)
{
    int up = 0, down = 0;
    MPI_Initialized(&up);
    MPI_Finalized(&down);
    fflush(stdout);
    fflush(stderr);
    if (up && !down) {
        int size = 1;
        MPI_Comm_size(MPI_COMM_WORLD, &size);
        if (size > 1)
            MPI_Abort(MPI_COMM_WORLD, code);
    }
    exit(code);
}

void comm_sum_floats(struct comm *c, float *buf, size_t n)
{
    if (c->size <= 1 || n == 0)
        return;
    /* MPI counts are int; chunk to stay in range for large models. */
    for (size_t off = 0; off < n; off += (size_t)1 << 30) {
        size_t len = n - off < ((size_t)1 << 30) ? n - off : ((size_t)1 << 30);
        MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)len, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
    c->bytes_sent += n * sizeof(float);
}

void comm_sum_doubles(struct comm *c, double *buf, size_t n)
{
    if (c->size <= 1 || n == 0)
        return;
    MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    c->bytes_sent += n * sizeof(double);
}

void comm_broadcast(struct comm *c, void *buf, size_t bytes, int root)
{
    if (c->size <= 1 || bytes == 0)
        return;
    for (size_t off = 0; off < bytes; off += (size_t)1 << 30) {
        size_t len = bytes - off < ((size_t)1 << 30) ? bytes - off : ((size_t)1 << 30);
        MPI_Bcast((char *)buf + off, (int)len, MPI_BYTE, root, MPI_COMM_WORLD);
    }
    if (c->rank == root)
        c->bytes_sent += bytes;
}

void comm_barrier(const struct comm *c)
{
    if (c->size > 1)
        MPI_Barrier(MPI_COMM_WORLD);
}

int comm_agree(const struct comm *c, int rc, struct rv_error *err)
{
    if (c->size <= 1)
        return rc ? -1 : 0;
    int mine = rc ? c->rank : c->size, first = c->size;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first == c->size)
        return 0;
    struct rv_error tmp;
    memset(&tmp, 0, sizeof tmp);
    if (c->rank == first && err)
        tmp = *err;
    MPI_Bcast(tmp.msg, (int)sizeof tmp.msg, MPI_CHAR, first, MPI_COMM_WORLD);
    if (err)
        *err = tmp;
    return -1;
}

void comm_library_version(char *buf, size_t cap)
{
    /* One of the few MPI calls allowed before MPI_Init. */
    char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    v[0] = '\0';
    if (MPI_Get_library_version(v, &len) != MPI_SUCCESS)
        snprintf(v, sizeof v, "unknown");
    snprintf(buf, cap, "%s", v);
}
