/* src/core/json.c: strings escaped, numbers exact or null, and objects written member by member
 * (the writer `pipeline image-metrics --format json`, `style-judge --format json` and superres's
 * results.json share). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "json.h"

/* What write(f) printed. */
static char *captured(void (*write)(FILE *f))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    write(f);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static void write_values(FILE *f)
{
    json_string(f, "say \"hi\"\\\n\t é");
    fputc(' ', f);
    json_number(f, 0.1);
    fputc(' ', f);
    json_number(f, NAN);
    fputc(' ', f);
    json_number(f, -INFINITY);
}

static void test_values(void **state)
{
    (void)state;
    char *s = captured(write_values);
    assert_string_equal(s, "\"say \\\"hi\\\"\\\\\\n\\u0009 é\" 0.1 null null");
    free(s);
}

static void write_object(FILE *f)
{
    struct json_object o = json_begin(f);
    json_put_string(&o, "a", "x.png");
    json_put_int(&o, "channels", 3);
    json_put_number(&o, "psnr", 31.25);
    json_put_number(&o, "none", NAN);
    json_key(&o, "taps");
    struct json_object t = json_begin(f);
    json_put_number(&t, "b2", 1.5);
    json_put_int(&t, "big", 9007199254740993LL);
    json_end(&t);
    json_key(&o, "empty");
    struct json_object e = json_begin(f);
    json_end(&e);
    json_end(&o);
}

static void test_object(void **state)
{
    (void)state;
    char *s = captured(write_object);
    assert_string_equal(s, "{\"a\": \"x.png\", \"channels\": 3, \"psnr\": 31.25, \"none\": null, "
                           "\"taps\": {\"b2\": 1.5, \"big\": 9007199254740993}, \"empty\": {}}");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
