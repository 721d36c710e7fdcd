/* The only door to MPI. Works with one rank and without mpirun.
 *
 *   struct comm c;
 *   comm_init(&c, &argc, &argv);              rank and size of MPI_COMM_WORLD
 *   comm_sum_floats(&c, grads, n);            in place, over all ranks
 *   if (comm_agree(&c, rc, &err)) ...         every rank learns whether any rank failed, and why
 *   comm_finalize(&c);
 *
 * A struct comm with size 1 that was never initialized ({.rank = 0, .size = 1}) is valid:
 * every call is then a no-op, so tests and tools need no MPI.
 */
#ifndef REVIVE_COMM_H
#define REVIVE_COMM_H

#include <stddef.h>

#include "error.h"

struct comm {
    int rank;
    int size;
    int initialized;   /* we called MPI_Init and must call MPI_Finalize */
    size_t bytes_sent; /* by this rank in sums and broadcasts, for the benchmark */
};

#define COMM_SELF_INIT {.rank = 0, .size = 1, .initialized = 0, .bytes_sent = 0}

void comm_init(struct comm *c, int *argc, char ***argv);
void comm_finalize(struct comm *c);
/* Ends every rank of the job with exit code `code` (plain exit when MPI is not running). */
_Noreturn void comm_abort(int code);

void comm_sum_floats(struct comm *c, float *buf, size_t n);
void comm_sum_doubles(struct comm *c, double *buf, size_t n);
void comm_broadcast(struct comm *c, void *buf, size_t bytes, int root);
void comm_barrier(const struct comm *c);

/* Collective. rc is this rank's result (0 = ok). Returns 0 when every rank succeeded;
 * otherwise -1 on every rank, with err->msg replaced by the message of the lowest failing rank. */
int comm_agree(const struct comm *c, int rc, struct rv_error *err);

/* The MPI library's own version text (MPI_Get_library_version), e.g. "Open MPI v4.1.4, …". */
void comm_library_version(char *buf, size_t cap);

#endif
