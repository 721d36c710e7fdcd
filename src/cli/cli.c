/* The command-line parser and usage text, from the option and command tables (cli.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "stop.h" /* EXIT_STOPPED */

const struct cli_option cli_set = {
    "--set", "section.key=value", CLI_STRING,
    .help = "override a config key after the file (pipeline help-config lists them)", .repeat = true};
const struct cli_option cli_out = {"--out", "DIR", CLI_STRING,
                                   .help = "the run's directory (default run.out_dir/run.name)"};
const struct cli_option cli_stop_after_steps = {
    "--stop-after-steps", "N", CLI_LONG, 1, 1e15, .valid = "a whole number of steps >= 1",
    .help = "save where the run stands (" RUN_LAST_FILE "; pipeline superres: its state file) and "
            "stop after N steps (exit status EXIT_STOPPED)"};

/* "--set section.key=value, --out DIR or --stop-after-steps N" */
static void list_options(char *buf, size_t cap, const struct cli_command *cmd)
{
    size_t used = 0;
    buf[0] = '\0';
    int n = 0;
    while (cmd->options[n])
        n++;
    for (int i = 0; i < n && used < cap; i++) {
        const struct cli_option *o = cmd->options[i];
        used += (size_t)snprintf(buf + used, cap - used, "%s%s%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ",
                                 o->name, o->arg ? " " : "", o->arg ? o->arg : "");
    }
}

static int bad_value(const struct cli_command *cmd, const struct cli_option *o, const char *v,
                     struct rv_error *err)
{
    if (o->type == CLI_CHOICE) {
        char names[256] = "";
        size_t used = 0;
        for (int i = 0; o->choices[i] && used < sizeof names; i++)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? "|" : "", o->choices[i]);
        return rv_fail(err, "%s: %s '%s' is not one of %s", cmd->name, o->name, v, names);
    }
    return rv_fail(err, "%s: %s '%s' must be %s", cmd->name, o->name, v, o->valid ? o->valid : "valid");
}

static int parse_value(struct cli_given *g, const struct cli_command *cmd, struct rv_error *err)
{
    const struct cli_option *o = g->opt;
    const char *v = g->text;
    char *end = NULL;
    switch (o->type) {
    case CLI_FLAG:
    case CLI_STRING:
        return 0;
    case CLI_LONG: {
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (end == v || *end || errno || (double)x < o->min || (double)x > o->max)
            return bad_value(cmd, o, v, err);
        g->number = (double)x;
        return 0;
    }
    case CLI_DOUBLE: {
        double x = strtod(v, &end);
        if (end == v || *end || !isfinite(x) || !(x > o->min) || x > o->max)
            return bad_value(cmd, o, v, err);
        g->number = x;
        return 0;
    }
    case CLI_CHOICE:
        for (int i = 0; o->choices[i]; i++)
            if (strcmp(v, o->choices[i]) == 0) {
                g->number = i;
                return 0;
            }
        return bad_value(cmd, o, v, err);
    }
    return bad_value(cmd, o, v, err);
}

/* A command's operands as shown in usage: "" for one without any (params), never NULL. */
static const char *operands_of(const struct cli_command *cmd)
{
    return cmd->operands ? cmd->operands : "";
}

int cli_parse(struct cli_args *a, const struct cli_command *cmd, int argc, char **argv,
              struct rv_error *err)
{
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    char usage[512];
    list_options(usage, sizeof usage, cmd);
    for (int i = 0; i < argc; i++) {
        const char *t = argv[i];
        if (t[0] != '-' || t[1] == '\0') {
            if (a->noperands >= cmd->max_operands || a->noperands >= CLI_MAX_OPERANDS) {
                const char *ops = operands_of(cmd);
                return rv_fail(err, "%s: unexpected argument '%s'%s (usage: %s%s%s%s%s)", cmd->name, t,
                               cmd->max_operands ? "" : ": it takes options only", cmd->name,
                               ops[0] ? " " : "", ops, usage[0] ? " with " : "", usage);
            }
            a->operand[a->noperands++] = t;
            continue;
        }
        if (strcmp(t, "-h") == 0 || strcmp(t, "--help") == 0) {
            a->help = true;
            return 0;
        }
        const char *eq = strchr(t, '=');
        size_t len = eq ? (size_t)(eq - t) : strlen(t);
        const struct cli_option *o = NULL;
        for (int k = 0; cmd->options[k] && !o; k++)
            if (strlen(cmd->options[k]->name) == len && strncmp(cmd->options[k]->name, t, len) == 0)
                o = cmd->options[k];
        if (!o)
            return rv_fail(err, "%s: unknown option '%s'; %s takes %s (see pipeline --help)", cmd->name,
                           t, cmd->name, usage[0] ? usage : "no options");
        if (a->ngiven >= CLI_MAX_GIVEN)
            return rv_fail(err, "%s: more than %d options; put the --set values in the config file",
                           cmd->name, CLI_MAX_GIVEN);
        struct cli_given *g = &a->given[a->ngiven];
        g->opt = o;
        if (o->type == CLI_FLAG) {
            if (eq)
                return rv_fail(err, "%s: %s takes no value (remove '%s')", cmd->name, o->name, eq);
            g->text = "";
        } else if (eq) {
            g->text = eq + 1;
        } else if (i + 1 < argc) {
            g->text = argv[++i];
        } else {
            return rv_fail(err, "%s: %s needs a value: %s %s", cmd->name, o->name, o->name, o->arg);
        }
        if (parse_value(g, cmd, err))
            return -1;
        a->ngiven++;
    }
    if (a->noperands < cmd->min_operands)
        return rv_fail(err, "%s needs %s", cmd->name, cmd->missing);
    return 0;
}

const struct cli_given *cli_last(const struct cli_args *a, const struct cli_option *o)
{
    for (int i = a->ngiven - 1; i >= 0; i--)
        if (a->given[i].opt == o)
            return &a->given[i];
    return NULL;
}

const char *cli_string(const struct cli_args *a, const struct cli_option *o, const char *def)
{
    const struct cli_given *g = cli_last(a, o);
    return g ? g->text : def;
}

double cli_number(const struct cli_args *a, const struct cli_option *o, double def)
{
    const struct cli_given *g = cli_last(a, o);
    return g ? g->number : def;
}

bool cli_flag(const struct cli_args *a, const struct cli_option *o)
{
    return cli_last(a, o) != NULL;
}

/* "run CONFIG [--set section.key=value]... [--out DIR]", then the help line and one line per
 * option. */
static void command_usage(FILE *f, const struct cli_command *cmd)
{
    const char *operands = operands_of(cmd);
    fprintf(f, "%s%s%s", cmd->name, operands[0] ? " " : "", operands);
    for (int i = 0; cmd->options && cmd->options[i]; i++) {
        const struct cli_option *o = cmd->options[i];
        fprintf(f, " [%s%s%s]%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "", o->repeat ? "..." : "");
    }
    fputc('\n', f);
    fprintf(f, "      %s\n", cmd->help);
    for (int i = 0; cmd->options && cmd->options[i]; i++) {
        const struct cli_option *o = cmd->options[i];
        char head[64];
        snprintf(head, sizeof head, "%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(f, "        %-28s %s\n", head, o->help);
    }
}

void cli_command_usage(FILE *f, const struct cli_command *cmd)
{
    fputs("usage: pipeline ", f);
    command_usage(f, cmd);
}

void cli_usage(FILE *f, const struct cli_command *const *cmds)
{
    fputs("usage: pipeline COMMAND ...\n", f);
    for (int c = 0; cmds[c]; c++) {
        fputs("  ", f);
        command_usage(f, cmds[c]);
    }
    fputs("Run under mpirun for data-parallel training: mpirun -q -np 2 ./pipeline run CONFIG\n"
          "(-q keeps Open MPI's notice of a non-zero exit off stderr).\n", f);
    fprintf(f, "Exit status: 0 done, 1 an error (one line on stderr), %d a bad command line, %d stopped "
            "as asked (a signal or --stop-after-steps; " RUN_LAST_FILE " or superres's state file saved).\n", CLI_EXIT_USAGE, EXIT_STOPPED);
}
