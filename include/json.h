/* Writing JSON for scripts (C and Python talk in JSON, not prose):
 *
 *   json_string(f, "say \"hi\"");      "say \"hi\"", UTF-8 passed through, controls escaped
 *   json_number(f, 0.1);               0.1: the shortest text that reads back to the same double;
 *                                      null for NaN and infinities (JSON has neither)
 *
 * An object, member by member (", " between members, ": " after each key):
 *
 *   struct json_object o = json_begin(stdout);     {
 *   json_put_string(&o, "image", path);            "image": "a.png"
 *   json_put_int(&o, "channels", 3);               , "channels": 3
 *   json_put_number(&o, "psnr", 31.25);            , "psnr": 31.25   (null when not finite)
 *   json_key(&o, "taps");                          , "taps":    then any value, e.g. an object
 *   struct json_object t = json_begin(stdout); json_put_number(&t, "b2", 1.5); json_end(&t);
 *   json_end(&o);                                  }
 */
#ifndef REVIVE_JSON_H
#define REVIVE_JSON_H

#include <stdio.h>

void json_string(FILE *f, const char *s);
void json_number(FILE *f, double x);

struct json_object {
    FILE *f;
    int members; /* written so far */
};
struct json_object json_begin(FILE *f);
/* The member's key (after ", " unless it is the first); its value comes next. */
void json_key(struct json_object *o, const char *key);
void json_put_string(struct json_object *o, const char *key, const char *v);
void json_put_number(struct json_object *o, const char *key, double v);
void json_put_int(struct json_object *o, const char *key, long long v);
void json_end(struct json_object *o);

#endif
