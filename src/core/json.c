/* JSON values for scripts (json.h). */
#include <math.h>

#include "config.h"
#include "json.h"

void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

void json_number(FILE *f, double x)
{
    if (!isfinite(x)) {
        fputs("null", f);
        return;
    }
    char buf[40];
    config_format_double(x, buf, sizeof buf);
    fputs(buf, f);
}

struct json_object json_begin(FILE *f)
{
    fputc('{', f);
    return (struct json_object){.f = f};
}

void json_key(struct json_object *o, const char *key)
{
    if (o->members++)
        fputs(", ", o->f);
    json_string(o->f, key);
    fputs(": ", o->f);
}

void json_put_string(struct json_object *o, const char *key, const char *v)
{
    json_key(o, key);
    json_string(o->f, v);
}

void json_put_number(struct json_object *o, const char *key, double v)
{
    json_key(o, key);
    json_number(o->f, v);
}

void json_put_int(struct json_object *o, const char *key, long long v)
{
    json_key(o, key);
    fprintf(o->f, "%lld", v);
}

void json_end(struct json_object *o)
{
    fputc('}', o->f);
}
