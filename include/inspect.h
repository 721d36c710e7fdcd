/* pipeline inspect: the filter-revival statistics a staged run left in a checkpoint, read back
 * from its /stats group (see src/io/checkpoint.c) and shown as a table, CSV or JSON.
 *
 *   pipeline inspect checkpoints/demo/stage-02.h5                 stage table + log10|γ| histogram
 *   pipeline inspect checkpoints/demo/stage-02.h5 --layers --stage 1    per-unit rows of stage 1
 *   pipeline inspect FILE --format csv [--layers]     one header row, then one row per stage
 *                                                     (per stage and unit with --layers)
 *   pipeline inspect FILE --format json               {"file":…, "stages":[{…, "layers":[…]}]}
 *   pipeline inspect checkpoints/demo                 a run directory: its newest stage-KK.h5
 *
 * The command is a row of the command table (inspect_command_row, cli.h): its options, their
 * errors and its help come from the option rows, as every command's do.
 * CSV and JSON give accuracies and shares as fractions in 0 … 1; an accuracy that does not exist
 * (acc_start of stage 0, acc_start_recal without recalibration) is an empty CSV field and a JSON
 * null. reinit_applied is the count of filters actually re-initialized (0 in the control).
 */
#ifndef REVIVE_INSPECT_H
#define REVIVE_INSPECT_H

#include <stdio.h>

/* argv: the arguments after "inspect", parsed by the command's row, with the output streams given
 * (tests capture them; `pipeline inspect` runs the row's main on stdout and stderr). Returns the
 * exit code: 0, 1 for a file that cannot be inspected, 2 (CLI_EXIT_USAGE) for bad arguments.
 * Every error is one line on errs. */
int inspect_run(FILE *out, FILE *errs, int argc, char **argv);

#endif
