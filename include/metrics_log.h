/* metrics.csv in the run directory: the history (history.h), one row per finished epoch, written
 * as the run goes, so a person can `tail -f` it or read it with pandas mid-run.
 *
 *   metrics_log_start(&run, &err);            rewrites it from run.history (header + every row)
 *   metrics_log_append(&run, &row, &err);     after each epoch: one row, flushed
 *
 * A resumed run rewrites the file from its checkpoint's history and then appends, so the file
 * always holds exactly the history of the run as it stands: no duplicate or missing epochs,
 * whatever was interrupted where. Columns and order are the history's; numbers are printed so
 * that they read back to the same doubles (the shortest of %.15g … %.17g); an unknown value (NaN, rows from an older
 * checkpoint) is an empty field. Both calls are collective: rank 0 writes, every rank agrees.
 */
#ifndef REVIVE_METRICS_LOG_H
#define REVIVE_METRICS_LOG_H

#include "run.h"

#define METRICS_LOG_FILE "metrics.csv"

int metrics_log_start(const struct run *r, struct rv_error *err);
int metrics_log_append(const struct run *r, const struct history_row *row, struct rv_error *err);

#endif
