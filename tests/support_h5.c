/* Crafting revive's HDF5 files in the cmocka tests; see support_h5.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "../src/io/checkpoint_layout.h"
#include "../src/io/h5io_internal.h"
#include "h5io.h"
#include "support_h5.h"

hid_t support_h5_open(const char *path)
{
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(file >= 0);
    return file;
}

void support_h5_close(hid_t file, const char *path, int nstages)
{
    assert_true(H5Fclose(file) >= 0);
    support_h5_restamp(path, nstages);
}

unsigned char *support_slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    unsigned char *b = malloc(*n ? *n : 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

void support_h5_restamp_file(const char *path)
{
    size_t n;
    unsigned char *b = support_slurp(path, &n);
    if (n > H5IO_USERBLOCK + 8 && memcmp(b, "revive-hdf5", 11) == 0) {
        h5io_userblock_text((char *)b, (uint32_t)crc32(0, b + H5IO_USERBLOCK, (uInt)(n - H5IO_USERBLOCK)),
                            (unsigned long long)n);
        FILE *f = fopen(path, "r+b");
        assert_non_null(f);
        assert_int_equal(fwrite(b, 1, H5IO_USERBLOCK, f), H5IO_USERBLOCK);
        fclose(f);
    }
    free(b);
}

void support_h5_restamp(const char *path, int nstages)
{
    support_h5_restamp_file(path);
    struct rv_error err = {{0}};
    struct h5in *in = h5in_open(path, &err);
    assert_non_null(in);
    int64_t n = nstages;
    uint32_t crc = 0;
    int has = (nstages >= 0 || h5in_attr_int(in, "stats", "nstages", &n, &err) == 0) &&
              h5in_attr_int(in, "/", "checksum", &(int64_t){0}, &err) == 0;
    if (has && n >= 0 && n <= 1000)
        has = ck_checksum_in(in, CK_FILE_CHECKPOINT, (int)n, &crc, &err) == 0;
    h5in_close(in);
    if (!has)
        return;
    hid_t file = support_h5_open(path);
    int64_t v = crc;
    hid_t a = H5Aopen(file, "checksum", H5P_DEFAULT);
    assert_true(a >= 0 && H5Awrite(a, H5T_NATIVE_INT64, &v) >= 0);
    H5Aclose(a);
    assert_true(H5Fclose(file) >= 0);
    support_h5_restamp_file(path);
}

hid_t support_h5_string_type(const char *v)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, strlen(v) + 1);
    H5Tset_cset(type, H5T_CSET_UTF8);
    return type;
}

void support_h5_set_attr(hid_t file, const char *object, const char *name, hid_t type, const void *v)
{
    hid_t obj = H5Oopen(file, object, H5P_DEFAULT);
    assert_true(obj >= 0);
    if (H5Aexists(obj, name) > 0)
        assert_true(H5Adelete(obj, name) >= 0);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(a >= 0 && H5Awrite(a, type, v) >= 0);
    H5Aclose(a);
    H5Sclose(space);
    H5Oclose(obj);
}

void support_h5_set_i64(hid_t file, const char *object, const char *name, int64_t v)
{
    support_h5_set_attr(file, object, name, H5T_NATIVE_INT64, &v);
}

void support_h5_set_f64(hid_t file, const char *object, const char *name, double v)
{
    support_h5_set_attr(file, object, name, H5T_NATIVE_DOUBLE, &v);
}

void support_h5_set_str(hid_t file, const char *object, const char *name, const char *v)
{
    hid_t type = support_h5_string_type(v);
    support_h5_set_attr(file, object, name, type, v);
    H5Tclose(type);
}

void support_h5_set_text(hid_t file, const char *name, const char *text)
{
    assert_true(H5Ldelete(file, name, H5P_DEFAULT) >= 0);
    hid_t type = support_h5_string_type(text), space = H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(d >= 0 && H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, text) >= 0);
    H5Dclose(d);
    H5Sclose(space);
    H5Tclose(type);
}
