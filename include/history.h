/* The per-epoch history: one row per finished epoch, its columns in one table. The checkpoint
 * (/history/<column>) and the run directory's metrics.csv both write exactly these columns, in
 * this order.
 *
 *   for (int k = 0; k < HISTORY_COLUMNS; k++)
 *       printf("%s=%g ", history_columns[k].name, history_get(&row, k));
 *
 * Columns marked optional were added after format version 1's first files: a checkpoint without
 * them still loads, and their values are NaN (unknown) in such rows.
 */
#ifndef REVIVE_HISTORY_H
#define REVIVE_HISTORY_H

#include <stdbool.h>

#include "run.h"

struct history_column {
    const char *name;
    bool optional;   /* may be missing in older checkpoints: read as NaN */
};

enum { HISTORY_COLUMNS = 12 };
extern const struct history_column history_columns[HISTORY_COLUMNS];

double history_get(const struct history_row *h, int col);
void history_set(struct history_row *h, int col, double v);

#endif
