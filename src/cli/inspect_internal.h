/* Shared by src/cli/inspect.c (reading a checkpoint's /stats, the command line) and
 * src/cli/inspect_print.c (the table, CSV and JSON): what inspect knows about a checkpoint. */
#ifndef REVIVE_INSPECT_INTERNAL_H
#define REVIVE_INSPECT_INTERNAL_H

#include <stdio.h>

#include "provenance.h"
#include "stats.h"

/* What inspect knows about a checkpoint: the units and one record per finished stage. */
struct insp {
    const char *path;
    int nunits, nfilters, nstages;
    char *unit_text;   /* the "units" string, cut at its newlines */
    char **unit;       /* (nunits) names, pointing into unit_text */
    int *first, *count; /* (nunits) filter range of each unit */
    struct stage_record *rec; /* (nstages) */
    int nprov;         /* process starts that wrote the file (0 for an older revive's) */
    struct provenance *prov; /* (nprov), oldest first */
};

/* Each prints stages k0 … k1−1 of d. */
void inspect_print_table(FILE *out, const struct insp *d, int k0, int k1);
void inspect_print_layers(FILE *out, const struct insp *d, int k0, int k1);
void inspect_print_csv(FILE *out, const struct insp *d, int k0, int k1, int layers);
void inspect_print_json(FILE *out, const struct insp *d, int k0, int k1);

#endif
