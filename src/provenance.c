/* Provenance of a run (see provenance.h). REVIVE_COMMIT comes from the Makefile. */
#include <cblas.h>
#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* The string fields, in file order: attribute name and offset in struct provenance. */
static const struct {
    const char *attr;
    size_t offset, size;
} text_fields[] = {
#define F(attr, field) {attr, offsetof(struct provenance, field), sizeof(((struct provenance *)0)->field)}
    F("revive_version", version), F("commit", commit), F("openblas_core", openblas_core),
    F("openblas_config", openblas_config), F("hdf5_version", hdf5_version),
    F("mpi_version", mpi_version), F("host", host), F("started", started), F("command", command),
#undef F
};
enum { NTEXT = sizeof text_fields / sizeof text_fields[0] };

int provenance_write(struct h5out *f, const struct provenance *list, int n, struct rv_error *err)
{
    if (h5out_group(f, "provenance", err) || h5out_attr_int(f, "provenance", "count", n, err))
        return -1;
    for (int k = 0; k < n; k++) {
        const struct provenance *p = &list[k];
        char g[64];
        snprintf(g, sizeof g, "provenance/start-%02d", k);
        if (h5out_group(f, g, err) || h5out_attr_int(f, g, "ranks", p->ranks, err) ||
            h5out_attr_int(f, g, "threads", p->threads, err))
            return -1;
        for (int i = 0; i < NTEXT; i++)
            if (h5out_attr_string(f, g, text_fields[i].attr, (const char *)p + text_fields[i].offset, err))
                return -1;
    }
    return 0;
}

int provenance_read(struct h5in *f, struct provenance **list, int *n, struct rv_error *err)
{
    *list = NULL;
    *n = 0;
    if (!h5in_exists(f, "provenance"))
        return 0;
    int64_t count;
    if (h5in_attr_int(f, "provenance", "count", &count, err))
        return -1;
    if (count < 0 || count > 100000)
        return rv_fail(err, "%s: provenance count = %lld; the checkpoint is damaged", h5in_path(f),
                       (long long)count);
    struct provenance *l = rv_calloc((size_t)(count ? count : 1), sizeof *l);
    for (int k = 0; k < (int)count; k++) {
        struct provenance *p = &l[k];
        char g[64];
        int64_t ranks, threads;
        snprintf(g, sizeof g, "provenance/start-%02d", k);
        int rc = h5in_attr_int(f, g, "ranks", &ranks, err) || h5in_attr_int(f, g, "threads", &threads, err);
        for (int i = 0; i < NTEXT && !rc; i++) {
            char *v = NULL;
            rc = h5in_attr_string(f, g, text_fields[i].attr, &v, err);
            if (!rc)
                one_line((char *)p + text_fields[i].offset, text_fields[i].size, v);
            free(v);
        }
        if (rc) {
            free(l);
            return -1;
        }
        p->ranks = (int)ranks;
        p->threads = (int)threads;
    }
    *list = l;
    *n = (int)count;
    return 0;
}
