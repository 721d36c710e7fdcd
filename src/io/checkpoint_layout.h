/* The checkpoint layout as one table (src/io/checkpoint_layout.c): every path a checkpoint holds,
 * with its type, shape rule, bounds and meaning. The writer (src/io/checkpoint.c) writes through
 * it, the reader reads through it and checks every value against the row's bounds before it is
 * used, and the layout section of docs/checkpoint-format.md is printed from it
 * (`build/tests/test_checkpoint --write-docs`; a test fails when the document is stale).
 *
 *   ck_put_int(f, CK_STAGE, 0, r->stage, &err);        the root attribute "stage"
 *   ck_get_int(in, CK_STAGE, 0, &v, &err);            read and range-checked: one line if not
 *   ck_get_double(in, CK_REC_FRACTION, k, &x, &err);  attribute of /stats/stage-KK, KK = k
 *   ck_check_values(in, CK_HIST_STAGE, "history/stage", col, n, &err);  each element checked
 *   ck_put_all(f, CK_IN_RECORD, k, rec, &err);     every row that lives in struct stage_record
 *   ck_get_all(in, CK_IN_RECORD, k, rec, &err);    … read back, checked, into its members
 *
 * A row that names its home (RUN(stage), REC(fraction): the struct and member that hold the value
 * in memory) is written and read by ck_put_all / ck_get_all with every other row of that home, in
 * table order: adding such a field is one row (and the member). Rows without a home are written
 * and read by the code their meaning names (constants, the checksum, the config text, datasets).
 * A per-instance group is a row whose object holds KK (stats/stage-KK, provenance/start-KK): a
 * /model unit table would be rows of object "model/units/KK" with a home for the unit's struct,
 * written and read with ck_put_all / ck_get_all(f, home, u, &unit, err) for each unit u.
 *
 * Private to src/io/checkpoint*.c, src/io/provenance.c and src/cli/inspect.c.
 */
#ifndef REVIVE_CHECKPOINT_LAYOUT_H
#define REVIVE_CHECKPOINT_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

struct h5in;
struct h5out;

/* One row each, in the order of the table (and of the document). */
enum ck_field {
    CK_FORMAT, CK_FORMAT_VERSION, CK_CHECKSUM, CK_SEED, CK_STAGE, CK_EPOCH, CK_STEP,
    CK_EPOCH_LOSS_SUM, CK_EPOCH_CORRECT, CK_EPOCH_SEEN, CK_ACC_START, CK_ACC_START_RECAL, CK_SEED_ONLY,
    CK_CONFIG,
    CK_MODEL_DEPTH, CK_MODEL_WIDTH, CK_MODEL_IN_C, CK_MODEL_IN_H, CK_MODEL_IN_W, CK_MODEL_CLASSES,
    CK_MODEL_GAMMA_ONE, CK_MODEL_ARCH, CK_MODEL_STEM, CK_MODEL_NORM, CK_MODEL_HEAD,
    CK_MODEL_WIRING, CK_MODEL_WIRING_VERSION, CK_MODEL_BN_EPS, CK_MODEL_BN_MOMENTUM,
    CK_MODEL_CONV_AUTO_RULE, CK_MODEL_INPUT_MEAN, CK_MODEL_INPUT_STD,
    CK_MODEL_NUNITS, CK_UNIT_NAME, CK_UNIT_CHANNELS, CK_UNIT_FILTER,
    CK_PARAMS, CK_MOMENTUM, CK_MASK, CK_MOMENT2, CK_RUNNING_MEAN, CK_RUNNING_VAR,
    CK_HIST_STAGE, CK_HIST_EPOCH, CK_HIST_LR, CK_HIST_TRAIN_LOSS, CK_HIST_TRAIN_ACC,
    CK_HIST_TEST_LOSS, CK_HIST_TEST_ACC, CK_HIST_SECONDS,
    CK_HIST_GAMMA_BELOW_TAU, CK_HIST_ABS_GAMMA_P10, CK_HIST_ABS_GAMMA_P50, CK_HIST_ABS_GAMMA_P90,
    CK_PROV_COUNT, CK_PROV_RANKS, CK_PROV_THREADS,
    /* the text fields of struct provenance, in its order (src/io/provenance.c) */
    CK_PROV_REVIVE_VERSION, CK_PROV_COMMIT, CK_PROV_OPENBLAS_CORE, CK_PROV_OPENBLAS_CONFIG,
    CK_PROV_HDF5_VERSION, CK_PROV_MPI_VERSION, CK_PROV_HOST, CK_PROV_STARTED, CK_PROV_COMMAND,
    CK_NSTAGES, CK_UNITS, CK_FILTERS_PER_UNIT,
    CK_REC_KIND, CK_REC_FRACTION, CK_REC_TRAINABLE, CK_REC_THRESHOLD, CK_REC_ACC_START,
    CK_REC_ACC_START_RECAL, CK_REC_REINIT_APPLIED, CK_REC_ACC_END, CK_REC_ACC_CLAMPED,
    CK_REC_GAMMA, CK_REC_DISABLED, CK_REC_REINIT, CK_REC_REVIVED, CK_REC_DIED_AGAIN,
    CK_REC_NEWLY_DISABLED,
    /* pipeline superres's mid-run state (state files only) */
    CK_SR_STEP, CK_SR_PIXEL_SUM, CK_SR_PERCEPTUAL_SUM,
    CK_SR_EPOCH_LR, CK_SR_EPOCH_PIXEL, CK_SR_EPOCH_PERCEPTUAL, CK_SR_EPOCH_SECONDS,
    CK_NFIELDS
};

enum ck_type { CK_T_INT, CK_T_DOUBLE, CK_T_STRING, CK_T_F32, CK_T_F64, CK_T_I64, CK_T_U8 };

enum ck_flags {
    CK_ATTR = 1,      /* an attribute of `object`, else a dataset at `object`/`name` */
    CK_WHOLE = 2,     /* values must be whole numbers (history stage and epoch) */
    CK_BOUNDED = 4,   /* values must lie in [lo, hi] (and be finite) */
    CK_FULL_ONLY = 8, /* not in a seed-only export */
    CK_SINCE_V2 = 16, /* absent from format version 1 files */
    CK_CHECKSUMMED = 32, /* covered by the root attribute `checksum` (attributes and strings) */
    CK_OPTIONAL = 64,    /* format-1 files written before it existed may lack it: ck_get_*_opt */
    CK_ADDED = 128,      /* added in format 2 without a version change: optional in every format */
    CK_ABOVE_LO = 256,   /* with CK_BOUNDED: lo itself is excluded (a standard deviation > 0) */
    CK_ADDED_V3 = 512,   /* as CK_ADDED, added in format 3 */
    CK_ADDED_NET = 1024, /* as CK_ADDED_V3, added later in format 3 with the network description
                            (family, its keys, the unit table): absent from older files */
    CK_STATE = 2048,      /* in a task's state file too (enum ck_file) */
    CK_STATE_ONLY = 4096, /* in a task's state file only, never in a checkpoint */
};

/* The files the table lays out: a run's checkpoint (stage-KK.h5, last.h5), and a task's mid-run
 * state (pipeline superres's DIR/state.h5: the generator, its optimizer state, where the run
 * stands), which holds the rows marked CK_STATE or CK_STATE_ONLY. Each has its own `format`
 * text, and its checksum covers its own rows. */
enum ck_file { CK_FILE_CHECKPOINT, CK_FILE_STATE, CK_NFILES };
/* The `format` attribute of each kind of file, what a message calls it, and what reads it. */
extern const char *const ck_file_format[CK_NFILES], *const ck_file_noun[CK_NFILES],
    *const ck_file_use[CK_NFILES];
struct ck_row;
/* Whether row is part of a file of that kind. */
bool ck_in_file(const struct ck_row *row, enum ck_file file);

/* The wiring of each family's network, /model's `wiring` (the CIFAR ResNet's is
 * docs/checkpoint-format.md's "The network, exactly"), in enum arch_kind's order, and the
 * version of all of them. */
#define CK_NWIRINGS 6
extern const char *const ck_wiring_names[CK_NWIRINGS];
#define CHECKPOINT_WIRING_VERSION 1

/* Where a row's value lives in memory. */
enum ck_home {
    CK_NOWHERE,   /* written and read by hand (see the row's meaning) */
    CK_IN_RUN,    /* struct run: the position */
    CK_IN_SPEC,   /* struct model_spec: the model, which a run's own must match */
    CK_IN_RECORD, /* struct stage_record: a finished stage */
    CK_IN_PROV,   /* struct provenance: one process start */
    CK_IN_UNIT,   /* struct ck_unit: one row of /model's unit table */
    CK_IN_MODEL,  /* struct model: its parameters, running statistics and units */
    CK_IN_SR,     /* struct sr_state (checkpoint.h): where pipeline superres stands */
};
/* A unit as /model/unit-KK describes it: its name, its channels, and the parameter whose rows are
 * its filters ("" for a unit without filter weights). */
struct ck_unit {
    char name[48];
    int channels;
    char filter[64];
};
struct model;
/* Unit u of m as the unit table holds it. */
void ck_unit_describe(const struct model *m, int u, struct ck_unit *out);

/* ---- dataset rows ------------------------------------------------------------------------
 * A dataset row names its accessor (checkpoint_arrays.c): how many instances the row has (one,
 * or one per parameter or unit: its path's <name> / <unit>), and for instance i where the values
 * are in memory. ck_put_arrays writes, and ck_get_arrays reads, shape- and bounds-checks and
 * stores, every row of a range through it: a new array is one row and, where its memory is new,
 * one accessor. */
enum ck_need {
    CK_SKIP,     /* not in this file (an AdamW state in an SGD run; a seed-only export's conv weights) */
    CK_NEED,     /* written; required when read */
    CK_IF_THERE, /* read when the file has it (an optional row reads as its `absent` value) */
};
/* Instance i of a dataset row, as its accessor locates it. */
struct ck_array {
    enum ck_need need;
    const char *arg;     /* replaces <name> / <unit> in the path; NULL for a fixed path */
    int ndim;
    size_t dims[4];      /* the shape written, and the one a read requires */
    void *data;          /* the values in the row's file type, read and written in place; NULL:
                            through the accessor's pack and unpack */
};
/* The file being read or written. */
struct ck_io {
    bool writing;
    bool seed_only;      /* a seed-only export: rows marked CK_FULL_ONLY are not in it */
    uint64_t seed;       /* writing a seed-only export: the seed its absent weights come from */
    enum ck_file file;   /* rows not in this kind of file are skipped */
};
struct ck_access {
    int (*count)(const void *base);  /* instances; NULL: one */
    void (*locate)(const void *base, int id, int i, const struct ck_io *io, struct ck_array *a);
    /* Memory → file values (the row's type, the array's element count), for data == NULL. */
    void (*pack)(const void *base, int id, int i, void *buf);
    /* File values (checked against the row's bounds) → memory. NULL: the values are derived
     * from others already read, and must equal what pack gives; disagree words the error. */
    void (*unpack)(void *base, int id, int i, const void *buf);
    int (*disagree)(struct h5in *f, const char *path, const void *base, int i, size_t j,
                    double got, struct rv_error *err);
};

/* The C type of the member (derived from it by _Generic in the table). */
enum ck_ctype { CK_C_INT, CK_C_LONG, CK_C_BOOL, CK_C_DOUBLE, CK_C_SIZE, CK_C_TEXT };

struct ck_row {
    const char *object; /* "/", "model", "stats/stage-KK", "params" … (KK: a stage number, or
                           the number of a process start in "provenance/start-KK") */
    const char *name;   /* attribute name, or dataset name below object ("<name>": a parameter) */
    enum ck_type type;
    unsigned flags;
    const char *shape;  /* the shape rule, for people */
    double lo, hi;      /* bounds of the values; of a string's length in bytes */
    const char *meaning;
    /* Attribute rows with a home: the member that holds the value (offset and size in the home
     * struct, its C type and name), and the value an absent CK_OPTIONAL row reads as. */
    enum ck_home home;
    size_t offset, size;
    enum ck_ctype ctype;
    const char *member;
    double absent;
    /* Dataset rows read and written by ck_put_arrays / ck_get_arrays: where their values live
     * (member then names it for the document); NULL: by hand (the config text, the unit names). */
    const struct ck_access *access;
};

extern const struct ck_row ck_layout[CK_NFIELDS];

/* The object path of row id: object with KK replaced by k's two digits. */
void ck_object(char *buf, size_t cap, enum ck_field id, int k);

/* Scalar attributes: written with the row's name and type; read, type-checked and (for bounded
 * rows) range-checked, so an out-of-range value is one line naming the file, the attribute and
 * the allowed range. k: the stage of a stats/stage-KK row, else ignored. */
int ck_put_int(struct h5out *f, enum ck_field id, int k, int64_t v, struct rv_error *err);
int ck_put_double(struct h5out *f, enum ck_field id, int k, double v, struct rv_error *err);
int ck_put_string(struct h5out *f, enum ck_field id, int k, const char *v, struct rv_error *err);
int ck_get_int(struct h5in *f, enum ck_field id, int k, int64_t *v, struct rv_error *err);
int ck_get_double(struct h5in *f, enum ck_field id, int k, double *v, struct rv_error *err);
int ck_get_string(struct h5in *f, enum ck_field id, int k, char **v, struct rv_error *err);
/* CK_OPTIONAL rows: *v = absent when the attribute is not there (then 0 is returned). */
int ck_get_int_opt(struct h5in *f, enum ck_field id, int k, int64_t *v, int64_t absent,
                   struct rv_error *err);
int ck_get_double_opt(struct h5in *f, enum ck_field id, int k, double *v, double absent,
                      struct rv_error *err);
/* *v = NULL when the attribute is not there. */
int ck_get_string_opt(struct h5in *f, enum ck_field id, int k, char **v, struct rv_error *err);

/* Every attribute row of `home` (instance k) from / into the struct at base, in table order.
 * ck_get_all checks each value's type and bounds, and that a text fits its member; an absent
 * optional row reads as its `absent` value. ck_match_all reads the same rows but requires each
 * to equal the member (the run's own model against the file's). */
int ck_put_all(struct h5out *f, enum ck_home home, int k, const void *base, struct rv_error *err);
int ck_get_all(struct h5in *f, enum ck_home home, int k, void *base, struct rv_error *err);
int ck_match_all(struct h5in *f, enum ck_home home, int k, const void *base, struct rv_error *err);

/* Element j of an array of a dataset row's type t (float32, float64, int64 or uint8) as a double:
 * exact, but for int64s beyond 2^53, which round as a bound written as a double does. */
double ck_value_at(enum ck_type t, const void *x, size_t j);
/* Element checks of dataset row id's n values x (of the row's type), already read from `path`,
 * against its bounds: the first one outside is named as path[j]. */
int ck_check_values(struct h5in *f, enum ck_field id, const char *path, const void *x, size_t n,
                    struct rv_error *err);

/* "history/stage", "params/stem.conv", "stats/stage-01/gamma": row id's dataset path, with
 * <name> or <unit> replaced by arg and KK by k. */
void ck_dataset_path(char *buf, size_t cap, enum ck_field id, int k, const char *arg);

/* Every dataset row from first to last (their home's struct at base, instance k of a
 * stats/stage-KK row), in table order; consecutive rows with the same instances go instance by
 * instance (params/p, momentum/p, mask/p, then the next p), the order of the objects in the file. */
int ck_put_arrays(struct h5out *f, enum ck_field first, enum ck_field last, int k, const void *base,
                  const struct ck_io *io, struct rv_error *err);
int ck_get_arrays(struct h5in *f, enum ck_field first, enum ck_field last, int k, void *base,
                  const struct ck_io *io, struct rv_error *err);
/* The accessors of the table's dataset rows (checkpoint_arrays.c). */
extern const struct ck_access ck_acc_input_norm, ck_acc_param, ck_acc_running, ck_acc_history,
    ck_acc_filters_per_unit, ck_acc_record, ck_acc_sr_epochs;
/* Whether parameter p of m still holds exactly the values model_init gives it from seed. */
bool ck_at_init(const struct model *m, uint64_t seed, int p);

/* The records of /stats (src/io/checkpoint.c), as the loader and `inspect` both read them:
 * nstages from the file, each stage-KK through its rows (ck_get_all), its kind checked against
 * its fraction and the file's own /config, its arrays of exactly nfilters values (the model's),
 * the derived flags against disabled and reinit, trainable at most model_total. recs has room for
 * cap records; *nrecs counts those (partly) filled, which the caller frees (stats_free). */
struct stage_record;
int ck_read_stats(struct h5in *f, int nfilters, size_t model_total, struct stage_record *recs,
                  int cap, int *nrecs, struct rv_error *err);

/* The model a file's /model rows declare, as a parameter table only (model_build with max_batch
 * −1: nothing allocated per parameter): what the extents of /stats are bounded by. model_free it. */
struct model;
int ck_file_model(struct h5in *f, struct model *plan, struct rv_error *err);
/* /stats units and filters_per_unit, which must be m's unit names and channel counts exactly
 * (filters_per_unit's extent is checked before it is read); *names = the units text, malloc'd. */
int ck_read_units(struct h5in *f, const struct model *m, char **names, struct rv_error *err);
/* The filters (channels) of unit u: the one place the checkpoint code asks the model for it. */
size_t ck_unit_channels(const struct model *m, int u);

/* The checksum attribute (format 2): CRC-32 over every CK_CHECKSUMMED attribute and string of
 * the file (of the rows a file of its kind holds), in table order, stage records 0 … nstages−1
 * in turn. Attributes and strings are not covered by HDF5's Fletcher-32 filter (datasets are),
 * hence this. */
int ck_checksum_out(struct h5out *f, enum ck_file file, int nstages, uint32_t *crc,
                    struct rv_error *err);
int ck_checksum_in(struct h5in *f, enum ck_file file, int nstages, uint32_t *crc,
                   struct rv_error *err);

/* What every file of the table starts and ends with: its format and version, the seed and the
 * config text (ck_put_head); its checksum, written last (ck_put_checksum). */
struct config;
int ck_put_head(struct h5out *f, enum ck_file file, const struct config *cfg, struct rv_error *err);
int ck_put_checksum(struct h5out *f, enum ck_file file, int nstages, struct rv_error *err);
/* That f is a file of that kind, of a format version this build reads, whose checksum holds (a
 * clear error if not). checkpoint_check_format is this for checkpoints. */
int ck_check_format(struct h5in *f, enum ck_file file, struct rv_error *err);
/* path written by write(f, ctx) into a temporary file that is renamed into place when whole (and
 * removed when not): every file of the table is written so. */
int ck_write_atomic(const char *path, int (*write)(struct h5out *f, const void *ctx, struct rv_error *err),
                    const void *ctx, struct rv_error *err);

/* Control bytes in err->msg (quoted from a file) become \xNN. */
void checkpoint_escape_message(struct rv_error *err);

/* The layout section of docs/checkpoint-format.md. */
void ck_write_markdown(FILE *out);

#endif
