/* The command line as tables: an option is one row (name, argument, type and bounds, help), a
 * command lists the options it takes; the parser, its one-line errors and `pipeline --help` all
 * come from those rows, as the config key table gives the config parser and help-config.
 *
 *   const struct cli_option cli_out = {"--out", "DIR", CLI_STRING, .help = "write the run here"};
 *   static const struct cli_option *const run_options[] = {&cli_set, &cli_out, NULL};
 *   static const struct cli_command run = {.name = "run", .operands = "CONFIG", .min_operands = 1,
 *       .max_operands = 1, .missing = "a config file, e.g. pipeline run configs/demo.ini",
 *       .options = run_options, .help = "train as CONFIG says", .main = command_run};
 *   struct cli_args a;
 *   if (cli_parse(&a, &run, argc, argv, &err)) ...   "run: unknown option '--bogus'; run takes ..."
 *   const char *out = cli_string(&a, &cli_out, NULL); the last --out given, or NULL
 *   for (int i = 0; i < a.ngiven; i++) if (a.given[i].opt == &cli_set) ...  repeated, in order
 *
 * A command in another file declares its own options and its struct cli_command, and main.c's
 * command list names it. Options are "--name VALUE" or "--name=VALUE"; anything else that does
 * not start with '-' is an operand; -h or --help asks for the command's usage (a.help).
 */
#ifndef REVIVE_CLI_H
#define REVIVE_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "comm.h"
#include "error.h"

enum cli_type {
    CLI_FLAG,   /* no value */
    CLI_STRING, /* any text, the empty string included */
    CLI_LONG,   /* a whole number, min ≤ x ≤ max */
    CLI_DOUBLE, /* a number, min < x ≤ max */
    CLI_CHOICE, /* one of choices */
};

struct cli_option {
    const char *name;              /* "--out" */
    const char *arg;               /* "DIR", shown in usage; NULL for a flag */
    enum cli_type type;
    double min, max;               /* CLI_LONG, CLI_DOUBLE */
    const char *const *choices;    /* CLI_CHOICE, NULL-terminated */
    const char *valid;             /* what a valid value is, for the error: "a whole number of steps >= 1" */
    const char *help;
    bool repeat;                   /* may be given again, every value kept (--set); else the last wins */
};

#define CLI_MAX_OPERANDS 4
#define CLI_MAX_GIVEN 512

struct cli_args;

struct cli_command {
    const char *name;               /* "run" */
    const char *operands;           /* "CONFIG", shown in usage */
    int min_operands, max_operands;
    const char *missing;            /* what is missing when there are too few operands */
    const struct cli_option *const *options; /* NULL-terminated */
    const char *help;               /* one line for pipeline --help */
    bool mpi;                       /* runs under mpirun: main initializes MPI around it */
    int (*main)(const struct cli_args *a);
};

struct cli_given {
    const struct cli_option *opt;
    const char *text;               /* the value as given ("" for a flag) */
    double number;                  /* CLI_LONG, CLI_DOUBLE: the value; CLI_CHOICE: its index */
};

struct cli_args {
    const struct cli_command *cmd;
    int noperands;
    const char *operand[CLI_MAX_OPERANDS];
    int ngiven;
    struct cli_given given[CLI_MAX_GIVEN];
    struct comm *comm;              /* set by main for mpi commands */
    int argc;                       /* the whole command line, for the provenance record */
    char **argv;
    bool help;                      /* -h or --help was given: print cli_command_usage, exit 0 */
};

/* The exit status of a command line that does not parse (usage error), as for getopt tools. */
#define CLI_EXIT_USAGE 2

/* Parses argv[0 .. argc) (what follows the command name) against cmd's options. Errors are one
 * line naming the command, the option or argument, and the fix. */
int cli_parse(struct cli_args *a, const struct cli_command *cmd, int argc, char **argv,
              struct rv_error *err);
/* The last value given for o, or NULL. */
const struct cli_given *cli_last(const struct cli_args *a, const struct cli_option *o);
const char *cli_string(const struct cli_args *a, const struct cli_option *o, const char *def);
double cli_number(const struct cli_args *a, const struct cli_option *o, double def);
bool cli_flag(const struct cli_args *a, const struct cli_option *o);
/* "  run CONFIG [--set section.key=value]... [--out DIR]" and the help lines, for each command. */
void cli_usage(FILE *f, const struct cli_command *const *cmds);
/* `pipeline CMD --help`: "usage: pipeline CMD OPERANDS [options]", the help line, the options. */
void cli_command_usage(FILE *f, const struct cli_command *cmd);

/* Options several commands take: one row each. */
extern const struct cli_option cli_set, cli_out, cli_stop_after_steps;

/* Commands defined outside main.c. */
extern const struct cli_command plan_command;   /* src/cli/plan.c */
extern const struct cli_command params_command; /* src/cli/params.c */
extern const struct cli_command image_metrics_command; /* src/cli/image_metrics.c */
extern const struct cli_command superres_command; /* src/tasks/superres.c */
extern const struct cli_command inspect_command_row; /* src/cli/inspect.c */
extern const struct cli_command style_command;  /* src/tasks/style.c */
extern const struct cli_command style_stats_command; /* src/tasks/style_stats.c */
extern const struct cli_command style_judge_command; /* src/tasks/style_judge.c */

#endif
