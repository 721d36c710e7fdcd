/* Writing JSON for scripts (C and Python talk in JSON, not prose):
 *
 *   json_string(f, "say \"hi\"");      "say \"hi\"", UTF-8 passed through, controls escaped
 *   json_number(f, 0.1);               0.1: the shortest text that reads back to the same double;
 *                                      null for NaN and infinities (JSON has neither)
 */
#ifndef REVIVE_JSON_H
#define REVIVE_JSON_H

#include <stdio.h>

void json_string(FILE *f, const char *s);
void json_number(FILE *f, double x);

#endif
