/* metrics.csv (see metrics_log.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "metrics_log.h"

/* The shortest of %.15g … %.17g that reads back as v: 0.05, not 0.050000000000000003. */
static void write_number(FILE *f, double v)
{
    char buf[40];
    for (int p = 15; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    fputs(buf, f);
}

static void write_row(FILE *f, const struct history_row *row)
{
    for (int k = 0; k < HISTORY_COLUMNS; k++) {
        double v = history_get(row, k);
        if (k)
            fputc(',', f);
        if (k < 2)
            fprintf(f, "%d", (int)v); /* stage, epoch */
        else if (isfinite(v))
            write_number(f, v);
    }
    fputc('\n', f);
}

/* Rank 0 writes rows [0, n) of rows, after the header when header is set; mode "w" or "a". */
static int write_rows(const struct run *r, const char *mode, bool header,
                      const struct history_row *rows, int n, struct rv_error *err)
{
    int rc = 0;
    if (r->comm->rank == 0) {
        char path[RUN_PATH_MAX];
        run_path(r, METRICS_LOG_FILE, path);
        FILE *f = fopen(path, mode);
        if (!f) {
            rc = rv_fail(err, "%s: cannot write: %s", path, strerror(errno));
        } else {
            for (int k = 0; header && k < HISTORY_COLUMNS; k++)
                fprintf(f, "%s%s", k ? "," : "", history_columns[k].name);
            if (header)
                fputc('\n', f);
            for (int i = 0; i < n; i++)
                write_row(f, &rows[i]);
            if (ferror(f) | fclose(f))
                rc = rv_fail(err, "%s: cannot write: %s", path, strerror(errno));
        }
    }
    return comm_agree(r->comm, rc, err);
}

int metrics_log_start(const struct run *r, struct rv_error *err)
{
    return write_rows(r, "w", true, r->history, r->nhistory, err);
}

int metrics_log_append(const struct run *r, const struct history_row *row, struct rv_error *err)
{
    return write_rows(r, "a", false, row, 1, err);
}
