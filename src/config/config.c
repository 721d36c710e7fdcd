/* INI files (libinih), --set overrides, cross-key validation, and the INI, help and markdown
 * views of the key table in config_table.c. */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_table.h"
#include "json.h"
#include "schedule.h"
#include "models.h"

/* ---- messages for names that are not in the table ---- */

/* Levenshtein distance ignoring case, for "did you mean". Names are short. */
static int edit_distance(const char *a, const char *b)
{
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    int row[64];
    for (int j = 0; j <= lb; j++)
        row[j] = j;
    for (int i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = i;
        for (int j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static bool close_enough(const char *typed, const char *name, int *best)
{
    int d = edit_distance(typed, name);
    if (d < *best && d <= 2 && d < (int)strlen(name)) {
        *best = d;
        return true;
    }
    return false;
}

static int unknown_section(const char *where, const char *section, struct rv_error *err)
{
    const char *guess = NULL;
    int best = 99;
    for (int i = 0; i < config_nsections; i++)
        if (close_enough(section, config_sections[i], &best))
            guess = config_sections[i];
    char hint[64] = "";
    if (guess)
        snprintf(hint, sizeof hint, " (did you mean [%s]?)", guess);
    return rv_fail(err, "%s: unknown section [%s]%s; sections: run, data, model, train, pipeline",
                   where, section, hint);
}

static int unknown_key(const char *where, const char *section, const char *name,
                       struct rv_error *err)
{
    char keys[600] = "", hint[100] = "";
    size_t used = 0;
    int best = 99;
    for (int i = 0; i < config_nkeys; i++) {
        const struct config_key *k = &config_keys[i];
        if (strcmp(k->section, section) != 0) {
            if (!hint[0] && strcmp(k->name, name) == 0)
                snprintf(hint, sizeof hint, " (it belongs in [%s])", k->section);
            continue;
        }
        if (used < sizeof keys)
            used += (size_t)snprintf(keys + used, sizeof keys - used, "%s%s", used ? ", " : "",
                                     k->name);
        if (close_enough(name, k->name, &best))
            snprintf(hint, sizeof hint, " (did you mean '%s'?)", k->name);
    }
    return rv_fail(err, "%s: unknown key '%s' in [%s]%s; keys there: %s", where, name, section,
                   hint, keys);
}

/* ---- INI text through libinih ----
 *
 * libinih's handler gets no line number (Debian builds it without INI_HANDLER_LINENO), so the
 * text goes to ini_parse_stream through our own reader, which hands over one physical line per
 * call and so knows the line of every handler call. The reader also drops leading blanks: an
 * indented line would otherwise be a libinih continuation line, glued onto the previous value.
 * Lines longer than libinih's buffer (200) are cut for libinih, and the handler re-reads the
 * value from the full line, so a 255-character path still loads. */

struct ini_state {
    struct config *cfg;
    const char *origin;
    const char *next;       /* first unread character of the text */
    int line;               /* 1-based number of the line libinih is working on */
    const char *raw;        /* that line without leading blanks and without its '\n' */
    size_t raw_len;
    bool cut;               /* it did not fit libinih's buffer */
    int section_line;       /* line of the last [section] header */
    int err_line;           /* line of the first error found by the handler; 0 = none */
    struct rv_error msg;
};

static char *read_line(char *buf, int num, void *stream)
{
    struct ini_state *st = stream;
    if (!*st->next || num < 3)
        return NULL;
    const char *start = st->next, *nl = strchr(start, '\n');
    size_t len = nl ? (size_t)(nl - start) : strlen(start);
    st->next = start + len + (nl != NULL);
    st->line++;
    while (len && (*start == ' ' || *start == '\t'))
        start++, len--;
    st->raw = start;
    st->raw_len = len;
    if (len && *start == '[')
        st->section_line = st->line;
    size_t room = (size_t)num - 2;
    st->cut = len > room;
    size_t n = st->cut ? room : len;
    memcpy(buf, start, n);
    buf[n] = '\n';
    buf[n + 1] = '\0';
    return buf;
}

/* The value of a cut line by libinih's rules: after the first '=' or ':', blanks trimmed, up
 * to an inline comment (a ';' after a blank). Caller frees. */
static char *value_of_raw_line(const struct ini_state *st)
{
    const char *p = st->raw, *end = st->raw + st->raw_len;
    while (p < end && *p != '=' && *p != ':')
        p++;
    if (p < end)
        p++;
    while (p < end && isspace((unsigned char)*p))
        p++;
    const char *q = p;
    for (bool blank_before = false; q < end; q++) {
        if (*q == ';' && blank_before)
            break;
        blank_before = isspace((unsigned char)*q);
    }
    while (q > p && isspace((unsigned char)q[-1]))
        q--;
    char *v = rv_malloc((size_t)(q - p) + 1);
    memcpy(v, p, (size_t)(q - p));
    v[q - p] = '\0';
    return v;
}

static int handle_key(struct ini_state *st, const char *section, const char *name,
                      const char *value)
{
    char where[CONFIG_MAX_STRING + 32];
    snprintf(where, sizeof where, "%s:%d", st->origin, st->line);
    if (!section[0]) {
        const char *home = NULL;
        for (int i = 0; i < config_nkeys && !home; i++)
            if (strcmp(config_keys[i].name, name) == 0)
                home = config_keys[i].section;
        if (home)
            return rv_fail(&st->msg, "%s: key '%s' comes before any [section]; put it under [%s]",
                           where, name, home);
        return rv_fail(&st->msg, "%s: key '%s' comes before any [section], and no section has it",
                       where, name);
    }
    if (!config_section_known(section)) {
        snprintf(where, sizeof where, "%s:%d", st->origin, st->section_line);
        return unknown_section(where, section, &st->msg);
    }
    const struct config_key *k = config_key_find(section, name);
    if (!k)
        return unknown_key(where, section, name, &st->msg);
    if (!st->cut)
        return config_parse_value(st->cfg, k, value, where, &st->msg);
    char *full = value_of_raw_line(st);
    int rc = config_parse_value(st->cfg, k, full, where, &st->msg);
    free(full);
    return rc;
}

#if INI_HANDLER_LINENO
static int on_key(void *user, const char *section, const char *name, const char *value, int lineno)
#else
static int on_key(void *user, const char *section, const char *name, const char *value)
#endif
{
    struct ini_state *st = user;
    if (st->err_line)
        return 1; /* the first error is the one reported */
    if (handle_key(st, section, name, value)) {
        st->err_line = st->line;
        return 0;
    }
    return 1;
}

static void line_of(const char *text, int n, char *buf, size_t size)
{
    for (int i = 1; i < n && text; i++) {
        text = strchr(text, '\n');
        text = text ? text + 1 : NULL;
    }
    size_t len = 0;
    while (text && text[len] && text[len] != '\n' && text[len] != '\r')
        len++;
    snprintf(buf, size, "%.*s", (int)(len < 80 ? len : 80), text ? text : "");
}

int config_load_string(struct config *c, const char *text, const char *origin,
                       struct rv_error *err)
{
    struct config tmp = *c;
    struct ini_state st = {.cfg = &tmp, .origin = origin, .next = text};
    int rc = ini_parse_stream(read_line, &st, on_key, &st);
    if (rc == -2)
        return rv_fail(err, "%s: out of memory while parsing", origin);
    if (rc > 0 && (!st.err_line || rc < st.err_line)) {
        char bad[96];
        line_of(text, rc, bad, sizeof bad);
        return rv_fail(err, "%s:%d: cannot parse '%s'; expected [section], key = value or a ; comment",
                       origin, rc, bad);
    }
    if (st.err_line)
        return rv_fail(err, "%s", st.msg.msg);
    *c = tmp;
    snprintf(c->source, sizeof c->source, "%s", origin);
    return 0;
}

int config_load(struct config *c, const char *path, struct rv_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return rv_fail(err, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *text = rv_malloc(cap);
    for (size_t got; (got = fread(text + n, 1, cap - n - 1, f)) > 0;) {
        n += got;
        if (cap - n - 1 == 0) {
            char *bigger = realloc(text, cap * 2);
            if (!bigger) {
                free(text);
                fclose(f);
                return rv_fail(err, "%s: out of memory reading it", path);
            }
            text = bigger;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    text[n] = '\0';
    int rc = bad ? rv_fail(err, "%s: cannot read: %s", path, strerror(errno))
                 : config_load_string(c, text, path, err);
    free(text);
    return rc;
}

/* ---- --set section.key=value ---- */

static void trimmed(const char *s, size_t len, char *out, size_t size)
{
    while (len && isspace((unsigned char)*s))
        s++, len--;
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    snprintf(out, size, "%.*s", (int)len, s);
}

int config_set(struct config *c, const char *assignment, struct rv_error *err)
{
    char where[300];
    snprintf(where, sizeof where, "--set %s", assignment);
    const char *eq = strchr(assignment, '=');
    char key[128] = "";
    if (eq)
        trimmed(assignment, (size_t)(eq - assignment), key, sizeof key);
    char *dot = strchr(key, '.');
    if (!eq || !dot || dot == key || !dot[1])
        return rv_fail(err, "%s: expected section.key=value, e.g. --set train.lr=0.05", where);
    *dot = '\0';
    const char *section = key, *name = dot + 1;
    if (!config_section_known(section))
        return unknown_section(where, section, err);
    const struct config_key *k = config_key_find(section, name);
    if (!k)
        return unknown_key(where, section, name, err);
    size_t vlen = strlen(eq + 1);
    char *value = rv_malloc(vlen + 1);
    trimmed(eq + 1, vlen, value, vlen + 1);
    int rc = config_parse_value(c, k, value, where, err);
    free(value);
    return rc;
}

/* ---- checks across keys ---- */

static int check_depth(const struct config *c, struct rv_error *err)
{
    /* The family checks its keys (the input is not known yet); resnet's depth gets a hint. */
    struct model_spec s = {.arch = c->arch, .depth = c->depth, .width = c->width,
                           .stem = c->stem, .norm = c->norm, .head = c->head,
                           .no_skip = !c->skip,
                           .mixer = {.patch = c->mixer_patch, .hidden = c->mixer_hidden,
                                     .tokens_mlp = c->mixer_tokens_mlp,
                                     .channels_mlp = c->mixer_channels_mlp,
                                     .blocks = c->mixer_blocks}};
    int r = (c->depth - 2) % 6;
    if (c->arch != ARCH_RESNET || r == 0)
        return model_check_spec(&s, err);
    const struct config_key *k = config_key_find("model", "depth");
    int lo = c->depth - r, hi = lo + 6;
    if (lo < (int)k->min)
        return rv_fail(err, "model.depth = %d is not 6n+2; try %d", c->depth, hi);
    if (hi > (int)k->max)
        return rv_fail(err, "model.depth = %d is not 6n+2; try %d", c->depth, lo);
    return rv_fail(err, "model.depth = %d is not 6n+2; try %d or %d", c->depth, lo, hi);
}

static int check_increasing(const struct config_list *l, const char *key, struct rv_error *err)
{
    for (int i = 1; i < l->n; i++)
        if (!(l->v[i] > l->v[i - 1])) {
            char a[40], b[40];
            config_format_double(l->v[i - 1], a, sizeof a);
            config_format_double(l->v[i], b, sizeof b);
            return rv_fail(err, "%s must increase strictly, but %s follows %s; list them in order, once each",
                           key, b, a);
        }
    return 0;
}

static int check_pipeline(const struct config *c, struct rv_error *err)
{
    const struct config_list *fr = &c->fractions;
    if (fr->n > 0) {
        char x[40];
        if (fr->v[0] != 0.0) {
            config_format_double(fr->v[0], x, sizeof x);
            return rv_fail(err, "pipeline.fractions must start with 0 (the BatchNorm-only stage), not %s", x);
        }
        /* Leading zeros are BatchNorm-only rounds (re-initializing between them); after them the
         * list increases strictly. */
        int zeros = 0;
        while (zeros < fr->n && fr->v[zeros] == 0.0)
            zeros++;
        struct config_list rest = *fr;
        rest.n = 0;
        for (int i = zeros - 1; i < fr->n; i++)
            rest.v[rest.n++] = fr->v[i];
        if (check_increasing(&rest, "pipeline.fractions", err))
            return -1;
    }
    /* The stages themselves (their count, pipeline.epochs per stage) are the schedule's to
     * check, even when pipeline.enabled is false: a key that is set is a key that is valid. */
    struct schedule sched;
    return schedule_pipeline(&sched, c, err);
}

int config_validate(const struct config *c, struct rv_error *err)
{
    /* Code may fill the struct directly, so each value is first re-checked by the parser:
     * a value is valid iff its INI text parses. */
    struct config scratch;
    config_defaults(&scratch);
    for (int i = 0; i < config_nkeys; i++) {
        const struct config_key *k = &config_keys[i];
        if (k->type == CFG_STRING)
            REVIVE_ASSERT(memchr((const char *)c + k->offset, '\0', CONFIG_MAX_STRING));
        if (k->type == CFG_LIST) {
            const struct config_list *l = (const void *)((const char *)c + k->offset);
            if (l->n < 0 || l->n > CONFIG_MAX_LIST)
                return rv_fail(err, "%s.%s has %d values; at most %d", k->section, k->name, l->n,
                               CONFIG_MAX_LIST);
        }
        char text[CONFIG_VALUE_TEXT];
        config_format_value(c, k, text, sizeof text);
        if (config_parse_value(&scratch, k, text, NULL, err))
            return -1;
    }
    if (!c->name[0])
        return rv_fail(err, "run.name is empty; name the run, e.g. name = \"baseline\"");
    if (strchr(c->name, '/') || strcmp(c->name, ".") == 0 || strcmp(c->name, "..") == 0)
        return rv_fail(err, "run.name = '%s' must name one directory under run.out_dir: no '/', not . or ..",
                       c->name);
    if (!c->out_dir[0])
        return rv_fail(err, "run.out_dir is empty; use \".\" for the current directory");
    if (check_depth(c, err) || check_increasing(&c->milestones, "train.milestones", err) ||
        check_increasing(&c->milestone_fractions, "train.milestone_fractions", err) ||
        check_pipeline(c, err))
        return -1;
    if (c->reinit_weights == REINIT_WEIGHTS_KEEP && c->reinit_weight_scale != 1.0)
        return rv_fail(err, "%s: pipeline.reinit_weight_scale scales fresh conv weights, but "
                       "pipeline.reinit_weights = keep draws none; drop the scale or choose fresh or "
                       "orthogonal", c->source);
    if (c->optimizer == OPT_ADAMW && c->nesterov)
        return rv_fail(err, "%s: train.nesterov = true is SGD's; train.optimizer = adamw has no "
                       "Nesterov form here: set nesterov = false or optimizer = sgd", c->source);
    if (c->warmup_steps > 0 && c->warmup_epochs > 0)
        return rv_fail(err, "%s: train.warmup_steps and train.warmup_epochs are both set; give one "
                       "(steps, or epochs of the stage)", c->source);
    if (c->lr_min > 0 && c->lr_schedule != LR_COSINE && c->lr_schedule != LR_WARMUP_COSINE)
        return rv_fail(err, "%s: train.lr_min = %g is the floor of a cosine, but train.lr_schedule "
                       "= %s; use cosine or warmup_cosine, or drop lr_min", c->source, c->lr_min,
                       CHOICE_NAME(lr_kind_names, c->lr_schedule));
    if (c->lr_min >= c->lr && c->lr_min > 0)
        return rv_fail(err, "%s: train.lr_min = %g is not below train.lr = %g; the cosine falls "
                       "from lr to lr_min: lower lr_min", c->source, c->lr_min, c->lr);
    if (c->milestones.n > 0 && c->milestone_fractions.n > 0)
        return rv_fail(err, "%s: train.milestones and train.milestone_fractions are both set; give "
                       "one (epochs, or fractions of the stage's epochs)", c->source);
    return 0;
}

/* ---- views of the table ---- */

char *config_to_ini(const struct config *c)
{
    size_t size = (size_t)config_nkeys * (CONFIG_VALUE_TEXT + 64) + 256, used = 0;
    char *out = rv_malloc(size);
    out[0] = '\0';
    const char *section = "";
    for (int i = 0; i < config_nkeys; i++) {
        const struct config_key *k = &config_keys[i];
        if (strcmp(k->section, section) != 0) {
            section = k->section;
            used += (size_t)snprintf(out + used, size - used, "%s[%s]\n", i ? "\n" : "", section);
        }
        char text[CONFIG_VALUE_TEXT];
        config_format_value(c, k, text, sizeof text);
        used += (size_t)snprintf(out + used, size - used, "%s = %s\n", k->name, text);
        REVIVE_ASSERT(used < size);
    }
    return out;
}

void config_print_help(FILE *f)
{
    fprintf(f, "Configuration keys. An INI file sets them by section ([train] then lr = 0.05);\n"
               "--set train.lr=0.05 overrides one after the file. Defaults as you would write them.\n");
    const char *section = "";
    for (int i = 0; i < config_nkeys; i++) {
        const struct config_key *k = &config_keys[i];
        if (strcmp(k->section, section) != 0) {
            section = k->section;
            fprintf(f, "\n[%s]\n", section);
        }
        char range[200], line[400];
        config_format_range(k, range, sizeof range);
        int n = snprintf(line, sizeof line, "  %-23s %-8s %-15s %s", k->name, config_type_name(k),
                         k->def[0] ? k->def : "(empty)", range);
        while (n > 0 && line[n - 1] == ' ')
            line[--n] = '\0';
        fprintf(f, "%s\n  %-23s %s\n", line, "", k->help);
    }
}

/* Markdown table cells: '|' would end the cell. */
static void md_cell(FILE *f, const char *s, bool code)
{
    if (code)
        fputc('`', f);
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", f); /* GFM unescapes it, in code spans too */
        else
            fputc(*s, f);
    }
    if (code)
        fputc('`', f);
}

void config_write_markdown(FILE *f)
{
    fputs("# Configuration\n\n"
          "<!-- Generated from the key table in src/config/config_table.c by config_write_markdown;\n"
          "     do not edit. Regenerate: build/tests/test_config --write-docs -->\n\n"
          "A run is configured by an INI file. Keys live in sections:\n\n"
          "```ini\n[train]\nlr = 0.05          ; a comment\nmilestones = 30, 60\n\n"
          "[pipeline]\nenabled = true\n```\n\n"
          "Every key has a default, so a file names only what differs. On the command line\n"
          "`--set section.key=value` (for example `--set train.lr=0.05`) overrides a key after\n"
          "the file is read, with the same checks. An unknown section or key, or a value of the\n"
          "wrong type or out of range, is an error that names the file, the line and the key.\n\n"
          "Values: bools are `true`/`false` (also `yes`/`no`, `on`/`off`, `1`/`0`); strings may\n"
          "be quoted (`path = \"\"` is the empty string); lists are comma-separated numbers\n"
          "(`30, 60`), and an empty value is the empty list. Checks across keys (depth is 6n+2,\n"
          "lists increase, pipeline stages) run once the file and every `--set` are applied.\n"
          "The effective configuration, as a checkpoint stores it, is INI with every key in the\n"
          "order below.\n\n"
          "The pipeline trains stage after stage: the stage fractions are `pipeline.fractions`\n"
          "when given, otherwise 0, N, sN, s²N, … while below 1, then 1 (N = `pipeline.n`,\n"
          "s = `pipeline.s`). Fraction 0 trains BatchNorm only and 1 trains every parameter.\n"
          "`pipeline plan CONFIG` prints the stages a config makes; scripts read this table as\n"
          "JSON from `pipeline help-config --format json`.\n",
          f);
    const char *section = "";
    for (int i = 0; i < config_nkeys; i++) {
        const struct config_key *k = &config_keys[i];
        if (strcmp(k->section, section) != 0) {
            section = k->section;
            fprintf(f, "\n## [%s]\n\n| key | type | default | range / choices | meaning |\n"
                       "|---|---|---|---|---|\n", section);
        }
        char range[200];
        config_format_range(k, range, sizeof range);
        fputs("| ", f);
        md_cell(f, k->name, true);
        fprintf(f, " | %s | ", config_type_name(k));
        if (k->def[0])
            md_cell(f, k->def, true);
        else
            fputs("(empty)", f);
        fputs(" | ", f);
        md_cell(f, range, false);
        fputs(" | ", f);
        md_cell(f, k->help, false);
        fputs(" |\n", f);
    }
}

void config_write_json(FILE *f)
{
    struct config d;
    config_defaults(&d);
    fputs("[", f);
    for (int i = 0; i < config_nkeys; i++) {
        const struct config_key *k = &config_keys[i];
        fprintf(f, "%s\n  {\"section\": ", i ? "," : "");
        json_string(f, k->section);
        fputs(", \"name\": ", f);
        json_string(f, k->name);
        fputs(", \"type\": ", f);
        json_string(f, config_type_name(k));
        /* The default as a value's text (a string without its INI quotes), and as INI text. */
        fputs(", \"default\": ", f);
        json_string(f, k->type == CFG_STRING ? (const char *)&d + k->offset : k->def);
        fputs(", \"ini\": ", f);
        json_string(f, k->def);
        if (k->type == CFG_INT || k->type == CFG_DOUBLE || k->type == CFG_LIST) {
            fputs(", \"min\": ", f);
            json_number(f, k->min);
            fputs(", \"max\": ", f);
            json_number(f, k->max);
        }
        if (k->type == CFG_CHOICE) {
            fputs(", \"choices\": [", f);
            for (int c = 0; c < k->nnames; c++) {
                fputs(c ? ", " : "", f);
                json_string(f, k->names[c]);
            }
            fputs("]", f);
        }
        fputs(", \"help\": ", f);
        json_string(f, k->help);
        fputs("}", f);
    }
    fputs("\n]", f);
}
