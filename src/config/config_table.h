/* The key table behind struct config, shared by src/config/config_table.c (the rows, value parsing
 * and formatting) and src/config/config.c (INI files, --set, validation, help and docs). Private to
 * those two files.
 *
 *   const struct config_key *k = config_key_find("train", "lr");
 *   if (config_parse_value(&cfg, k, "0.05", "x.ini:7", &err)) ...
 *   config_format_value(&cfg, k, text, sizeof text);      "0.05": INI text that parses back
 */
#ifndef REVIVE_CONFIG_TABLE_H
#define REVIVE_CONFIG_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "error.h"

enum config_type { CFG_INT, CFG_DOUBLE, CFG_BOOL, CFG_STRING, CFG_CHOICE, CFG_LIST };

struct config_key {
    const char *section, *name;
    enum config_type type;
    size_t offset, size;      /* of the field in struct config */
    double min, max;          /* int, double, and each element of a list */
    bool whole;               /* list elements must be whole numbers */
    const char *def;          /* the default, as INI text, parsed like any value */
    const char *const *names; /* CFG_CHOICE: the enum's name table (config.h); the field is the enum */
    int nnames;
    const char *help;
};

extern const struct config_key config_keys[];
extern const int config_nkeys;
extern const char *const config_sections[];
extern const int config_nsections;

/* Buffer size that holds any formatted value (a full list or a quoted string). */
#define CONFIG_VALUE_TEXT 1024

const struct config_key *config_key_find(const char *section, const char *name);
bool config_section_known(const char *section);
/* Parses INI text into k's field of c; on error c is unchanged and the message starts with
 * "where: " (no prefix when where is NULL). */
int config_parse_value(struct config *c, const struct config_key *k, const char *value,
                       const char *where, struct rv_error *err);
/* INI text of k's field, which config_parse_value reads back to the same bits. */
void config_format_value(const struct config *c, const struct config_key *k, char *buf,
                         size_t size);
const char *config_type_name(const struct config_key *k);
/* "1..100000", "each 0..1", "a|b|c" or "" for bool and string. */
void config_format_range(const struct config_key *k, char *buf, size_t size);

#endif
