/* h5io: exact round trips of every type and attribute kind, the error messages a user sees for a
 * wrong, missing, foreign or damaged file, and the atomicity of writes. Each test works in its own
 * mkdtemp directory under /tmp, removed afterwards. */
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <hdf5.h>
#include <zlib.h>

#include "../src/io/h5io_internal.h"

#include "h5io.h"
#include "support.h"

static const double PI = 3.14159265358979323846;

struct fixture {
    char dir[SUPPORT_DIR_LEN]; /* first: support_dir_setup */
};

static int setup(void **state)
{
    if (support_dir_setup(state, sizeof(struct fixture), "test_h5io"))
        return -1;
    return 0;
}

static void path_in(char *buf, size_t cap, void **state, const char *name)
{
    const struct fixture *fx = *state;
    snprintf(buf, cap, "%s/%s", fx->dir, name);
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* err.msg must equal the formatted text; a macro so that a failure names the test's line. */
#define assert_msg(err, ...)                                                                       \
    do {                                                                                           \
        char want_[1024];                                                                          \
        snprintf(want_, sizeof want_, __VA_ARGS__);                                                \
        assert_string_equal((err).msg, want_);                                                     \
    } while (0)

static void assert_contains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle))
        fail_msg("expected \"%s\" in \"%s\"", needle, haystack);
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

static int read_whole(const char *path, char **out, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -1;
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    *out = malloc((size_t)size + 1);
    *n = fread(*out, 1, (size_t)size, fp);
    (*out)[*n] = '\0';
    fclose(fp);
    return 0;
}

/* memmem(3) without _GNU_SOURCE. */
static char *find_bytes(char *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (!memcmp(hay + i, needle, k))
            return hay + i;
    return NULL;
}

/* Values chosen so any rounding, truncation or byte swap shows: signed zero, infinities,
 * subnormals, NaN bit patterns, the int64 extremes, all 256 bytes. */
static void test_roundtrip_every_type(void **state)
{
    char path[256];
    path_in(path, sizeof path, state, "all.h5");
    struct rv_error err = {{0}};

    float f4[2 * 3 * 4 * 5];
    for (int i = 0; i < 120; i++)
        f4[i] = (float)i * 0.37f - 3.1f;
    f4[0] = -0.0f;
    f4[1] = INFINITY;
    f4[2] = -INFINITY;
    f4[3] = 1e-41f; /* subnormal */
    f4[4] = NAN;
    f4[5] = 3.4028235e38f;
    double d2[3 * 2] = {PI, -0.0, 1e-310, -1e300, 1.0 / 3.0, NAN};
    int64_t i1[5] = {INT64_MIN, -1, 0, 1, INT64_MAX};
    uint8_t b1[256];
    for (int i = 0; i < 256; i++)
        b1[i] = (uint8_t)(255 - i);
    float fs = 0.1f;
    int64_t is = -1234567890123LL;
    const char *utf8 = "stage-00 \xc3\xbcn\xc3\xaf" "c\xc3\xb6" "de \xe2\x9c\x93";

    size_t dims4[4] = {2, 3, 4, 5}, dims2[2] = {3, 2}, dims1[1] = {5}, dimsb[1] = {256};
    size_t zero2[2] = {0, 16}, zero1[1] = {0}, zero3[3] = {3, 0, 2};

    struct h5out *o = h5out_create(path, &err);
    assert_non_null(o);
    assert_int_equal(h5out_floats(o, "f4", f4, 4, dims4, &err), 0);
    assert_int_equal(h5out_doubles(o, "d2", d2, 2, dims2, &err), 0);
    assert_int_equal(h5out_int64s(o, "i1", i1, 1, dims1, &err), 0);
    assert_int_equal(h5out_bytes(o, "b1", b1, 1, dimsb, &err), 0);
    assert_int_equal(h5out_floats(o, "fs", &fs, 0, NULL, &err), 0);
    assert_int_equal(h5out_int64s(o, "is", &is, 0, NULL, &err), 0);
    assert_int_equal(h5out_floats(o, "empty/f", NULL, 2, zero2, &err), 0);
    assert_int_equal(h5out_doubles(o, "empty/d", NULL, 1, zero1, &err), 0);
    assert_int_equal(h5out_bytes(o, "empty/b", NULL, 3, zero3, &err), 0);
    assert_int_equal(h5out_int64s(o, "empty/i", NULL, 1, zero1, &err), 0);
    assert_int_equal(h5out_string(o, "text", utf8, &err), 0);
    assert_int_equal(h5out_string(o, "blank", "", &err), 0);
    assert_int_equal(h5out_attr_int(o, "/", "format_version", 1, &err), 0);
    assert_int_equal(h5out_attr_int(o, "/", "min", INT64_MIN, &err), 0);
    assert_int_equal(h5out_attr_double(o, "/", "pi", PI, &err), 0);
    assert_int_equal(h5out_attr_double(o, "f4", "negzero", -0.0, &err), 0);
    assert_int_equal(h5out_attr_string(o, "/", "config", utf8, &err), 0);
    assert_int_equal(h5out_attr_string(o, "empty", "note", "", &err), 0);
    /* A second write of an attribute replaces the first. */
    assert_int_equal(h5out_attr_int(o, "/", "step", 1, &err), 0);
    assert_int_equal(h5out_attr_int(o, "/", "step", 7, &err), 0);
    assert_int_equal(h5out_commit(o, &err), 0);

    struct h5in *in = h5in_open(path, &err);
    assert_non_null(in);
    assert_string_equal(h5in_path(in), path);
    float g4[120];
    double e2[6];
    int64_t j1[5], js = 0;
    uint8_t c1[256];
    float gs = 0;
    assert_int_equal(h5in_floats(in, "f4", g4, 4, dims4, &err), 0);
    assert_memory_equal(g4, f4, sizeof f4);
    assert_int_equal(h5in_doubles(in, "d2", e2, 2, dims2, &err), 0);
    assert_memory_equal(e2, d2, sizeof d2);
    assert_int_equal(h5in_int64s(in, "i1", j1, 1, dims1, &err), 0);
    assert_memory_equal(j1, i1, sizeof i1);
    assert_int_equal(h5in_bytes(in, "b1", c1, 1, dimsb, &err), 0);
    assert_memory_equal(c1, b1, sizeof b1);
    assert_int_equal(h5in_floats(in, "fs", &gs, 0, NULL, &err), 0);
    assert_memory_equal(&gs, &fs, sizeof fs);
    assert_int_equal(h5in_int64s(in, "is", &js, 0, NULL, &err), 0);
    assert_true(js == is);
    assert_int_equal(h5in_floats(in, "empty/f", NULL, 2, zero2, &err), 0);
    assert_int_equal(h5in_doubles(in, "empty/d", NULL, 1, zero1, &err), 0);
    assert_int_equal(h5in_bytes(in, "empty/b", NULL, 3, zero3, &err), 0);
    assert_int_equal(h5in_int64s(in, "empty/i", NULL, 1, zero1, &err), 0);

    int ndim = -1;
    size_t shape[H5IO_MAX_DIMS] = {0};
    assert_int_equal(h5in_shape(in, "f4", &ndim, shape, &err), 0);
    assert_int_equal(ndim, 4);
    assert_memory_equal(shape, dims4, sizeof dims4);
    assert_int_equal(h5in_shape(in, "fs", &ndim, shape, &err), 0);
    assert_int_equal(ndim, 0);
    assert_int_equal(h5in_shape(in, "empty/b", &ndim, shape, &err), 0);
    assert_int_equal(ndim, 3);
    assert_memory_equal(shape, zero3, sizeof zero3);
    assert_int_equal(h5in_shape(in, "text", &ndim, shape, &err), 0);
    assert_int_equal(ndim, 0);

    char *text = NULL;
    assert_int_equal(h5in_string(in, "text", &text, &err), 0);
    assert_string_equal(text, utf8);
    free(text);
    assert_int_equal(h5in_string(in, "blank", &text, &err), 0);
    assert_string_equal(text, "");
    free(text);

    int64_t v = 0;
    double x = 0;
    assert_int_equal(h5in_attr_int(in, "/", "format_version", &v, &err), 0);
    assert_true(v == 1);
    assert_int_equal(h5in_attr_int(in, "/", "min", &v, &err), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(h5in_attr_int(in, "/", "step", &v, &err), 0);
    assert_true(v == 7);
    assert_int_equal(h5in_attr_double(in, "/", "pi", &x, &err), 0);
    assert_memory_equal(&x, &(double){PI}, sizeof x);
    assert_int_equal(h5in_attr_double(in, "f4", "negzero", &x, &err), 0);
    assert_memory_equal(&x, &(double){-0.0}, sizeof x);
    assert_int_equal(h5in_attr_string(in, "/", "config", &text, &err), 0);
    assert_string_equal(text, utf8);
    free(text);
    assert_int_equal(h5in_attr_string(in, "empty", "note", &text, &err), 0);
    assert_string_equal(text, "");
    free(text);
    h5in_close(in);
}

static void test_nested_names_with_dots(void **state)
{
    char path[256];
    path_in(path, sizeof path, state, "nested.h5");
    struct rv_error err = {{0}};
    float w[4] = {1, 2, 3, 4}, r[4] = {0};
    size_t d[1] = {4};

    struct h5out *o = h5out_create(path, &err);
    assert_non_null(o);
    assert_int_equal(h5out_floats(o, "params/stem.conv.weight", w, 1, d, &err), 0);
    assert_int_equal(h5out_floats(o, "params/layer1.0.bn1.weight", w, 1, d, &err), 0);
    assert_int_equal(h5out_floats(o, "/momentum/a.b/c.d/e.f", w, 1, d, &err), 0);
    assert_int_equal(h5out_group(o, "meta/x.y/z", &err), 0);
    assert_int_equal(h5out_group(o, "params", &err), 0); /* exists already: fine */
    assert_int_equal(h5out_attr_string(o, "meta/x.y", "kind", "group", &err), 0);
    assert_int_equal(h5out_attr_int(o, "params/stem.conv.weight", "n", 4, &err), 0);

    /* A dataset written twice, a dataset under a dataset, a group over a dataset: errors. */
    assert_int_equal(h5out_floats(o, "params/stem.conv.weight", w, 1, d, &err), -1);
    assert_msg(err, "%s: dataset 'params/stem.conv.weight' written twice", path);
    assert_int_equal(h5out_floats(o, "params/stem.conv.weight/x", w, 1, d, &err), -1);
    assert_msg(err, "%s: cannot create dataset 'params/stem.conv.weight/x' (is a parent of it a dataset?)", path);
    assert_int_equal(h5out_group(o, "params/layer1.0.bn1.weight", &err), -1);
    assert_msg(err, "%s: cannot make group 'params/layer1.0.bn1.weight': a dataset has that name", path);
    assert_int_equal(h5out_attr_int(o, "nowhere", "n", 1, &err), -1);
    assert_msg(err, "%s: cannot set attribute 'n' on 'nowhere': no such group or dataset",
             path);
    assert_int_equal(h5out_commit(o, &err), 0);

    struct h5in *in = h5in_open(path, &err);
    assert_non_null(in);
    assert_int_equal(h5in_floats(in, "params/stem.conv.weight", r, 1, d, &err), 0);
    assert_memory_equal(r, w, sizeof w);
    memset(r, 0, sizeof r);
    assert_int_equal(h5in_floats(in, "/momentum/a.b/c.d/e.f", r, 1, d, &err), 0);
    assert_memory_equal(r, w, sizeof w);
    assert_int_equal(h5in_floats(in, "momentum/a.b/c.d/e.f", r, 1, d, &err), 0);
    assert_int_equal(h5in_exists(in, "/"), 1);
    assert_int_equal(h5in_exists(in, "params"), 1);
    assert_int_equal(h5in_exists(in, "params/layer1.0.bn1.weight"), 1);
    assert_int_equal(h5in_exists(in, "meta/x.y/z"), 1);
    assert_int_equal(h5in_exists(in, "params/layer1.0.bn1"), 0);
    assert_int_equal(h5in_exists(in, "nope/deeper/still"), 0);
    assert_int_equal(h5in_exists(in, "params/stem.conv.weight/below"), 0);
    char *kind = NULL;
    assert_int_equal(h5in_attr_string(in, "meta/x.y", "kind", &kind, &err), 0);
    assert_string_equal(kind, "group");
    free(kind);
    int64_t n = 0;
    assert_int_equal(h5in_attr_int(in, "params/stem.conv.weight", "n", &n, &err), 0);
    assert_true(n == 4);
    h5in_close(in);
}

/* One file holding a (16,3,3,3) float dataset, a double, an int64, a string and attributes. */
static void write_sample(const char *path)
{
    struct rv_error err = {{0}};
    float w[16 * 27];
    for (int i = 0; i < 16 * 27; i++)
        w[i] = (float)i;
    size_t d4[4] = {16, 3, 3, 3}, d1[1] = {3};
    double dv[3] = {1, 2, 3};
    int64_t iv[3] = {1, 2, 3};
    uint8_t bv[3] = {1, 2, 3};
    struct h5out *o = h5out_create(path, &err);
    assert_non_null(o);
    assert_int_equal(h5out_floats(o, "params/x", w, 4, d4, &err), 0);
    assert_int_equal(h5out_doubles(o, "d", dv, 1, d1, &err), 0);
    assert_int_equal(h5out_int64s(o, "i", iv, 1, d1, &err), 0);
    assert_int_equal(h5out_bytes(o, "b", bv, 1, d1, &err), 0);
    assert_int_equal(h5out_string(o, "s", "hello", &err), 0);
    assert_int_equal(h5out_attr_double(o, "/", "lr", 0.1, &err), 0);
    assert_int_equal(h5out_attr_string(o, "/", "name", "x", &err), 0);
    assert_int_equal(h5out_attr_int(o, "/", "n", 3, &err), 0);
    assert_int_equal(h5out_commit(o, &err), 0);
}

/* Files from other tools, written here with HDF5 directly. h5py writes numpy bytes as
 * fixed-length strings (ASCII, NUL-padded); other tools pad with spaces: both read back without
 * their padding. Narrower integers widen exactly; uint64, rank 5 and null dataspaces are refused. */
static void test_files_from_other_tools(void **state)
{
    char path[256];
    path_in(path, sizeof path, state, "foreign.h5");
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(file >= 0);
    hid_t scalar = H5Screate(H5S_SCALAR), null = H5Screate(H5S_NULL);
    hid_t five = H5Screate_simple(5, (hsize_t[]){1, 1, 1, 1, 2}, NULL);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, 6);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    hid_t id = H5Dcreate2(file, "s", t, scalar, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(H5Dwrite(id, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, "abc\0\0\0") >= 0);
    H5Dclose(id);
    H5Tset_strpad(t, H5T_STR_SPACEPAD);
    id = H5Acreate2(file, "a", t, scalar, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(H5Awrite(id, t, "xy z  ") >= 0);
    H5Aclose(id);
    H5Tset_size(t, 3);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    id = H5Dcreate2(file, "full", t, scalar, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(H5Dwrite(id, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, "xyz") >= 0); /* no NUL at all */
    H5Dclose(id);
    id = H5Acreate2(file, "i32", H5T_STD_I32BE, scalar, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(H5Awrite(id, H5T_NATIVE_INT32, &(int32_t){-5}) >= 0);
    H5Aclose(id);
    id = H5Acreate2(file, "u64", H5T_STD_U64LE, scalar, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(H5Awrite(id, H5T_NATIVE_UINT64, &(uint64_t){5}) >= 0);
    H5Aclose(id);
    H5Dclose(H5Dcreate2(file, "five", H5T_IEEE_F32LE, five, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Dclose(H5Dcreate2(file, "null", H5T_IEEE_F32LE, null, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Tclose(t);
    H5Sclose(scalar);
    H5Sclose(null);
    H5Sclose(five);
    assert_true(H5Fclose(file) >= 0);

    struct rv_error err = {{0}};
    struct h5in *in = h5in_open(path, &err);
    assert_non_null(in);
    char *text = NULL;
    assert_int_equal(h5in_string(in, "s", &text, &err), 0);
    assert_string_equal(text, "abc");
    free(text);
    assert_int_equal(h5in_string(in, "full", &text, &err), 0);
    assert_string_equal(text, "xyz");
    free(text);
    assert_int_equal(h5in_attr_string(in, "/", "a", &text, &err), 0);
    assert_string_equal(text, "xy z");
    free(text);
    int64_t v = 0;
    assert_int_equal(h5in_attr_int(in, "/", "i32", &v, &err), 0);
    assert_true(v == -5);
    assert_int_equal(h5in_attr_int(in, "/", "u64", &v, &err), -1);
    assert_contains(err.msg, "attribute 'u64' of '/' holds 64-bit unsigned integers, expected 64-bit "
                             "signed integers");
    int ndim;
    size_t dims[H5IO_MAX_DIMS];
    assert_int_equal(h5in_shape(in, "five", &ndim, dims, &err), -1);
    assert_contains(err.msg, "dataset 'five' has 5 dimensions, at most 4 are supported");
    assert_int_equal(h5in_shape(in, "null", &ndim, dims, &err), -1);
    assert_contains(err.msg, "dataset 'null' holds no data (null dataspace)");
    h5in_close(in);
}

/* Strings are written fixed-length, exactly their bytes and a NUL (stored inline, not in HDF5's
 * global heap, whose bugs crafted files reach: docs/FUZZING.md); a reader told to refuse
 * variable-length strings names one before HDF5 reads it, and reads them otherwise (older files,
 * h5py's str). A fixed-length string dataset must store the bytes its type declares. */
static void test_string_storage(void **state)
{
    char path[256];
    path_in(path, sizeof path, state, "strings.h5");
    struct rv_error err = {{0}};
    struct h5out *o = h5out_create(path, &err);
    assert_non_null(o);
    assert_int_equal(h5out_string(o, "text", "abc\xc3\xbc", &err), 0);
    assert_int_equal(h5out_attr_string(o, "/", "fmt", "revive", &err), 0);
    assert_int_equal(h5out_commit(o, &err), 0);
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(file >= 0);
    hid_t d = H5Dopen2(file, "text", H5P_DEFAULT), t = H5Dget_type(d);
    assert_int_equal(H5Tis_variable_str(t), 0);
    assert_int_equal(H5Tget_size(t), 6);
    assert_int_equal(H5Tget_cset(t), H5T_CSET_UTF8);
    H5Tclose(t);
    H5Dclose(d);
    hid_t a = H5Aopen(file, "fmt", H5P_DEFAULT);
    t = H5Aget_type(a);
    assert_int_equal(H5Tis_variable_str(t), 0);
    assert_int_equal(H5Tget_size(t), 7);
    H5Tclose(t);
    H5Aclose(a);
    /* variable-length ones, as h5py writes str and revive wrote before */
    hid_t vt = H5Tcopy(H5T_C_S1), scalar = H5Screate(H5S_SCALAR);
    H5Tset_size(vt, H5T_VARIABLE);
    const char *value = "vlen";
    a = H5Acreate2(file, "vattr", vt, scalar, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(a >= 0 && H5Awrite(a, vt, &value) >= 0);
    H5Aclose(a);
    d = H5Dcreate2(file, "vtext", vt, scalar, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(d >= 0 && H5Dwrite(d, vt, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value) >= 0);
    H5Dclose(d);
    /* a fixed-length string of 1 MiB whose data was never written */
    hid_t big = H5Tcopy(H5T_C_S1);
    H5Tset_size(big, (size_t)1 << 20);
    H5Dclose(H5Dcreate2(file, "unwritten", big, scalar, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Tclose(big);
    H5Tclose(vt);
    H5Sclose(scalar);
    assert_true(H5Fclose(file) >= 0);

    /* The rewrite changed bytes under the user block's CRC-32: recompute it. */
    size_t n = 0;
    char *bytes = NULL;
    assert_int_equal(read_whole(path, &bytes, &n), 0);
    h5io_userblock_text(bytes, (uint32_t)crc32(0, (const Bytef *)bytes + H5IO_USERBLOCK,
                                               (uInt)(n - H5IO_USERBLOCK)), (unsigned long long)n);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    fclose(f);
    free(bytes);
    struct h5in *in = h5in_open(path, &err);
    assert_non_null(in);
    char *text = NULL;
    assert_int_equal(h5in_string(in, "text", &text, &err), 0);
    assert_string_equal(text, "abc\xc3\xbc");
    free(text);
    assert_int_equal(h5in_attr_string(in, "/", "vattr", &text, &err), 0);
    assert_string_equal(text, "vlen");
    free(text);
    assert_int_equal(h5in_string(in, "vtext", &text, &err), 0);
    assert_string_equal(text, "vlen");
    free(text);
    assert_int_equal(h5in_string(in, "unwritten", &text, &err), -1);
    assert_contains(err.msg, "dataset 'unwritten' declares 1 values but the file stores only 0 of "
                             "their 1048576 bytes");
    assert_null(text);
    h5in_refuse_variable_strings(in);
    assert_int_equal(h5in_attr_string(in, "/", "vattr", &text, &err), -1);
    assert_msg(err, "%s: attribute 'vattr' of '/' is a variable-length string, which this file's "
               "format version never holds (its strings are fixed-length); not read: the file is "
               "damaged or was not written by revive", path);
    assert_null(text);
    assert_int_equal(h5in_string(in, "vtext", &text, &err), -1);
    assert_contains(err.msg, "dataset 'vtext' is a variable-length string");
    assert_int_equal(h5in_attr_string(in, "/", "fmt", &text, &err), 0); /* fixed: read */
    assert_string_equal(text, "revive");
    free(text);
    h5in_close(in);
}

static void test_shape_mismatch(void **state)
{
    char path[256];
    path_in(path, sizeof path, state, "shape.h5");
    write_sample(path);
    struct rv_error err = {{0}};
    struct h5in *in = h5in_open(path, &err);
    assert_non_null(in);
    float buf[16 * 27 + 1];
    for (size_t i = 0; i < sizeof buf / sizeof *buf; i++)
        buf[i] = -7.0f;
    size_t d4[4] = {16, 1, 3, 3}, d3[3] = {16, 3, 9}, d1[1] = {3};
    assert_int_equal(h5in_floats(in, "params/x", buf, 4, d4, &err), -1);
    assert_msg(err, "%s: dataset 'params/x' has shape (16,3,3,3), expected (16,1,3,3)", path);
    assert_true(buf[0] == -7.0f); /* nothing read on a mismatch */
    assert_int_equal(h5in_floats(in, "params/x", buf, 3, d3, &err), -1);
    assert_msg(err, "%s: dataset 'params/x' has shape (16,3,3,3), expected (16,3,9)", path);
    double dv[3];
    assert_int_equal(h5in_doubles(in, "d", dv, 0, NULL, &err), -1);
    assert_msg(err, "%s: dataset 'd' has shape (3), expected ()", path);
    d1[0] = 4;
    assert_int_equal(h5in_doubles(in, "d", dv, 1, d1, &err), -1);
    assert_msg(err, "%s: dataset 'd' has shape (3), expected (4)", path);
    h5in_close(in);
}

static void test_type_mismatch(void **state)
{
    char path[256];
    path_in(path, sizeof path, state, "type.h5");
    write_sample(path);
    struct rv_error err = {{0}};
    struct h5in *in = h5in_open(path, &err);
    assert_non_null(in);
    size_t d1[1] = {3};
    float f[3];
    double d[3];
    int64_t i[3];
    uint8_t b[3];
    /* F64 into F32 would round silently: refused. */
    assert_int_equal(h5in_floats(in, "d", f, 1, d1, &err), -1);
    assert_msg(err, "%s: dataset 'd' holds 64-bit floats, expected 32-bit floats; "
             "the checkpoint is incomplete or from another version", path);
    assert_int_equal(h5in_doubles(in, "i", d, 1, d1, &err), -1);
    assert_contains(err.msg, "dataset 'i' holds 64-bit signed integers, expected 64-bit floats");
    assert_int_equal(h5in_int64s(in, "d", i, 1, d1, &err), -1);
    assert_contains(err.msg, "dataset 'd' holds 64-bit floats, expected 64-bit signed integers");
    assert_int_equal(h5in_bytes(in, "i", b, 1, d1, &err), -1);
    assert_contains(err.msg, "holds 64-bit signed integers, expected 8-bit unsigned integers");
    assert_int_equal(h5in_floats(in, "s", f, 0, NULL, &err), -1);
    assert_contains(err.msg, "dataset 's' holds strings, expected 32-bit floats");
    char *text = NULL;
    assert_int_equal(h5in_string(in, "d", &text, &err), -1);
    assert_contains(err.msg, "dataset 'd' holds 64-bit floats, expected a string");
    assert_null(text);
    /* Widening an integer is exact, so bytes read as int64 are accepted. */
    assert_int_equal(h5in_int64s(in, "b", i, 1, d1, &err), 0);
    assert_true(i[0] == 1 && i[1] == 2 && i[2] == 3);

    int64_t v;
    double x;
    assert_int_equal(h5in_attr_int(in, "/", "lr", &v, &err), -1);
    assert_contains(err.msg, "attribute 'lr' of '/' holds 64-bit floats, expected 64-bit signed integers");
    assert_int_equal(h5in_attr_double(in, "/", "name", &x, &err), -1);
    assert_contains(err.msg, "attribute 'name' of '/' holds strings, expected 64-bit floats");
    assert_int_equal(h5in_attr_string(in, "/", "n", &text, &err), -1);
    assert_contains(err.msg, "attribute 'n' of '/' holds 64-bit signed integers, expected a string");
    assert_null(text);
    h5in_close(in);
}

static void test_missing_dataset(void **state)
{
    char path[256];
    path_in(path, sizeof path, state, "missing.h5");
    write_sample(path);
    struct rv_error err = {{0}};
    struct h5in *in = h5in_open(path, &err);
    assert_non_null(in);
    float f[3];
    size_t d1[1] = {3};
    assert_int_equal(h5in_floats(in, "params/y", f, 1, d1, &err), -1);
    assert_msg(err, "%s: missing dataset 'params/y'; the checkpoint is incomplete or from another version", path);
    assert_int_equal(h5in_floats(in, "nope/deeper/y", f, 1, d1, &err), -1);
    assert_contains(err.msg, "missing dataset 'nope/deeper/y'");
    int ndim;
    size_t dims[H5IO_MAX_DIMS];
    assert_int_equal(h5in_shape(in, "params/x/under", &ndim, dims, &err), -1);
    assert_contains(err.msg, "missing dataset 'params/x/under'");
    assert_int_equal(h5in_floats(in, "params", f, 1, d1, &err), -1);
    assert_contains(err.msg, "'params' is a group, not a dataset");
    char *text = NULL;
    assert_int_equal(h5in_string(in, "nothing", &text, &err), -1);
    assert_contains(err.msg, "missing dataset 'nothing'");
    int64_t v;
    assert_int_equal(h5in_attr_int(in, "/", "epochs", &v, &err), -1);
    assert_msg(err, "%s: missing attribute 'epochs' of '/'; the checkpoint is incomplete or from another version",
             path);
    assert_int_equal(h5in_attr_int(in, "params/z", "n", &v, &err), -1);
    assert_contains(err.msg, "missing 'params/z' (looking for its attribute 'n')");
    h5in_close(in);
}

static void test_missing_file(void **state)
{
    char path[256];
    path_in(path, sizeof path, state, "absent.h5");
    struct rv_error err = {{0}};
    assert_null(h5in_open(path, &err));
    assert_msg(err, "%s: no such file", path);
    path_in(path, sizeof path, state, "absent/dir/x.h5");
    assert_null(h5in_open(path, &err));
    assert_msg(err, "%s: no such file", path);
    const struct fixture *fx = *state;
    assert_null(h5in_open(fx->dir, &err));
    assert_contains(err.msg, "is a directory, not an HDF5 file");
}

static void test_garbage_file(void **state)
{
    char path[256];
    path_in(path, sizeof path, state, "garbage.h5");
    uint8_t junk[4096];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 131 + 7);
    write_bytes(path, junk, sizeof junk);
    struct rv_error err = {{0}};
    assert_null(h5in_open(path, &err));
    const char *want = "%s: not an HDF5 file (or damaged); give a checkpoint written by revive or h5py";
    assert_msg(err, want, path);
    write_bytes(path, "", 0); /* empty */
    assert_null(h5in_open(path, &err));
    assert_msg(err, want, path);
}

/* A checkpoint cut short (a full disk, a killed copy): opening or reading fails with a message. */
static void test_truncated_file(void **state)
{
    char path[256];
    path_in(path, sizeof path, state, "big.h5");
    struct rv_error err = {{0}};
    enum { N = 262144 }; /* 1 MB of floats */
    float *w = malloc(N * sizeof *w);
    assert_non_null(w);
    for (int i = 0; i < N; i++)
        w[i] = (float)i;
    size_t d[1] = {N};
    const off_t cuts[] = {0, 4096, 200, 40};
    for (size_t c = 0; c < sizeof cuts / sizeof *cuts; c++) {
        struct h5out *o = h5out_create(path, &err);
        assert_non_null(o);
        assert_int_equal(h5out_floats(o, "w", w, 1, d, &err), 0);
        assert_int_equal(h5out_attr_int(o, "w", "n", N, &err), 0);
        assert_int_equal(h5out_commit(o, &err), 0);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_true(st.st_size > N * 4);
        off_t size = cuts[c] ? cuts[c] : st.st_size / 2;
        assert_int_equal(truncate(path, size), 0);

        struct h5in *in = h5in_open(path, &err);
        if (in) {
            int rc = h5in_floats(in, "w", w, 1, d, &err);
            h5in_close(in);
            assert_int_equal(rc, -1);
        }
        if (c == 0)
            assert_contains(err.msg, "damaged or truncated");
        else
            assert_contains(err.msg, "damaged");
        assert_contains(err.msg, path);
    }
    free(w);
}

/* Damage inside the file, not at its end: every group's B-tree, local heap and symbol node
 * (signatures fixed by the HDF5 format) is broken in turn; each lookup must fail as damage. */
static void test_damaged_metadata(void **state)
{
    char path[256];
    path_in(path, sizeof path, state, "damaged.h5");
    struct rv_error err = {{0}};
    float w[64], r[64];
    for (int i = 0; i < 64; i++)
        w[i] = (float)i;
    size_t d[1] = {64};
    const char *const signatures[] = {"TREE", "HEAP", "SNOD"};
    int damaged = 0;
    for (int s = 0; s < 3; s++) {
        for (int nth = 0;; nth++) {
            struct h5out *o = h5out_create(path, &err);
            assert_non_null(o);
            assert_int_equal(h5out_floats(o, "params/w", w, 1, d, &err), 0);
            assert_int_equal(h5out_commit(o, &err), 0);
            char *bytes = NULL;
            size_t n = 0;
            assert_int_equal(read_whole(path, &bytes, &n), 0);
            char *at = bytes;
            for (int k = 0; at && k <= nth; k++) {
                at = find_bytes(at, n - (size_t)(at - bytes), signatures[s]);
                if (at && k < nth)
                    at += 4;
            }
            if (!at) {
                free(bytes);
                break;
            }
            memcpy(at, "XXXX", 4);
            write_bytes(path, bytes, n);
            free(bytes);
            struct h5in *in = h5in_open(path, &err); /* this HDF5 opens it; others may not */
            if (in) {
                /* a damaged group structure hides the dataset; a damaged chunk index (TREE) of
                 * the dataset itself leaves it listed but unreadable */
                assert_int_equal(h5in_floats(in, "params/w", r, 1, d, &err), -1);
                h5in_close(in);
            }
            assert_contains(err.msg, "damaged or truncated");
            damaged++;
        }
    }
    assert_true(damaged >= 6); /* the root group and "params", three structures each */
}

static void test_discard_leaves_nothing(void **state)
{
    const struct fixture *fx = *state;
    char path[256], tmp[300], names[1024];
    path_in(path, sizeof path, state, "stage-00.h5");
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    struct rv_error err = {{0}};
    float w[2] = {1, 2};
    size_t d[1] = {2};
    struct h5out *o = h5out_create(path, &err);
    assert_non_null(o);
    assert_int_equal(h5out_floats(o, "w", w, 1, d, &err), 0);
    assert_true(file_exists(tmp)); /* written beside the target, under a temporary name */
    assert_false(file_exists(path));
    h5out_discard(o);
    assert_false(file_exists(path));
    assert_int_equal(support_dir_entries(fx->dir, names, sizeof names), 0);
    h5out_discard(NULL);
}

static void test_commit_replaces_target(void **state)
{
    const struct fixture *fx = *state;
    char path[256], names[1024];
    path_in(path, sizeof path, state, "stage-00.h5");
    struct rv_error err = {{0}};
    size_t d[1] = {3};
    for (int version = 1; version <= 2; version++) {
        int64_t v[3] = {version, version * 10, version * 100};
        struct h5out *o = h5out_create(path, &err);
        assert_non_null(o);
        assert_int_equal(h5out_int64s(o, "v", v, 1, d, &err), 0);
        if (version == 2) {
            /* Until the commit, the old file is what readers see. */
            struct h5in *in = h5in_open(path, &err);
            assert_non_null(in);
            int64_t r[3];
            assert_int_equal(h5in_int64s(in, "v", r, 1, d, &err), 0);
            assert_true(r[0] == 1 && r[2] == 100);
            h5in_close(in);
        }
        assert_int_equal(h5out_commit(o, &err), 0);
    }
    struct h5in *in = h5in_open(path, &err);
    assert_non_null(in);
    int64_t r[3];
    assert_int_equal(h5in_int64s(in, "v", r, 1, d, &err), 0);
    assert_true(r[0] == 2 && r[1] == 20 && r[2] == 200);
    h5in_close(in);
    assert_int_equal(support_dir_entries(fx->dir, names, sizeof names), 1);
    assert_string_equal(names, "stage-00.h5");
}

/* rename(2) cannot replace a non-empty directory: the commit fails, the temporary file goes, and
 * what was at the target stays. */
static void test_failed_commit_removes_temp(void **state)
{
    const struct fixture *fx = *state;
    char path[256], inner[300], names[1024];
    path_in(path, sizeof path, state, "stage-00.h5");
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(inner, sizeof inner, "%s/keep", path);
    write_bytes(inner, "k", 1);
    struct rv_error err = {{0}};
    struct h5out *o = h5out_create(path, &err);
    assert_non_null(o);
    assert_int_equal(h5out_attr_int(o, "/", "n", 1, &err), 0);
    assert_int_equal(h5out_commit(o, &err), -1);
    assert_contains(err.msg, path);
    assert_contains(err.msg, "cannot replace it");
    assert_int_equal(support_dir_entries(fx->dir, names, sizeof names), 1);
    assert_string_equal(names, "stage-00.h5");
    assert_true(file_exists(inner));
}

/* Issue #11 item 4: a write that fails for lack of room (a full disk, a quota; here the file
 * size limit, RLIMIT_FSIZE with SIGXFSZ ignored, which makes write(2) fail with EFBIG) ends in one
 * message and a clean exit: HDF5's exit handler crashed (SIGSEGV) on a file whose close had
 * failed. The older file at the target and the directory are untouched. Run in a child, whose
 * exit runs HDF5's handlers. */
static void test_disk_full(void **state)
{
    const struct fixture *fx = *state;
    char path[256], names[1024], msg[1024] = "";
    path_in(path, sizeof path, state, "last.h5");
    write_bytes(path, "older checkpoint", 16);
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pipefd[0]);
        signal(SIGSEGV, SIG_DFL); /* cmocka's handlers would report in the child */
        signal(SIGBUS, SIG_DFL);
        signal(SIGABRT, SIG_DFL);
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit lim = {64 * 1024, 64 * 1024};
        setrlimit(RLIMIT_FSIZE, &lim);
        struct rv_error err = {{0}};
        size_t n = 256 * 1024;
        float *x = calloc(n, sizeof *x);
        struct h5out *o = h5out_create(path, &err);
        int rc = !o ? 2 : h5out_floats(o, "x", x, 1, &n, &err) ? (h5out_discard(o), 3)
                                                                : h5out_commit(o, &err) ? 4 : 0;
        if (write(pipefd[1], err.msg, strlen(err.msg)) < 0)
            rc = 5;
        close(pipefd[1]);
        free(x);
        exit(rc); /* runs HDF5's exit handlers */
    }
    close(pipefd[1]);
    ssize_t got = read(pipefd[0], msg, sizeof msg - 1);
    msg[got > 0 ? got : 0] = '\0';
    close(pipefd[0]);
    int status;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status))
        fail_msg("the failed write ended in signal %d (message: %s)", WTERMSIG(status), msg);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 3 && WEXITSTATUS(status) != 4)
        fail_msg("status %d, message '%s': the write should have failed", WEXITSTATUS(status), msg);
    assert_contains(msg, path);
    assert_contains(msg, "File too large");
    assert_null(strchr(msg, '\n'));
    assert_int_equal(support_dir_entries(fx->dir, names, sizeof names), 1);
    assert_string_equal(names, "last.h5");
    char buf[32] = "";
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(buf, 1, sizeof buf, f), 16);
    fclose(f);
    assert_memory_equal(buf, "older checkpoint", 16);
}

static void test_missing_directory(void **state)
{
    const struct fixture *fx = *state;
    char path[256];
    path_in(path, sizeof path, state, "x/stage-00.h5");
    struct rv_error err = {{0}};
    assert_null(h5out_create(path, &err));
    assert_msg(err, "%s: cannot create (directory %s/x does not exist)", path, fx->dir);
    /* A plain file where the directory should be. */
    char file[256];
    path_in(file, sizeof file, state, "plain");
    write_bytes(file, "p", 1);
    path_in(path, sizeof path, state, "plain/stage-00.h5");
    assert_null(h5out_create(path, &err));
    assert_msg(err, "%s: cannot create (%s is not a directory)", path, file);
}

/* No timestamps in the file: the same contents written twice give the same bytes. HDF5's times
 * have one-second resolution, so the second write waits just over a second. */
static void test_files_are_reproducible(void **state)
{
    char a[256], b[256];
    path_in(a, sizeof a, state, "a.h5");
    path_in(b, sizeof b, state, "b.h5");
    write_sample(a);
    nanosleep(&(struct timespec){.tv_sec = 1, .tv_nsec = 100000000}, NULL);
    write_sample(b);
    char *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    assert_int_equal(read_whole(a, &x, &nx), 0);
    assert_int_equal(read_whole(b, &y, &ny), 0);
    assert_int_equal(nx, ny);
    assert_memory_equal(x, y, nx);
    free(x);
    free(y);
}

/* The standard types show up in h5dump's header listing, which h5py and HDFView read alike. */
static void test_h5dump_reads_it(void **state)
{
    if (access("/usr/bin/h5dump", X_OK) != 0)
        skip();
    const struct fixture *fx = *state;
    char path[256], out[256], cmd[1024];
    path_in(path, sizeof path, state, "dump.h5");
    path_in(out, sizeof out, state, "dump.txt");
    write_sample(path);
    snprintf(cmd, sizeof cmd, "/usr/bin/h5dump -H '%s' > '%s' 2>&1", path, out);
    assert_int_equal(system(cmd), 0);
    char *text = NULL;
    size_t n = 0;
    assert_int_equal(read_whole(out, &text, &n), 0);
    assert_contains(text, "H5T_IEEE_F32LE");
    assert_contains(text, "H5T_IEEE_F64LE");
    assert_contains(text, "H5T_STD_I64LE");
    assert_contains(text, "H5T_STD_U8LE");
    assert_contains(text, "STRPAD H5T_STR_NULLTERM"); /* fixed-length strings, no global heap */
    assert_true(strstr(text, "H5T_VARIABLE") == NULL);
    assert_contains(text, "CSET H5T_CSET_UTF8");
    assert_contains(text, "DATASPACE  SIMPLE { ( 16, 3, 3, 3 ) / ( 16, 3, 3, 3 ) }");
    free(text);
    (void)fx;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip_every_type, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_nested_names_with_dots, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_files_from_other_tools, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_string_storage, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_shape_mismatch, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_type_mismatch, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_missing_dataset, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_garbage_file, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_truncated_file, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_damaged_metadata, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_discard_leaves_nothing, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_commit_replaces_target, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_failed_commit_removes_temp, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_disk_full, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_missing_directory, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_files_are_reproducible, setup, support_dir_teardown),
        cmocka_unit_test_setup_teardown(test_h5dump_reads_it, setup, support_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
