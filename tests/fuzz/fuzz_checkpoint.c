/* libFuzzer harness: the checkpoint readers. Each input is written to a file and read the ways
 * the command line reads one: the stored config (resume, eval, export), a full load into a model
 * built from the file's /model attributes, the schedule rebuilt from what loaded (resume),
 * inspect, and export --seed-only. Any input must end in 0 or a one-line error; never a crash, a leak or a huge
 * allocation. `make fuzz` runs it; tests/fuzz/replay.c replays inputs without libFuzzer.
 *
 * fuzz_write_seeds(dir) writes the seed corpus: small checkpoints written by revive itself. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "../../src/io/checkpoint_layout.h"
#include "../../src/io/h5io_internal.h"
#include "checkpoint.h"
#include "h5io.h"
#include "inspect.h"
#include "pipeline.h"

static char path[64];

/* The model the file declares, if small enough to build here: the harness skips models above
 * ResNet-20 at width 2 (a resource limit of the harness, not of revive, which builds any
 * model the config table allows). */
static int file_spec(struct model_spec *s)
{
    struct rv_error err;
    struct h5in *f = h5in_open(path, &err);
    if (!f)
        return -1;
    static const enum ck_field rows[] = {CK_MODEL_DEPTH, CK_MODEL_WIDTH, CK_MODEL_IN_C, CK_MODEL_IN_H,
                                         CK_MODEL_IN_W, CK_MODEL_CLASSES, CK_MODEL_GAMMA_ONE};
    int64_t v[7];
    int rc = 0;
    for (int i = 0; i < 7 && !rc; i++)
        rc = ck_get_int(f, rows[i], 0, &v[i], &err);
    h5in_close(f);
    if (rc || v[0] > 20 || v[1] > 2)
        return -1;
    *s = (struct model_spec){.depth = (int)v[0], .width = (int)v[1], .in_c = (int)v[2],
                             .in_h = (int)v[3], .in_w = (int)v[4], .classes = (int)v[5],
                             .gamma_one = v[6] != 0};
    return 0;
}

static void one_line(const struct rv_error *err)
{
    if (strchr(err->msg, '\n'))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0])
        snprintf(path, sizeof path, "/tmp/revive-fuzz-%ld.h5", (long)getpid());
    /* Two threat models. By default, damaged files: the input is written as it is, and a file
     * with revive's user block must stop at its CRC-32 (h5in_open). With REVIVE_FUZZ_CRAFTED=1
     * (make fuzz FUZZ_CRAFTED=1), crafted files: the CRC is recomputed, as the maker of a file
     * always can, to reach what lies beyond it, HDF5's parsers included (docs/FUZZING.md). */
    static int crafted = -1;
    if (crafted < 0)
        crafted = getenv("REVIVE_FUZZ_CRAFTED") && strcmp(getenv("REVIVE_FUZZ_CRAFTED"), "1") == 0;
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        abort();
    memcpy(copy, data, size);
    if (crafted && size > H5IO_USERBLOCK + 8 && memcmp(copy, "revive-hdf5 crc32 ", 18) == 0)
        h5io_userblock_text((char *)copy,
                            (uint32_t)crc32(0, copy + H5IO_USERBLOCK, (uInt)(size - H5IO_USERBLOCK)),
                            (unsigned long long)size);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(copy, 1, size, f) != size || fclose(f) != 0)
        abort();
    free(copy);

    struct comm self = COMM_SELF_INIT;
    struct run r;
    memset(&r, 0, sizeof r);
    r.comm = &self;
    struct rv_error err = {{0}};
    struct model_spec spec;
    if (checkpoint_read_config(&r.cfg, path, &err) == 0 && file_spec(&spec) == 0 &&
        model_build(&r.model, &spec, 0, 1, &err) == 0) {
        if (checkpoint_load(&r, path, &err) == 0) {
            struct schedule s;
            schedule_for_run(&s, &r, &err);
        }
    }
    one_line(&err);
    run_close(&r);

    FILE *null = fopen("/dev/null", "w");
    char *argv[] = {path};
    inspect_run(null, null, 1, argv);
    fclose(null);
    /* export --seed-only: it builds the model the file's /model declares, once that model is
     * known to be the config's and to fit in the file */
    char out[80];
    snprintf(out, sizeof out, "%s.export", path);
    err.msg[0] = '\0';
    checkpoint_export_seed_only(path, out, &err);
    one_line(&err);
    unlink(out);
    unlink(path);
    return 0;
}

/* A depth-8 run at the end of stage 1 (two records) with a history, as a full checkpoint, and
 * a seed-only export of a BN-only stage end: the shapes revive writes. */
int fuzz_write_seeds(const char *dir)
{
    struct comm self = COMM_SELF_INIT;
    struct run r;
    memset(&r, 0, sizeof r);
    r.comm = &self;
    config_defaults(&r.cfg);
    r.cfg.dataset = DATASET_SYNTHETIC;
    r.cfg.depth = 8;
    r.cfg.pipeline = true;
    struct model_spec spec = {.depth = 8, .width = 1, .in_c = 1, .in_h = 8, .in_w = 8, .classes = 4};
    struct rv_error err = {{0}};
    if (model_build(&r.model, &spec, 0, 1, &err))
        return fprintf(stderr, "%s\n", err.msg), 1;
    model_init(&r.model, 1);
    r.history = calloc(2, sizeof *r.history);
    r.nhistory = r.history_cap = 2;
    r.history[0] = (struct history_row){.stage = 0, .epoch = 1, .lr = 0.1, .test_acc = 0.5};
    r.history[1] = (struct history_row){.stage = 1, .epoch = 1, .lr = 0.1, .test_acc = 0.5};
    char full[512], stage0[512], slim[512];
    snprintf(stage0, sizeof stage0, "%s/stage-00.h5", dir);
    snprintf(full, sizeof full, "%s/stage-01.h5", dir);
    snprintf(slim, sizeof slim, "%s/seed-only.h5", dir);
    r.nrecords = 1;
    r.epoch = 1;
    r.step = 2;
    stats_record(&r.records[0], &r.model, 0, (struct stats_threshold){.tau = 0.01}, NULL);
    snprintf(r.records[0].kind, sizeof r.records[0].kind, "bn");
    int rc = checkpoint_save(&r, stage0, &err) || checkpoint_export_seed_only(stage0, slim, &err);
    r.nrecords = 2;
    r.stage = 1;
    stats_record(&r.records[1], &r.model, 1, (struct stats_threshold){.tau = 0.01}, r.records[0].disabled);
    snprintf(r.records[1].kind, sizeof r.records[1].kind, "conv_fraction");
    r.records[1].fraction = 0.1;
    rc = rc || checkpoint_save(&r, full, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    unlink(stage0); /* the export is its small twin */
    run_close(&r);
    return rc ? 1 : 0;
}
