/* Provenance: how a checkpoint was made. Every process start that trained a run (`run`, and each
 * `resume`) adds one entry; a checkpoint keeps them all, oldest first, in /provenance/start-KK
 * (docs/checkpoint-format.md). What decides whether a rerun is bit-identical is here: the commit,
 * the rank count, the OpenBLAS kernel (core) and build (config); the rest says where and when.
 *
 *   struct provenance p;
 *   provenance_current(&p, &comm, threads, argc, argv);   this process; argv as main got it
 *   provenance_print(stdout, &p);                         one line, the first of a run
 *   provenance_write(f, list, n, &err);  provenance_read(g, &list, &n, &err);
 */
#ifndef REVIVE_PROVENANCE_H
#define REVIVE_PROVENANCE_H

#include <stdio.h>

#include "comm.h"
#include "error.h"

#define REVIVE_VERSION "0.1"

struct provenance {
    char version[32];          /* REVIVE_VERSION */
    char commit[64];           /* git describe --always --dirty at build time, or "unknown" */
    int ranks, threads;        /* MPI ranks; OpenMP threads per rank */
    char openblas_core[64];    /* openblas_get_corename(): the kernel chosen for this CPU */
    char openblas_config[256]; /* openblas_get_config(): version and build options */
    char hdf5_version[32];     /* H5get_libversion, "1.10.8" */
    char mpi_version[256];     /* MPI_Get_library_version, on one line */
    char host[256];            /* gethostname of rank 0 */
    char started[32];          /* UTC, ISO 8601: "2026-12-01T08:30:00Z" */
    char command[1024];        /* the command line, arguments separated by single spaces */
};

struct h5out;
struct h5in;

void provenance_current(struct provenance *p, const struct comm *c, int threads, int argc,
                        char **argv);
void provenance_print(FILE *f, const struct provenance *p);
/* /provenance with attribute count and one group start-KK per entry. */
int provenance_write(struct h5out *f, const struct provenance *list, int n, struct rv_error *err);
/* A file without /provenance (an older revive's) gives *n = 0. *list is malloc'd (or NULL). */
int provenance_read(struct h5in *f, struct provenance **list, int *n, struct rv_error *err);

#endif
