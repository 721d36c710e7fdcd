/* Provenance of a run (see provenance.h). REVIVE_COMMIT comes from the Makefile. */
#include <cblas.h>
#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint_layout.h"
#include "h5io.h"
#include "provenance.h"

#ifndef REVIVE_COMMIT
#define REVIVE_COMMIT "unknown"
#endif

/* Copies src into dst (cap bytes) with line breaks and tabs turned into spaces and trailing
 * spaces removed: every field prints on one line. */
static void one_line(char *dst, size_t cap, const char *src)
{
    if (src != dst) /* in place is allowed */
        snprintf(dst, cap, "%s", src ? src : "unknown");
    for (char *p = dst; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    for (size_t n = strlen(dst); n > 0 && dst[n - 1] == ' '; n--)
        dst[n - 1] = '\0';
}

void provenance_current(struct provenance *p, const struct comm *c, int threads, int argc,
                        char **argv)
{
    memset(p, 0, sizeof *p);
    snprintf(p->version, sizeof p->version, "%s", REVIVE_VERSION);
    snprintf(p->commit, sizeof p->commit, "%s", REVIVE_COMMIT);
    p->ranks = c->size;
    p->threads = threads;
    one_line(p->openblas_core, sizeof p->openblas_core, openblas_get_corename());
    one_line(p->openblas_config, sizeof p->openblas_config, openblas_get_config());
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    snprintf(p->hdf5_version, sizeof p->hdf5_version, "%u.%u.%u", maj, min, rel);
    char mpi[sizeof p->mpi_version];
    comm_library_version(mpi, sizeof mpi);
    one_line(p->mpi_version, sizeof p->mpi_version, mpi);
    if (gethostname(p->host, sizeof p->host - 1) != 0)
        snprintf(p->host, sizeof p->host, "unknown");
    /* Wall-clock time is provenance, not a result: nothing computed depends on it. */
    time_t now = time(NULL);
    struct tm utc;
    gmtime_r(&now, &utc);
    strftime(p->started, sizeof p->started, "%Y-%m-%dT%H:%M:%SZ", &utc);
    size_t used = 0;
    for (int i = 0; i < argc && used + 1 < sizeof p->command; i++) {
        int n = snprintf(p->command + used, sizeof p->command - used, "%s%s", i ? " " : "", argv[i]);
        used += n > 0 ? (size_t)n : 0;
    }
    one_line(p->command, sizeof p->command, p->command);
}

void provenance_print(FILE *f, const struct provenance *p)
{
    /* The MPI text up to its first comma ("Open MPI v4.1.4"); the file keeps all of it. */
    int mpi_len = (int)strcspn(p->mpi_version, ",");
    fprintf(f, "revive %s (commit %s)  %d rank%s x %d thread%s  OpenBLAS %s (%s)  HDF5 %s  %.*s  "
            "host %s  started %s  command: %s\n",
            p->version, p->commit, p->ranks, p->ranks == 1 ? "" : "s", p->threads,
            p->threads == 1 ? "" : "s", p->openblas_core, p->openblas_config, p->hdf5_version,
            mpi_len, p->mpi_version, p->host, p->started, p->command);
}

int provenance_write(struct h5out *f, const struct provenance *list, int n, struct rv_error *err)
{
    if (h5out_group(f, ck_layout[CK_PROV_COUNT].object, err) || ck_put_int(f, CK_PROV_COUNT, 0, n, err))
        return -1;
    for (int k = 0; k < n; k++) {
        const struct provenance *p = &list[k];
        char g[64];
        ck_object(g, sizeof g, CK_PROV_RANKS, k);
        if (h5out_group(f, g, err) || ck_put_all(f, CK_IN_PROV, k, p, err))
            return -1;
    }
    return 0;
}

/* Every value through its layout row: count within its bounds and no more than the groups the
 * file holds (it sizes an allocation), ranks and threads within theirs (they become ints), each
 * text no longer than its field. */
int provenance_read(struct h5in *f, struct provenance **list, int *n, struct rv_error *err)
{
    *list = NULL;
    *n = 0;
    const char *group = ck_layout[CK_PROV_COUNT].object;
    if (!h5in_exists(f, group))
        return 0;
    int64_t count;
    size_t members;
    if (ck_get_int(f, CK_PROV_COUNT, 0, &count, err) || h5in_members(f, group, &members, err))
        return -1;
    if ((uint64_t)count > members)
        return rv_fail(err, "%s: attribute 'count' of '%s' is %lld but the group holds %zu entries; "
                       "the checkpoint is damaged", h5in_path(f), group, (long long)count, members);
    struct provenance *l = rv_calloc((size_t)(count ? count : 1), sizeof *l);
    for (int k = 0; k < (int)count; k++) {
        struct provenance *p = &l[k];
        if (ck_get_all(f, CK_IN_PROV, k, p, err)) {
            free(l);
            return -1;
        }
        /* every text on one line, as provenance_current makes them */
        for (int id = 0; id < CK_NFIELDS; id++)
            if (ck_layout[id].home == CK_IN_PROV && ck_layout[id].ctype == CK_C_TEXT) {
                char *text = (char *)p + ck_layout[id].offset;
                one_line(text, ck_layout[id].size, text);
            }
    }
    *list = l;
    *n = (int)count;
    return 0;
}
