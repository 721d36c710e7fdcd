/* HDF5 files read with type and shape checks (see h5io.h). The file format notes are in
 * h5io_common.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>
#include <zlib.h>

#include "h5io.h"
#include "h5io_internal.h"

struct h5in {
    hid_t file;
    char *path;
    int checked; /* its user block's CRC-32 matched (a file h5out wrote) */
    int borrowed; /* a view of a file being written (h5out_reader): closing leaves the file open */
    int fixed_strings; /* variable-length strings are refused unread (h5in_refuse_variable_strings) */
    int exact_types;   /* only the exact little-endian types h5out writes (h5in_require_exact_types) */
};

static const char *const elem_name[] = {
    [H5IO_F32] = "32-bit floats",
    [H5IO_F64] = "64-bit floats",
    [H5IO_I64] = "64-bit signed integers",
    [H5IO_U8] = "8-bit unsigned integers",
};

/* "(16,3,3,3)"; "()" for a scalar. */
static void format_shape(char *buf, size_t cap, int ndim, const size_t *dims)
{
    size_t used = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < ndim && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%zu", i ? "," : "", dims[i]);
    if (used < cap)
        snprintf(buf + used, cap - used, ")");
}

/* 1 when path starts with an h5out user block whose CRC-32 and size match the file, 0 when it
 * has no user block (HDF5's signature at byte 0: an older revive or another tool), and -1 with
 * err set when it has one that does not match: the file changed after it was written. */
static int check_userblock(const char *path, struct rv_error *err)
{
    static const unsigned char signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0; /* h5in_open reports it */
    unsigned char block[H5IO_USERBLOCK + 8];
    size_t got = fread(block, 1, sizeof block, f);
    int rc = 0;
    if (got == sizeof block && memcmp(block + H5IO_USERBLOCK, signature, 8) == 0) {
        unsigned crc = 0;
        unsigned long long size = 0;
        char want[H5IO_USERBLOCK];
        int parsed = sscanf((const char *)block, "revive-hdf5 crc32 %8x size %llu", &crc, &size) == 2;
        if (parsed)
            h5io_userblock_text(want, crc, size);
        uLong sum = crc32(0, block + H5IO_USERBLOCK, 8);
        unsigned long long total = sizeof block;
        unsigned char buf[65536];
        size_t n;
        while (parsed && (n = fread(buf, 1, sizeof buf, f)) > 0) {
            sum = crc32(sum, buf, (uInt)n);
            total += n;
        }
        if (!parsed || memcmp(want, block, H5IO_USERBLOCK) != 0)
            rc = rv_fail(err, "%s: damaged or not written by revive: its header (the first %d bytes) is "
                         "not revive's; resume from another checkpoint", path, H5IO_USERBLOCK);
        else if (total != size || (uint32_t)sum != crc)
            rc = rv_fail(err, "%s: damaged or truncated: the file's CRC-32 or size does not match "
                         "what was written (%llu bytes, CRC %08x; now %llu bytes, CRC %08x); resume "
                         "from another checkpoint", path, size, crc, total, (unsigned)sum);
        else
            rc = 1;
    }
    fclose(f);
    return rc;
}

struct h5in *h5in_open(const char *path, struct rv_error *err)
{
    REVIVE_ASSERT(path);
    h5io_quiet_hdf5();
    /* open(2) first: HDF5 would report a missing or unreadable file as "not HDF5". */
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            rv_fail(err, "%s: no such file", path);
        else
            rv_fail(err, "%s: cannot read: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    int is_dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
    close(fd);
    if (is_dir) {
        rv_fail(err, "%s: is a directory, not an HDF5 file", path);
        return NULL;
    }
    int checked = check_userblock(path, err);
    if (checked < 0)
        return NULL;
#if H5_VERSION_GE(1, 12, 0)
    htri_t is_hdf5 = H5Fis_accessible(path, H5P_DEFAULT);
#else
    htri_t is_hdf5 = H5Fis_hdf5(path);
#endif
    if (is_hdf5 <= 0) {
        rv_fail(err, "%s: not an HDF5 file (or damaged); give a checkpoint written by revive or h5py",
                path);
        return NULL;
    }
    /* The signature is there but the file does not open: most often it was cut short (a full
     * disk, a killed copy), since HDF5 checks the stored end-of-file against the real size. */
    hid_t fapl = h5io_make_fapl();
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (file < 0) {
        rv_fail(err, "%s: cannot open: damaged or truncated HDF5 file; resume from another checkpoint",
                path);
        return NULL;
    }
    struct h5in *f = rv_calloc(1, sizeof *f);
    f->file = file;
    f->path = h5io_dup_str(path);
    f->checked = checked;
    return f;
}

int h5in_checked(const struct h5in *f)
{
    return f->checked;
}

struct h5in *h5io_borrow_reader(hid_t file, const char *path)
{
    struct h5in *f = rv_calloc(1, sizeof *f);
    f->file = file;
    f->path = h5io_dup_str(path);
    f->borrowed = 1;
    return f;
}

void h5in_close(struct h5in *f)
{
    if (!f)
        return;
    if (!f->borrowed)
        H5Fclose(f->file);
    free(f->path);
    free(f);
}

void h5in_refuse_variable_strings(struct h5in *f)
{
    f->fixed_strings = 1;
}

void h5in_require_exact_types(struct h5in *f)
{
    f->exact_types = 1;
}

const char *h5in_path(const struct h5in *f)
{
    return f->path;
}

int h5in_exists(struct h5in *f, const char *name)
{
    REVIVE_ASSERT(f && name);
    return h5io_link_exists(f->file, name) == 1;
}

static const char *const STALE = "the checkpoint is incomplete or from another version";

/* A dataset or an attribute being read, with its stored type and dataspace. */
struct item {
    hid_t id, type, space;
    int is_attr;
    char what[512]; /* for messages: "dataset 'x'" or "attribute 'a' of 'x'" */
};

static void close_item(struct item *it)
{
    if (it->space >= 0)
        H5Sclose(it->space);
    if (it->type >= 0)
        H5Tclose(it->type);
    if (it->is_attr)
        H5Aclose(it->id);
    else
        H5Oclose(it->id);
}

/* Fills type and space; on failure closes the item. */
static int finish_open(const struct h5in *f, struct item *it, struct rv_error *err)
{
    it->type = it->is_attr ? H5Aget_type(it->id) : H5Dget_type(it->id);
    it->space = it->is_attr ? H5Aget_space(it->id) : H5Dget_space(it->id);
    if (it->type >= 0 && it->space >= 0)
        return 0;
    close_item(it);
    return rv_fail(err, "%s: cannot read %s: damaged or truncated file", f->path, it->what);
}

/* Counts a dataset's filters: Fletcher-32 (its checksum) and any other (compression, or one
 * HDF5 does not know). -1 when the filter pipeline cannot be read. */
static int count_filters(hid_t dset, int *fletcher32, int *others)
{
    *fletcher32 = *others = 0;
    hid_t dcpl = H5Dget_create_plist(dset);
    if (dcpl < 0)
        return -1;
    int n = H5Pget_nfilters(dcpl);
    for (int i = 0; i < n; i++) {
        unsigned flags;
        size_t nelem = 0;
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &nelem, NULL, 0, NULL, NULL);
        *(id == H5Z_FILTER_FLETCHER32 ? fletcher32 : others) += 1;
    }
    H5Pclose(dcpl);
    return n < 0 ? -1 : 0;
}

static int has_fletcher32(hid_t dset)
{
    int f, o;
    count_filters(dset, &f, &o);
    return f > 0;
}

static int open_dataset(struct h5in *f, const char *name, struct item *it, struct rv_error *err)
{
    REVIVE_ASSERT(f && name);
    *it = (struct item){.id = -1, .type = -1, .space = -1, .is_attr = 0};
    snprintf(it->what, sizeof it->what, "dataset '%s'", name);
    int found = h5io_link_exists(f->file, name);
    if (found == 0)
        return rv_fail(err, "%s: missing dataset '%s'; %s", f->path, name, STALE);
    if (found < 0 || (it->id = H5Oopen(f->file, name, H5P_DEFAULT)) < 0)
        return rv_fail(err, "%s: cannot open dataset '%s': damaged or truncated file", f->path, name);
    if (H5Iget_type(it->id) != H5I_DATASET) {
        H5Oclose(it->id);
        return rv_fail(err, "%s: '%s' is a group, not a dataset; %s", f->path, name, STALE);
    }
    int fletcher32, others;
    if (count_filters(it->id, &fletcher32, &others) || others > 0) {
        H5Oclose(it->id);
        return rv_fail(err, "%s: dataset '%s' is compressed or otherwise filtered (HDF5 filters other "
                       "than Fletcher-32), which revive never writes; not read: give a checkpoint "
                       "written by revive (or one rewritten with h5repack -f NONE)", f->path, name);
    }
    return finish_open(f, it, err);
}

static int open_attr(struct h5in *f, const char *object, const char *attr, struct item *it,
                     struct rv_error *err)
{
    REVIVE_ASSERT(f && object && attr);
    *it = (struct item){.id = -1, .type = -1, .space = -1, .is_attr = 1};
    snprintf(it->what, sizeof it->what, "attribute '%s' of '%s'", attr, object);
    int found = h5io_link_exists(f->file, object);
    if (found == 0)
        return rv_fail(err, "%s: missing '%s' (looking for its attribute '%s'); %s", f->path, object,
                       attr, STALE);
    htri_t has = found < 0 ? -1 : H5Aexists_by_name(f->file, object, attr, H5P_DEFAULT);
    if (has == 0)
        return rv_fail(err, "%s: missing %s; %s", f->path, it->what, STALE);
    if (has < 0 || (it->id = H5Aopen_by_name(f->file, object, attr, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        return rv_fail(err, "%s: cannot open %s: damaged or truncated file", f->path, it->what);
    return finish_open(f, it, err);
}

static herr_t read_item(const struct item *it, hid_t mem_type, void *buf)
{
    return it->is_attr ? H5Aread(it->id, mem_type, buf)
                       : H5Dread(it->id, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
}

/* For messages: "64-bit floats", "32-bit signed integers", "strings". */
static void describe_type(hid_t t, char *buf, size_t cap)
{
    size_t bits = H5Tget_size(t) * 8;
    switch (H5Tget_class(t)) {
    case H5T_FLOAT: snprintf(buf, cap, "%zu-bit floats", bits); break;
    case H5T_INTEGER:
        snprintf(buf, cap, "%zu-bit %s integers", bits,
                 H5Tget_sign(t) == H5T_SGN_NONE ? "unsigned" : "signed");
        break;
    case H5T_STRING: snprintf(buf, cap, "strings"); break;
    default: snprintf(buf, cap, "values of HDF5 type class %d", (int)H5Tget_class(t)); break;
    }
}

/* HDF5 converts on read, so accept only conversions that are exact: the same float width (F64
 * into F32 would round silently), any integer that fits in int64, unsigned bytes as they are. */
static int type_fits(hid_t t, enum h5io_elem e)
{
    H5T_class_t cls = H5Tget_class(t);
    size_t size = H5Tget_size(t);
    H5T_sign_t sign = H5Tget_sign(t);
    switch (e) {
    case H5IO_F32: return cls == H5T_FLOAT && size == 4;
    case H5IO_F64: return cls == H5T_FLOAT && size == 8;
    case H5IO_I64: return cls == H5T_INTEGER && (size < 8 || (size == 8 && sign == H5T_SGN_2));
    case H5IO_U8: return cls == H5T_INTEGER && size == 1 && sign == H5T_SGN_NONE;
    }
    return 0;
}

/* Exactly that type (H5Tequal compares every property: byte order, precision, offset, padding,
 * and for floats the sign, exponent and mantissa positions and the exponent bias), so HDF5
 * converts nothing: a float32 whose datatype message was altered (another exponent bias) would
 * be converted to other values than those written, and Fletcher-32 covers only the data. */
static int type_exact(const struct h5in *f, const struct item *it, enum h5io_elem e,
                      struct rv_error *err)
{
    if (!f->exact_types || H5Tequal(it->type, h5io_elem_file_type(e)) > 0)
        return 0;
    return rv_fail(err, "%s: %s is not stored as %s in the exact little-endian IEEE/integer type "
                   "revive writes (its datatype differs: byte order, precision or exponent layout); "
                   "not read: the file is damaged or was not written by revive", f->path, it->what,
                   elem_name[e]);
}

/* e < 0 asks for a string. */
static int check_type(const struct h5in *f, const struct item *it, int e, struct rv_error *err)
{
    if (e >= 0 && type_fits(it->type, (enum h5io_elem)e))
        return type_exact(f, it, (enum h5io_elem)e, err);
    if (e < 0 && H5Tget_class(it->type) == H5T_STRING)
        return 0;
    char have[64];
    describe_type(it->type, have, sizeof have);
    return rv_fail(err, "%s: %s holds %s, expected %s; %s", f->path, it->what, have,
                   e < 0 ? "a string" : elem_name[e], STALE);
}

/* A dataset's shape is only a claim: a small file can declare a huge one whose data was never
 * written. Readers allocate by the shape, so a dataset must store the bytes its shape needs
 * (revive writes every dataset in full, uncompressed; open_dataset refused compressed ones), and
 * nothing read is larger than the file. */
static int check_stored(const struct h5in *f, const struct item *it, struct rv_error *err)
{
    hssize_t n = H5Sget_simple_extent_npoints(it->space);
    if (n <= 0 || H5Tis_variable_str(it->type) != 0) /* variable-length: sizes of heap references */
        return 0;
    double need = (double)n * (double)H5Tget_size(it->type);
    hsize_t have = H5Dget_storage_size(it->id);
    if ((double)have >= need)
        return 0;
    return rv_fail(err, "%s: %s declares %lld values but the file stores only %llu of their %.0f "
                   "bytes; the file is damaged or truncated", f->path, it->what, (long long)n,
                   (unsigned long long)have, need);
}

/* The declared shape; check_stored (below) then checks the data is there. */
static int declared_shape(const struct h5in *f, const struct item *it, int *ndim, size_t *dims,
                          struct rv_error *err)
{
    H5S_class_t cls = H5Sget_simple_extent_type(it->space);
    int rank = cls == H5S_SIMPLE ? H5Sget_simple_extent_ndims(it->space) : 0;
    if (cls != H5S_SIMPLE && cls != H5S_SCALAR)
        return rv_fail(err, "%s: %s holds no data (null dataspace); %s", f->path, it->what, STALE);
    if (rank < 0)
        return rv_fail(err, "%s: cannot read the shape of %s: damaged or truncated file", f->path,
                       it->what);
    if (rank > H5IO_MAX_DIMS)
        return rv_fail(err, "%s: %s has %d dimensions, at most %d are supported; %s", f->path,
                       it->what, rank, H5IO_MAX_DIMS, STALE);
    hsize_t hd[H5IO_MAX_DIMS];
    if (rank > 0)
        H5Sget_simple_extent_dims(it->space, hd, NULL);
    for (int i = 0; i < rank; i++)
        dims[i] = (size_t)hd[i];
    *ndim = rank;
    return 0;
}

static int item_shape(const struct h5in *f, const struct item *it, int *ndim, size_t *dims,
                      struct rv_error *err)
{
    if (declared_shape(f, it, ndim, dims, err))
        return -1;
    return it->is_attr ? 0 : check_stored(f, it, err);
}

/* Scalar attributes and strings: one value, whether stored as a scalar or as a 1-element array. */
static int check_one(const struct h5in *f, const struct item *it, struct rv_error *err)
{
    hssize_t n = H5Sget_simple_extent_npoints(it->space);
    if (n == 1)
        return 0;
    return rv_fail(err, "%s: %s holds %lld values, expected one; %s", f->path, it->what,
                   (long long)n, STALE);
}

int h5in_shape(struct h5in *f, const char *name, int *ndim, size_t *dims, struct rv_error *err)
{
    REVIVE_ASSERT(ndim && dims);
    struct item it;
    if (open_dataset(f, name, &it, err))
        return -1;
    int rc = item_shape(f, &it, ndim, dims, err);
    close_item(&it);
    return rc;
}

static int read_array(struct h5in *f, const char *name, enum h5io_elem e, void *data, int ndim,
                      const size_t *dims, struct rv_error *err)
{
    REVIVE_ASSERT(ndim >= 0 && ndim <= H5IO_MAX_DIMS && (ndim == 0 || dims));
    struct item it;
    if (open_dataset(f, name, &it, err))
        return -1;
    int have_ndim = 0;
    size_t have[H5IO_MAX_DIMS];
    int rc = check_type(f, &it, (int)e, err);
    if (rc == 0)
        rc = declared_shape(f, &it, &have_ndim, have, err);
    /* The shape the caller expects (the model's, a table row's) first: nothing else is read. */
    if (rc == 0 && (have_ndim != ndim || (ndim > 0 && memcmp(have, dims, (size_t)ndim * sizeof *dims)))) {
        char hs[128], ws[128];
        format_shape(hs, sizeof hs, have_ndim, have);
        format_shape(ws, sizeof ws, ndim, dims);
        rc = rv_fail(err, "%s: dataset '%s' has shape %s, expected %s", f->path, name, hs, ws);
    }
    if (rc == 0)
        rc = check_stored(f, &it, err);
    if (rc == 0 && h5io_count_of(ndim, dims) > 0) {
        REVIVE_ASSERT(data);
        if (read_item(&it, h5io_elem_mem_type(e), data) < 0)
            rc = has_fletcher32(it.id)
                     ? rv_fail(err, "%s: dataset '%s' is damaged or truncated: its data fails HDF5's "
                               "Fletcher-32 checksum or cannot be read; resume from another checkpoint",
                               f->path, name)
                     : rv_fail(err, "%s: cannot read dataset '%s': damaged or truncated file", f->path, name);
    }
    close_item(&it);
    return rc;
}

int h5in_floats(struct h5in *f, const char *name, float *data, int ndim, const size_t *dims,
                struct rv_error *err)
{
    return read_array(f, name, H5IO_F32, data, ndim, dims, err);
}

int h5in_doubles(struct h5in *f, const char *name, double *data, int ndim, const size_t *dims,
                 struct rv_error *err)
{
    return read_array(f, name, H5IO_F64, data, ndim, dims, err);
}

int h5in_int64s(struct h5in *f, const char *name, int64_t *data, int ndim, const size_t *dims,
                struct rv_error *err)
{
    return read_array(f, name, H5IO_I64, data, ndim, dims, err);
}

int h5in_bytes(struct h5in *f, const char *name, uint8_t *data, int ndim, const size_t *dims,
               struct rv_error *err)
{
    return read_array(f, name, H5IO_U8, data, ndim, dims, err);
}

/* h5py writes str as variable-length strings and numpy bytes as fixed-length ones, so both are
 * read. The memory type copies the stored character set and padding, because HDF5 refuses to
 * convert between ASCII and UTF-8. Returns NULL when HDF5 cannot read the value. */
static char *read_text(const struct item *it)
{
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_cset(mt, H5Tget_cset(it->type));
    char *out = NULL;
    if (H5Tis_variable_str(it->type) > 0) {
        H5Tset_size(mt, H5T_VARIABLE);
        char *p = NULL;
        if (read_item(it, mt, &p) >= 0) {
            out = h5io_dup_str(p ? p : "");
            hid_t scalar = H5Screate(H5S_SCALAR);
#if H5_VERSION_GE(1, 12, 0)
            H5Treclaim(mt, scalar, H5P_DEFAULT, &p);
#else
            H5Dvlen_reclaim(mt, scalar, H5P_DEFAULT, &p);
#endif
            H5Sclose(scalar);
        }
    } else {
        size_t n = H5Tget_size(it->type);
        H5T_str_t pad = H5Tget_strpad(it->type);
        H5Tset_size(mt, n);
        H5Tset_strpad(mt, pad);
        char *buf = rv_calloc(n + 1, 1); /* NULLPAD strings that fill n bytes have no NUL */
        if (read_item(it, mt, buf) >= 0) {
            for (size_t len = strlen(buf); pad == H5T_STR_SPACEPAD && len > 0 && buf[len - 1] == ' ';)
                buf[--len] = '\0';
            out = buf;
        } else {
            free(buf);
        }
    }
    H5Tclose(mt);
    return out;
}

/* The longest fixed-length string read: revive's longest is a config text of a few kB. A
 * crafted file can declare any size, and read_text allocates it. */
#define MAX_TEXT ((size_t)16 << 20)

/* Before a string is read: a variable-length one only where allowed (its value is in HDF5's global
 * heap, which some crafted files send into an endless loop or a buffer overflow in HDF5 1.10.8, so
 * it is refused unread), a fixed-length one of a sane size whose dataset stores its bytes. */
static int check_text(const struct h5in *f, const struct item *it, struct rv_error *err)
{
    htri_t vlen = H5Tis_variable_str(it->type);
    if (vlen < 0 || (vlen > 0 && f->fixed_strings))
        return rv_fail(err, "%s: %s is a variable-length string, which this file's format version "
                       "never holds (its strings are fixed-length); not read: the file is damaged or "
                       "was not written by revive", f->path, it->what);
    if (vlen > 0)
        return 0;
    size_t n = H5Tget_size(it->type);
    if (n == 0 || n > MAX_TEXT)
        return rv_fail(err, "%s: %s is a string of %zu bytes, more than the %zu read; the file is "
                       "damaged", f->path, it->what, n, MAX_TEXT);
    return it->is_attr ? 0 : check_stored(f, it, err);
}

/* Reads one value and closes the item; e < 0 reads a string into *(char **)value. */
static int read_scalar(const struct h5in *f, struct item *it, int e, void *value,
                       struct rv_error *err)
{
    int rc = check_type(f, it, e, err);
    if (rc == 0)
        rc = check_one(f, it, err);
    if (rc == 0 && e < 0)
        rc = check_text(f, it, err);
    if (rc == 0) {
        int ok = e < 0 ? (*(char **)value = read_text(it)) != NULL
                       : read_item(it, h5io_elem_mem_type((enum h5io_elem)e), value) >= 0;
        if (!ok)
            rc = rv_fail(err, "%s: cannot read %s: damaged or truncated file", f->path, it->what);
    }
    close_item(it);
    return rc;
}

int h5in_string(struct h5in *f, const char *name, char **text, struct rv_error *err)
{
    REVIVE_ASSERT(text);
    *text = NULL;
    struct item it;
    return open_dataset(f, name, &it, err) ? -1 : read_scalar(f, &it, -1, text, err);
}

int h5in_attr_int(struct h5in *f, const char *object, const char *attr, int64_t *value,
                  struct rv_error *err)
{
    struct item it;
    return open_attr(f, object, attr, &it, err) ? -1 : read_scalar(f, &it, H5IO_I64, value, err);
}

int h5in_attr_double(struct h5in *f, const char *object, const char *attr, double *value,
                     struct rv_error *err)
{
    struct item it;
    return open_attr(f, object, attr, &it, err) ? -1 : read_scalar(f, &it, H5IO_F64, value, err);
}

int h5in_attr_string(struct h5in *f, const char *object, const char *attr, char **value,
                     struct rv_error *err)
{
    REVIVE_ASSERT(value);
    *value = NULL;
    struct item it;
    return open_attr(f, object, attr, &it, err) ? -1 : read_scalar(f, &it, -1, value, err);
}

int h5in_members(struct h5in *f, const char *group, size_t *n, struct rv_error *err)
{
    REVIVE_ASSERT(f && group && n);
    *n = 0;
    if (h5io_link_exists(f->file, group) != 1 || h5io_object_kind(f->file, group) != H5I_GROUP)
        return rv_fail(err, "%s: missing group '%s'; %s", f->path, group, STALE);
    hid_t g = H5Gopen2(f->file, group, H5P_DEFAULT);
    H5G_info_t info;
    int ok = g >= 0 && H5Gget_info(g, &info) >= 0;
    if (g >= 0)
        H5Gclose(g);
    if (!ok)
        return rv_fail(err, "%s: cannot read group '%s': damaged or truncated file", f->path, group);
    *n = (size_t)info.nlinks;
    return 0;
}

int h5in_attr_exists(struct h5in *f, const char *object, const char *attr)
{
    REVIVE_ASSERT(f && object && attr);
    return h5io_link_exists(f->file, object) == 1 &&
           H5Aexists_by_name(f->file, object, attr, H5P_DEFAULT) > 0;
}
