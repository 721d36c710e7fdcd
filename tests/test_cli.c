/* The command-line option table (cli.h): values by type and bounds, repeated options in order,
 * --name=value, operand counts, and one-line errors that name the command, the option and the fix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cli.h"

static const char *const formats[] = {"text", "json", NULL};
static const struct cli_option opt_n = {"--n", "N", CLI_LONG, 0, 10, .valid = "a whole number from 0 to 10"};
static const struct cli_option opt_x = {"--x", "X", CLI_DOUBLE, 0, 1, .valid = "a number in (0, 1]"};
static const struct cli_option opt_f = {"--format", "text|json", CLI_CHOICE, .choices = formats};
static const struct cli_option opt_q = {"--quiet", NULL, CLI_FLAG, .help = "say less"};
static const struct cli_option *const options[] = {&cli_set, &cli_out, &opt_n, &opt_x, &opt_f, &opt_q, NULL};
static const struct cli_command cmd = {"demo", "FILE", 1, 2, "a file: pipeline demo x.ini", options, "a test", .mpi = false};

static struct cli_args args; /* large: not on cmocka's stack */

static int parse(struct rv_error *err, int argc, ...)
{
    char *argv[32];
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    memset(err, 0, sizeof *err);
    return cli_parse(&args, &cmd, argc, argv, err);
}

static void test_values(void **state)
{
    (void)state;
    struct rv_error err;
    assert_int_equal(parse(&err, 11, "a.ini", "--set", "train.lr=1", "--n", "7", "--set=run.seed=2",
                           "--x=0.5", "--format", "json", "--quiet", "b.ini"), 0);
    assert_int_equal(args.noperands, 2);
    assert_string_equal(args.operand[0], "a.ini");
    assert_string_equal(args.operand[1], "b.ini");
    assert_true(cli_number(&args, &opt_n, -1) == 7);
    assert_true(cli_number(&args, &opt_x, -1) == 0.5);
    assert_true(cli_number(&args, &opt_f, -1) == 1);
    assert_true(cli_flag(&args, &opt_q));
    assert_null(cli_string(&args, &cli_out, NULL));
    /* --set values stay in the order given */
    const char *sets[2];
    int n = 0;
    for (int i = 0; i < args.ngiven; i++)
        if (args.given[i].opt == &cli_set)
            sets[n++] = args.given[i].text;
    assert_int_equal(n, 2);
    assert_string_equal(sets[0], "train.lr=1");
    assert_string_equal(sets[1], "run.seed=2");
    /* the last of a single-valued option wins; a value may start with '-'; "" is a value */
    assert_int_equal(parse(&err, 6, "a.ini", "--n", "1", "--n", "2", "--out="), 0);
    assert_true(cli_number(&args, &opt_n, -1) == 2);
    assert_string_equal(cli_string(&args, &cli_out, NULL), "");
    assert_int_equal(parse(&err, 3, "a.ini", "--out", "-dir"), 0);
    assert_string_equal(cli_string(&args, &cli_out, NULL), "-dir");
}

static void test_errors(void **state)
{
    (void)state;
    struct rv_error err;
    assert_int_equal(parse(&err, 2, "a.ini", "--bogus"), -1);
    assert_string_equal(err.msg, "demo: unknown option '--bogus'; demo takes --set section.key=value, --out DIR, "
                                 "--n N, --x X, --format text|json or --quiet (see pipeline --help)");
    assert_int_equal(parse(&err, 2, "a.ini", "--n"), -1);
    assert_string_equal(err.msg, "demo: --n needs a value: --n N");
    assert_int_equal(parse(&err, 3, "a.ini", "--n", "11"), -1);
    assert_string_equal(err.msg, "demo: --n '11' must be a whole number from 0 to 10");
    assert_int_equal(parse(&err, 3, "a.ini", "--n", "3x"), -1);
    assert_int_equal(parse(&err, 3, "a.ini", "--n", ""), -1);
    assert_int_equal(parse(&err, 3, "a.ini", "--x", "0"), -1); /* (0, 1]: 0 is out */
    assert_string_equal(err.msg, "demo: --x '0' must be a number in (0, 1]");
    assert_int_equal(parse(&err, 3, "a.ini", "--x", "nan"), -1);
    assert_int_equal(parse(&err, 3, "a.ini", "--x", "1"), 0);
    assert_int_equal(parse(&err, 3, "a.ini", "--format", "xml"), -1);
    assert_string_equal(err.msg, "demo: --format 'xml' is not one of text|json");
    assert_int_equal(parse(&err, 2, "a.ini", "--quiet=yes"), -1);
    assert_string_equal(err.msg, "demo: --quiet takes no value (remove '=yes')");
    assert_int_equal(parse(&err, 0), -1);
    assert_string_equal(err.msg, "demo needs a file: pipeline demo x.ini");
    assert_int_equal(parse(&err, 3, "a", "b", "c"), -1);
    assert_non_null(strstr(err.msg, "demo: unexpected argument 'c'"));
}

/* A command that takes no operands (params) once printed "usage: params (null) with ...". */
static void test_no_operands(void **state)
{
    (void)state;
    static const struct cli_option *const opts[] = {&opt_n, NULL};
    static const struct cli_command bare = {.name = "bare", .options = opts, .help = "a test"};
    static char *argv[] = {"x.ini"};
    struct rv_error err = {0};
    assert_int_equal(cli_parse(&args, &bare, 1, argv, &err), -1);
    assert_string_equal(err.msg, "bare: unexpected argument 'x.ini': it takes options only (usage: bare with --n N)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_no_operands),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
