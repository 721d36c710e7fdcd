/* libFuzzer harness: the checkpoint readers. Each input is written to a file and read the ways
 * the command line reads one: the stored config (resume, eval, export), a full load into a model
 * built from the file's /model attributes, the schedule rebuilt from what loaded (resume),
 * inspect, and export --seed-only; and as pipeline superres's state file (`pipeline superres
 * CONFIG --resume` reading DIR/state.h5 against its config's generator). Any input must end in
 * 0 or a one-line error; never a crash, a leak or a huge allocation. `make fuzz` runs it;
 * tests/fuzz/replay.c replays inputs without libFuzzer.
 *
 * fuzz_write_seeds(dir) writes the seed corpus: small checkpoints and a state file written by
 * revive itself. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>
#include <zlib.h>

#include "../../src/io/checkpoint_layout.h"
#include "../../src/io/h5io_internal.h"
#include "checkpoint.h"
#include "h5io.h"
#include "inspect.h"
#include "models.h"
#include "optim.h"
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
    memset(s, 0, sizeof *s);
    int rc = ck_get_all(f, CK_IN_SPEC, 0, s, &err); /* the /model rows of the layout */
    h5in_close(f);
    return rc || s->depth > 20 || s->width > 2 ? -1 : 0;
}

/* The superres run whose state files the harness reads (and whose seed it writes): a one-block
 * generator on 4x4 inputs, AdamW (so /moment2 is read too), two epochs. */
static const char SR_INI[] = "[data]\ndataset = synthetic\nsynthetic_size = 8\n"
                             "[train]\nepochs = 2\noptimizer = adamw\n"
                             "[superres]\nblocks = 1\n";
struct sr_run {
    struct config cfg;
    struct model g; /* the generator, as pipeline superres builds it for that config */
    struct sr_epoch rows[2];
};

/* The run, made once (the process keeps it: libFuzzer calls the harness in a loop). */
static struct sr_run *sr_run(void)
{
    static struct sr_run r;
    static int made;
    if (made)
        return &r;
    struct rv_error err;
    config_defaults(&r.cfg);
    struct model_spec g = {.arch = ARCH_SRRESNET, .width = 1, .in_c = 1, .in_h = 4, .in_w = 4};
    if (config_load_string(&r.cfg, SR_INI, "fuzz_checkpoint.c", &err))
        abort();
    g.depth = r.cfg.sr_blocks;
    g.conv_algo = r.cfg.conv_algo;
    g.conv_auto_rule = r.cfg.conv_auto_rule;
    g.classes = srresnet_classes(&g);
    if (r.cfg.epochs != 2 || model_build(&r.g, &g, 0, 1, &err))
        abort();
    model_init(&r.g, (uint64_t)r.cfg.seed);
    optim_alloc_state(&r.g, r.cfg.optimizer);
    made = 1;
    return &r;
}

/* ---- crafted mode: both checksums recomputed, and mutations of HDF5's structures ---------- */

/* What the maker of a crafted file can always do: recompute the root attribute `checksum` (CRC-32
 * over the attributes and strings, ck_checksum_in) and the user block's whole-file CRC-32, so that
 * a mutated value or structure reaches the checks behind them. Nothing happens when the file is
 * too damaged for either (then it is refused at that gate, which is fine too). */
static void restamp_file(const char *p)
{
    FILE *f = fopen(p, "r+b");
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    uint8_t *b = n > H5IO_USERBLOCK + 8 ? malloc((size_t)n) : NULL;
    rewind(f);
    if (b && fread(b, 1, (size_t)n, f) == (size_t)n && memcmp(b, "revive-hdf5 crc32 ", 18) == 0) {
        h5io_userblock_text((char *)b, (uint32_t)crc32(0, b + H5IO_USERBLOCK, (uInt)(n - H5IO_USERBLOCK)),
                            (unsigned long long)n);
        rewind(f);
        if (fwrite(b, 1, H5IO_USERBLOCK, f) != H5IO_USERBLOCK)
            abort();
    }
    free(b);
    fclose(f);
}

static void restamp_all(const char *p)
{
    restamp_file(p);
    struct rv_error err;
    struct h5in *in = h5in_open(p, &err);
    if (!in)
        return;
    int64_t nstages = 0, old = 0;
    uint32_t crc = 0;
    /* a state file has no stage records; a checkpoint says how many it has */
    char *format = NULL;
    enum ck_file kind = h5in_attr_string(in, "/", ck_layout[CK_FORMAT].name, &format, &err) == 0 &&
                                strcmp(format, ck_file_format[CK_FILE_STATE]) == 0
                            ? CK_FILE_STATE
                            : CK_FILE_CHECKPOINT;
    free(format);
    int ok = (kind == CK_FILE_STATE || ck_get_int(in, CK_NSTAGES, 0, &nstages, &err) == 0) &&
             h5in_attr_int(in, "/", ck_layout[CK_CHECKSUM].name, &old, &err) == 0 &&
             ck_checksum_in(in, kind, (int)nstages, &crc, &err) == 0 && (uint32_t)old != crc;
    h5in_close(in);
    if (!ok)
        return;
    hid_t file = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    if (file < 0)
        return;
    int64_t v = crc;
    hid_t a = H5Aopen(file, ck_layout[CK_CHECKSUM].name, H5P_DEFAULT);
    if (a >= 0) {
        H5Awrite(a, H5T_NATIVE_INT64, &v);
        H5Aclose(a);
    }
    H5Fclose(file);
    restamp_file(p);
}

/* libFuzzer's own byte mutator (absent in the replay driver, which never mutates). */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size) __attribute__((weak));

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

#define MAX_NAMES 512
struct names {
    int n;
    char name[MAX_NAMES][96];
    int dataset[MAX_NAMES];
};

static herr_t collect(hid_t g, const char *name, const H5L_info_t *info, void *op)
{
    struct names *ns = op;
    if (ns->n < MAX_NAMES && strlen(name) < sizeof ns->name[0]) {
        snprintf(ns->name[ns->n], sizeof ns->name[0], "%s", name);
        ns->dataset[ns->n++] = h5io_object_kind(g, name) == H5I_DATASET;
    }
    return 0;
}

/* A float or integer type like t but not what revive writes: another exponent bias, byte order,
 * precision, sign, or class. */
static hid_t odd_type(hid_t t, uint64_t *s)
{
    hid_t u;
    int floating = H5Tget_class(t) == H5T_FLOAT;
    switch (next(s) % 5) {
    case 0:
        u = H5Tcopy(floating ? H5T_IEEE_F32LE : H5T_STD_I64LE);
        if (floating)
            H5Tset_ebias(u, 120 + next(s) % 20);
        else
            H5Tset_precision(u, 8 + next(s) % 56);
        return u;
    case 1: return H5Tcopy(floating ? H5T_IEEE_F32BE : H5T_STD_I64BE);
    case 2: return H5Tcopy(floating ? H5T_IEEE_F64LE : H5T_STD_U8LE);
    case 3: return H5Tcopy(floating ? H5T_STD_I32LE : H5T_IEEE_F64LE);
    default: return H5Tcopy(floating ? H5T_IEEE_F64BE : H5T_STD_U64BE);
    }
}

/* One structural mutation of the HDF5 file at p: a dataset re-created with another type, another
 * filter (gzip, shuffle, scale-offset), another (larger, unwritten) extent, or as a hard link to
 * another dataset; an attribute re-typed, given an extreme value, made a variable-length string,
 * or deleted. Returns 0 when the file was changed. */
static int mutate_structure(const char *p, uint64_t *s)
{
    hid_t file = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    if (file < 0)
        return -1;
    static struct names ns;
    ns.n = 0;
    H5Lvisit(file, H5_INDEX_NAME, H5_ITER_NATIVE, collect, &ns);
    collect(file, ".", NULL, &ns);
    int rc = -1;
    if (ns.n == 0)
        goto done;
    const char *name = ns.name[next(s) % (uint64_t)ns.n];
    int op = (int)(next(s) % 8);
    hid_t d = h5io_object_kind(file, name) == H5I_DATASET ? H5Dopen2(file, name, H5P_DEFAULT) : -1;
    if (d >= 0 && op < 4) {
        hid_t type = H5Dget_type(d), space = H5Dget_space(d);
        int rank = H5Sget_simple_extent_ndims(space);
        hsize_t dims[H5S_MAX_RANK], chunk[H5S_MAX_RANK];
        H5Sget_simple_extent_dims(space, dims, NULL);
        hssize_t n = H5Sget_simple_extent_npoints(space);
        /* room for the widest type odd_type gives (8 bytes), which the write below reads */
        size_t size = H5Tget_size(type), bytes = (size_t)(n > 0 ? n : 1) * (size > 8 ? size : 8);
        void *buf = bytes < (64u << 20) ? calloc(1, bytes) : NULL;
        int is_text = H5Tget_class(type) == H5T_STRING;
        if (buf && (is_text || H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0)) {
            hid_t ftype = op == 0 && !is_text ? odd_type(type, s) : H5Tcopy(type);
            hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
            hid_t fspace = space;
            if (op == 3 && rank > 0) { /* a larger extent, stored as chunks never written */
                dims[0] = dims[0] * (1 + next(s) % 1000) + next(s) % 100000000;
                fspace = H5Screate_simple(rank, dims, NULL);
            }
            for (int i = 0; i < rank; i++)
                chunk[i] = dims[i] > 0 && dims[i] < 4096 ? dims[i] : 4096;
            if (rank > 0 && n > 0) {
                H5Pset_chunk(dcpl, rank, chunk);
                if (op == 1)
                    H5Pset_deflate(dcpl, 1 + next(s) % 9);
                else if (op == 2 && !is_text)
                    next(s) % 2 ? H5Pset_shuffle(dcpl) : H5Pset_scaleoffset(dcpl, H5Z_SO_INT, 0);
                H5Pset_fletcher32(dcpl);
            }
            H5Dclose(d);
            d = -1;
            H5Ldelete(file, name, H5P_DEFAULT);
            hid_t nd = H5Dcreate2(file, name, ftype, fspace, H5P_DEFAULT, dcpl, H5P_DEFAULT);
            /* the bytes unconverted: what a crafted file holds under the type it declares */
            if (nd >= 0 && op != 3 && !is_text)
                H5Dwrite(nd, ftype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
            if (nd >= 0)
                H5Dclose(nd);
            if (fspace != space)
                H5Sclose(fspace);
            H5Pclose(dcpl);
            H5Tclose(ftype);
            rc = 0;
        }
        free(buf);
        H5Tclose(type);
        H5Sclose(space);
    } else if (d >= 0 && op == 4) { /* a hard link to another dataset in its place */
        H5Dclose(d);
        d = -1;
        const char *other = ns.name[next(s) % (uint64_t)ns.n];
        if (strcmp(other, name) != 0 && H5Ldelete(file, name, H5P_DEFAULT) >= 0)
            rc = H5Lcreate_hard(file, other, file, name, H5P_DEFAULT, H5P_DEFAULT) >= 0 ? 0 : -1;
    } else {
        if (d >= 0)
            H5Dclose(d);
        d = -1;
        hid_t obj = H5Oopen(file, name, H5P_DEFAULT);
        H5O_info_t info;
        if (obj >= 0 && H5Oget_info(obj, &info) >= 0 && info.num_attrs > 0) {
            hsize_t at = next(s) % info.num_attrs;
            char aname[96];
            if (H5Aget_name_by_idx(obj, ".", H5_INDEX_NAME, H5_ITER_INC, at, aname, sizeof aname,
                                   H5P_DEFAULT) > 0 && strlen(aname) < sizeof aname - 1) {
                hid_t a = H5Aopen(obj, aname, H5P_DEFAULT);
                hid_t type = a >= 0 ? H5Aget_type(a) : -1;
                int is_text = type >= 0 && H5Tget_class(type) == H5T_STRING;
                double old = 0;
                if (a >= 0 && !is_text)
                    H5Aread(a, H5T_NATIVE_DOUBLE, &old);
                if (type >= 0)
                    H5Tclose(type);
                if (a >= 0)
                    H5Aclose(a);
                H5Adelete(obj, aname);
                int how = (int)(next(s) % 4);
                if (how < 3) {
                    static const double extreme[] = {-1, 0, 1, 2, 255, 65536, 2147483648.0, 4294967296.0,
                                                     9007199254740993.0, 1e300, -1e300};
                    double v = how == 0 ? extreme[next(s) % (sizeof extreme / sizeof *extreme)]
                                        : old + (double)(int)(next(s) % 7) - 3;
                    hid_t t = how == 2 ? H5Tcopy(H5T_C_S1)
                                       : (is_text ? H5Tcopy(H5T_STD_I64LE) : odd_type(H5T_IEEE_F64LE, s));
                    if (how == 2)
                        H5Tset_size(t, H5T_VARIABLE);
                    hid_t sp = H5Screate(H5S_SCALAR);
                    hid_t na = H5Acreate2(obj, aname, t, sp, H5P_DEFAULT, H5P_DEFAULT);
                    const char *text = "bn";
                    if (na >= 0) {
                        if (how == 2)
                            H5Awrite(na, t, &text);
                        else
                            H5Awrite(na, H5T_NATIVE_DOUBLE, &v);
                        H5Aclose(na);
                    }
                    H5Sclose(sp);
                    H5Tclose(t);
                }
                rc = 0;
            }
        }
        if (obj >= 0)
            H5Oclose(obj);
    }
done:
    if (H5Fclose(file) < 0)
        rc = -1;
    return rc;
}

/* Whether data is a file as HDF5 wrote it: its user block is revive's for these bytes (their
 * CRC-32 and size), as for a seed or the structural mutator's own output (restamped). HDF5 trusts
 * its metadata when it writes: on a byte-damaged symbol table H5Lvisit reads past a heap buffer
 * (HDF5 1.10.8, H5G__ent_to_link; found by this harness, 2026-12-07), a bug of the mutator's
 * tool, not of the readers under test, which never iterate links. */
static int as_written(const uint8_t *data, size_t size)
{
    char want[H5IO_USERBLOCK];
    if (size <= H5IO_USERBLOCK)
        return 0;
    h5io_userblock_text(want, (uint32_t)crc32(0, data + H5IO_USERBLOCK, (uInt)(size - H5IO_USERBLOCK)),
                        (unsigned long long)size);
    return memcmp(want, data, H5IO_USERBLOCK) == 0;
}

/* In crafted mode, one input in two is mutated as an HDF5 file (above) and restamped, if it is
 * as HDF5 wrote it; the others, and any input HDF5 cannot open for writing, get libFuzzer's byte
 * mutations (the readers still meet those restamped: LLVMFuzzerTestOneInput). */
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    static char mpath[64];
    uint64_t s = seed | 1;
    const char *mode = getenv("REVIVE_FUZZ_CRAFTED");
    if (!mode || strcmp(mode, "1") != 0 || next(&s) % 2 || !as_written(data, size))
        return LLVMFuzzerMutate ? LLVMFuzzerMutate(data, size, max_size) : size;
    if (!mpath[0])
        snprintf(mpath, sizeof mpath, "/tmp/revive-fuzz-mut-%ld.h5", (long)getpid());
    FILE *f = fopen(mpath, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    h5io_quiet_hdf5();
    size_t out = 0;
    if (mutate_structure(mpath, &s) == 0) {
        restamp_all(mpath);
        f = fopen(mpath, "rb");
        if (f) {
            fseek(f, 0, SEEK_END);
            long n = ftell(f);
            rewind(f);
            if (n > 0 && (size_t)n <= max_size && fread(data, 1, (size_t)n, f) == (size_t)n)
                out = (size_t)n;
            fclose(f);
        }
    }
    unlink(mpath);
    if (out)
        return out;
    return LLVMFuzzerMutate ? LLVMFuzzerMutate(data, size, max_size) : size;
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
     * (make fuzz FUZZ_CRAFTED=1), crafted files: the root attribute checksum and the whole-file
     * CRC are recomputed, as the maker of a file always can, to reach what lies beyond them,
     * HDF5's parsers included, and half the mutations are made to HDF5's structures, types and
     * filters (LLVMFuzzerCustomMutator) rather than to bytes (docs/FUZZING.md). */
    static int crafted = -1;
    if (crafted < 0)
        crafted = getenv("REVIVE_FUZZ_CRAFTED") && strcmp(getenv("REVIVE_FUZZ_CRAFTED"), "1") == 0;
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    if (crafted)
        restamp_all(path);

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
    /* pipeline superres --resume: the file as DIR/state.h5 of the harness's run */
    struct sr_run *sr = sr_run();
    struct sr_state st = {.epochs = sr->cfg.epochs, .rows = sr->rows};
    err.msg[0] = '\0';
    checkpoint_load_sr_state(path, &sr->cfg, &sr->g, &st, &err);
    one_line(&err);
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
    /* a superres state file a third of the way into the harness's run */
    struct sr_run *sr = sr_run();
    char state[512];
    snprintf(state, sizeof state, "%s/state.h5", dir);
    sr->rows[0] = (struct sr_epoch){.lr = 1e-3, .pixel = 0.05, .perceptual = 0, .seconds = 0.5};
    const struct sr_state st = {.step = 7, .pixel_sum = 0.4, .epochs = sr->cfg.epochs, .rows = sr->rows};
    rc = rc || checkpoint_save_sr_state(state, &sr->cfg, &sr->g, &st, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    unlink(stage0); /* the export is its small twin */
    run_close(&r);
    return rc ? 1 : 0;
}
