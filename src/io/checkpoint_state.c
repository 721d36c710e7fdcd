/* pipeline superres's mid-run state file (checkpoint.h, struct sr_state): the layout table's
 * state rows (CK_STATE, CK_STATE_ONLY in checkpoint_layout.c), written and read by the table's
 * own code (ck_put_head, ck_put_all, ck_put_arrays, ck_put_checksum and their readers) and
 * atomically, as a checkpoint is. In short:
 *
 *   /                  attrs format ("revive-superres-state"), format_version, checksum, seed
 *   /config            the effective config as INI text (a resume must have the same)
 *   /params/<name>, /momentum/<name>, /moment2/<name> (AdamW), /running/<unit>/mean, var
 *   /superres          attrs step, pixel_sum, perceptual_sum
 *   /superres/epochs/  lr, pixel, perceptual, seconds: float64 (train.epochs,) each
 */
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "checkpoint_layout.h"
#include "h5io.h"

struct state_out {
    const struct config *cfg;
    const struct model *g;
    const struct sr_state *st;
};

static int write_state(struct h5out *f, const void *ctx, struct rv_error *err)
{
    const struct state_out *o = ctx;
    const struct ck_io io = {.writing = true, .file = CK_FILE_STATE};
    return ck_put_head(f, CK_FILE_STATE, o->cfg, err) ||
           ck_put_arrays(f, CK_PARAMS, CK_RUNNING_VAR, 0, o->g, &io, err) ||
           h5out_group(f, ck_layout[CK_SR_STEP].object, err) ||
           ck_put_all(f, CK_IN_SR, 0, o->st, err) ||
           ck_put_arrays(f, CK_SR_EPOCH_LR, CK_SR_EPOCH_SECONDS, 0, o->st, &io, err) ||
           ck_put_checksum(f, CK_FILE_STATE, 0, err) ? -1 : 0;
}

int checkpoint_save_sr_state(const char *path, const struct config *cfg, const struct model *g,
                             const struct sr_state *st, struct rv_error *err)
{
    const struct state_out o = {cfg, g, st};
    return ck_write_atomic(path, write_state, &o, err);
}

/* The first line where a and b differ (for the error): each into its buf. */
static void first_difference(const char *a, const char *b, char *ba, char *bb, size_t cap)
{
    for (;;) {
        size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
        if (la != lb || strncmp(a, b, la) != 0 || !a[la] || !b[lb]) {
            snprintf(ba, cap, "%.*s", (int)(la < 100 ? la : 100), a);
            snprintf(bb, cap, "%.*s", (int)(lb < 100 ? lb : 100), b);
            return;
        }
        a += la + 1;
        b += lb + 1;
    }
}

/* The file's /config must be cfg's INI text (it fixes the data, its order, the generator, the
 * loss network and the schedule), and its seed cfg's. */
static int match_config(struct h5in *f, const struct config *cfg, struct rv_error *err)
{
    char name[64];
    ck_dataset_path(name, sizeof name, CK_CONFIG, 0, NULL);
    char *ini = config_to_ini(cfg), *was = NULL;
    int64_t seed = 0;
    int rc = h5in_string(f, name, &was, err) || ck_get_int(f, CK_SEED, 0, &seed, err) ? -1 : 0;
    if (rc == 0 && strcmp(was, ini) != 0) {
        char then[112], now[112];
        first_difference(was, ini, then, now, sizeof then);
        rc = rv_fail(err, "%s was written with another config ('%s' there, '%s' now); resume with "
                     "the config and --set of the stopped run", h5in_path(f), then, now);
    } else if (rc == 0 && seed != cfg->seed) {
        rc = rv_fail(err, "%s: /seed is %lld but its /config says run.seed = %d; the file is "
                     "damaged", h5in_path(f),
                     (long long)seed, cfg->seed);
    }
    free(ini);
    free(was);
    return rc;
}

static int read_state(struct h5in *f, const struct config *cfg, struct model *g,
                      struct sr_state *st, struct rv_error *err)
{
    const struct ck_io io = {.file = CK_FILE_STATE};
    if (ck_check_format(f, CK_FILE_STATE, err) || match_config(f, cfg, err) ||
        ck_get_arrays(f, CK_PARAMS, CK_RUNNING_VAR, 0, g, &io, err) ||
        ck_get_all(f, CK_IN_SR, 0, st, err) ||
        ck_get_arrays(f, CK_SR_EPOCH_LR, CK_SR_EPOCH_SECONDS, 0, st, &io, err))
        return -1;
    return 0;
}

int checkpoint_load_sr_state(const char *path, const struct config *cfg, struct model *g,
                             struct sr_state *st, struct rv_error *err)
{
    struct h5in *f = h5in_open(path, err);
    int rc = f ? read_state(f, cfg, g, st, err) : -1;
    if (f)
        h5in_close(f);
    if (rc)
        checkpoint_escape_message(err);
    return rc;
}
