/* HDF5 files written atomically and read with type and shape checks (see h5io.h).
 *
 * Files use only standard types (IEEE F32LE/F64LE, STD_I64LE, STD_U8LE, variable-length UTF-8
 * strings) and the earliest file format, so h5py, h5dump and HDFView read them. Objects carry no
 * timestamps, so equal contents give equal bytes: two runs' checkpoints can be compared with cmp.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "h5io.h"

struct h5out {
    hid_t file;
    hid_t lcpl; /* link creation: missing parent groups are made on the way */
    hid_t ocpl; /* dataset creation: no timestamps */
    char *path; /* the target, untouched until commit */
    char *tmp;  /* "<path>.tmp-<pid>", renamed over path by commit */
};

struct h5in {
    hid_t file;
    char *path;
};

enum elem { ELEM_F32, ELEM_F64, ELEM_I64, ELEM_U8 };

static const char *const elem_name[] = {
    [ELEM_F32] = "32-bit floats",
    [ELEM_F64] = "64-bit floats",
    [ELEM_I64] = "64-bit signed integers",
    [ELEM_U8] = "8-bit unsigned integers",
};

/* HDF5's H5T_NATIVE_* are function calls in disguise, so they cannot sit in a static table. */
static hid_t elem_mem_type(enum elem e)
{
    switch (e) {
    case ELEM_F32: return H5T_NATIVE_FLOAT;
    case ELEM_F64: return H5T_NATIVE_DOUBLE;
    case ELEM_I64: return H5T_NATIVE_INT64;
    case ELEM_U8: return H5T_NATIVE_UINT8;
    }
    return -1;
}

static hid_t elem_file_type(enum elem e)
{
    switch (e) {
    case ELEM_F32: return H5T_IEEE_F32LE;
    case ELEM_F64: return H5T_IEEE_F64LE;
    case ELEM_I64: return H5T_STD_I64LE;
    case ELEM_U8: return H5T_STD_U8LE;
    }
    return -1;
}

/* Process-wide and idempotent: our messages replace HDF5's stack dumps on stderr. */
static void quiet_hdf5(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = rv_malloc(n);
    memcpy(p, s, n);
    return p;
}

/* "a/b/c.h5" -> "a/b", "c.h5" -> ".", "/c.h5" -> "/". */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return dup_str(".");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *dir = rv_malloc(n + 1);
    memcpy(dir, path, n);
    dir[n] = '\0';
    return dir;
}

static H5I_type_t object_kind(hid_t file, const char *name)
{
    hid_t obj = H5Oopen(file, name, H5P_DEFAULT);
    if (obj < 0)
        return H5I_BADID;
    H5I_type_t kind = H5Iget_type(obj);
    H5Oclose(obj);
    return kind;
}

/* 1 if the object exists, 0 if not, -1 if the file's groups cannot be read (damaged).
 * H5Lexists fails, rather than answering 0, when a parent is missing or is not a group, so each
 * prefix "a", "a/b", "a/b/c" is asked in turn; a failure below a group, or below a parent that
 * cannot be opened although its link exists, means damage.
 * "/" is the root and always exists. */
static int link_exists(hid_t file, const char *name)
{
    size_t n = strlen(name);
    if (n == 0)
        return 0;
    char *buf = dup_str(name);
    int found = 1;
    size_t parent = 0; /* length of the prefix already known to exist */
    for (size_t i = 1; found == 1 && i <= n; i++) {
        if ((buf[i] != '/' && buf[i] != '\0') || buf[i - 1] == '/')
            continue;
        char save = buf[i];
        buf[i] = '\0';
        htri_t r = H5Lexists(file, buf, H5P_DEFAULT);
        buf[i] = save;
        if (r > 0) {
            parent = i;
            continue;
        }
        found = 0;
        if (r < 0) {
            buf[parent] = '\0';
            H5I_type_t kind = object_kind(file, parent ? buf : "/");
            found = kind == H5I_GROUP || kind == H5I_BADID ? -1 : 0;
        }
    }
    free(buf);
    return found;
}

static size_t count_of(int ndim, const size_t *dims)
{
    size_t count = 1;
    for (int i = 0; i < ndim; i++)
        count *= dims[i];
    return count;
}

/* "(16,3,3,3)"; "()" for a scalar. */
static void format_shape(char *buf, size_t cap, int ndim, const size_t *dims)
{
    size_t used = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < ndim && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%zu", i ? "," : "", dims[i]);
    if (used < cap)
        snprintf(buf + used, cap - used, ")");
}

static hid_t utf8_string_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

/* File access shared by writer and reader: STRONG close releases any object still open, and
 * file locking is skipped (not failed) on file systems without it, such as some cluster mounts. */
static hid_t make_fapl(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
#if H5_VERSION_GE(1, 10, 7)
    H5Pset_file_locking(fapl, 1, 1);
#endif
    return fapl;
}

/* ---------------------------------------------------------------- writing */

static void free_out(struct h5out *f)
{
    if (f->file >= 0)
        H5Fclose(f->file);
    H5Pclose(f->lcpl);
    H5Pclose(f->ocpl);
    free(f->path);
    free(f->tmp);
    free(f);
}

struct h5out *h5out_create(const char *path, struct rv_error *err)
{
    REVIVE_ASSERT(path);
    quiet_hdf5();
    if (!*path) {
        rv_fail(err, "cannot create an HDF5 file with an empty name");
        return NULL;
    }
    char *dir = dir_of(path);
    struct stat st;
    int bad = 0;
    if (stat(dir, &st) != 0)
        bad = errno == ENOENT || errno == ENOTDIR
                  ? rv_fail(err, "%s: cannot create (directory %s does not exist)", path, dir)
                  : rv_fail(err, "%s: cannot create (directory %s: %s)", path, dir, strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        bad = rv_fail(err, "%s: cannot create (%s is not a directory)", path, dir);
    free(dir);
    if (bad)
        return NULL;

    size_t cap = strlen(path) + 32;
    char *tmp = rv_malloc(cap);
    snprintf(tmp, cap, "%s.tmp-%ld", path, (long)getpid());
    /* Probe with open(2): when HDF5 cannot create a file it does not say why (permissions,
     * read-only or full file system), and errno here does. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) {
        rv_fail(err, "%s: cannot create temporary file %s: %s", path, tmp, strerror(errno));
        free(tmp);
        return NULL;
    }
    close(fd);

    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_obj_track_times(fcpl, 0); /* the root group */
    hid_t fapl = make_fapl();
    hid_t file = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, fapl);
    H5Pclose(fapl);
    H5Pclose(fcpl);
    if (file < 0) {
        unlink(tmp);
        rv_fail(err, "%s: cannot create temporary HDF5 file %s", path, tmp);
        free(tmp);
        return NULL;
    }
    struct h5out *f = rv_calloc(1, sizeof *f);
    f->file = file;
    f->path = dup_str(path);
    f->tmp = tmp;
    f->lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(f->lcpl, 1);
    f->ocpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(f->ocpl, 0);
    return f;
}

/* Creates the dataset (and its parent groups) and writes data into it; takes space. */
static int write_dataset(struct h5out *f, const char *name, hid_t file_type, hid_t mem_type,
                         hid_t space, const void *data, struct rv_error *err)
{
    int rc = 0;
    hid_t dset = -1;
    if (link_exists(f->file, name) == 1)
        rc = rv_fail(err, "%s: dataset '%s' written twice", f->path, name);
    else if ((dset = H5Dcreate2(f->file, name, file_type, space, f->lcpl, f->ocpl, H5P_DEFAULT)) < 0)
        rc = rv_fail(err, "%s: cannot create dataset '%s' (is a parent of it a dataset?)", f->path,
                     name);
    if (dset >= 0) {
        /* HDF5 refuses a NULL buffer even for zero elements; there is nothing to write anyway. */
        int bad = H5Sget_simple_extent_npoints(space) > 0 &&
                  H5Dwrite(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0;
        if (H5Dclose(dset) < 0 || bad)
            rc = rv_fail(err, "%s: cannot write dataset '%s' to %s (disk full?)", f->path, name, f->tmp);
    }
    H5Sclose(space);
    return rc;
}

static int write_array(struct h5out *f, const char *name, enum elem e, const void *data, int ndim,
                       const size_t *dims, struct rv_error *err)
{
    REVIVE_ASSERT(f && name && ndim >= 0 && ndim <= H5IO_MAX_DIMS && (ndim == 0 || dims));
    REVIVE_ASSERT(data || count_of(ndim, dims) == 0);
    hsize_t hd[H5IO_MAX_DIMS];
    for (int i = 0; i < ndim; i++)
        hd[i] = dims[i];
    /* A zero extent is a valid simple dataspace (an empty history); rank 0 is a scalar. */
    hid_t space = ndim == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(ndim, hd, NULL);
    return write_dataset(f, name, elem_file_type(e), elem_mem_type(e), space, data, err);
}

int h5out_floats(struct h5out *f, const char *name, const float *data, int ndim, const size_t *dims,
                 struct rv_error *err)
{
    return write_array(f, name, ELEM_F32, data, ndim, dims, err);
}

int h5out_doubles(struct h5out *f, const char *name, const double *data, int ndim, const size_t *dims,
                  struct rv_error *err)
{
    return write_array(f, name, ELEM_F64, data, ndim, dims, err);
}

int h5out_int64s(struct h5out *f, const char *name, const int64_t *data, int ndim, const size_t *dims,
                 struct rv_error *err)
{
    return write_array(f, name, ELEM_I64, data, ndim, dims, err);
}

int h5out_bytes(struct h5out *f, const char *name, const uint8_t *data, int ndim, const size_t *dims,
                struct rv_error *err)
{
    return write_array(f, name, ELEM_U8, data, ndim, dims, err);
}

int h5out_string(struct h5out *f, const char *name, const char *text, struct rv_error *err)
{
    REVIVE_ASSERT(f && name);
    const char *value = text ? text : "";
    hid_t type = utf8_string_type();
    int rc = write_dataset(f, name, type, type, H5Screate(H5S_SCALAR), &value, err);
    H5Tclose(type);
    return rc;
}

/* A scalar attribute; writing one that exists replaces it, as h5py's attrs[key] = value does. */
static int write_attr(struct h5out *f, const char *object, const char *attr, hid_t file_type,
                      hid_t mem_type, const void *value, struct rv_error *err)
{
    REVIVE_ASSERT(f && object && attr);
    if (link_exists(f->file, object) != 1)
        return rv_fail(err, "%s: cannot set attribute '%s' on '%s': no such group or dataset",
                       f->path, attr, object);
    hid_t obj = H5Oopen(f->file, object, H5P_DEFAULT);
    if (obj < 0)
        return rv_fail(err, "%s: cannot open '%s' to set attribute '%s'", f->path, object, attr);
    if (H5Aexists(obj, attr) > 0)
        H5Adelete(obj, attr);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, attr, file_type, space, H5P_DEFAULT, H5P_DEFAULT);
    int rc = 0;
    if (a < 0 || H5Awrite(a, mem_type, value) < 0)
        rc = rv_fail(err, "%s: cannot write attribute '%s' on '%s'", f->path, attr, object);
    if (a >= 0 && H5Aclose(a) < 0 && rc == 0)
        rc = rv_fail(err, "%s: cannot write attribute '%s' on '%s'", f->path, attr, object);
    H5Sclose(space);
    H5Oclose(obj);
    return rc;
}

int h5out_attr_int(struct h5out *f, const char *object, const char *attr, int64_t value,
                   struct rv_error *err)
{
    return write_attr(f, object, attr, H5T_STD_I64LE, H5T_NATIVE_INT64, &value, err);
}

int h5out_attr_double(struct h5out *f, const char *object, const char *attr, double value,
                      struct rv_error *err)
{
    return write_attr(f, object, attr, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value, err);
}

int h5out_attr_string(struct h5out *f, const char *object, const char *attr, const char *value,
                      struct rv_error *err)
{
    const char *text = value ? value : "";
    hid_t type = utf8_string_type();
    int rc = write_attr(f, object, attr, type, type, &text, err);
    H5Tclose(type);
    return rc;
}

int h5out_group(struct h5out *f, const char *name, struct rv_error *err)
{
    REVIVE_ASSERT(f && name);
    if (link_exists(f->file, name) == 1) {
        if (object_kind(f->file, name) != H5I_GROUP)
            return rv_fail(err, "%s: cannot make group '%s': a dataset has that name", f->path, name);
        return 0;
    }
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    H5Pset_obj_track_times(gcpl, 0);
    hid_t g = H5Gcreate2(f->file, name, f->lcpl, gcpl, H5P_DEFAULT);
    H5Pclose(gcpl);
    if (g < 0)
        return rv_fail(err, "%s: cannot make group '%s' (is a parent of it a dataset?)", f->path, name);
    H5Gclose(g);
    return 0;
}

/* open + fsync + close; directories too (a rename is durable only once its directory is synced).
 * Some file systems cannot fsync a directory (EINVAL): nothing more can be done there. */
static int fsync_path(const char *path, int is_dir)
{
    int fd = open(path, is_dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    if (rc != 0 && is_dir && errno == EINVAL)
        rc = 0;
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int h5out_commit(struct h5out *f, struct rv_error *err)
{
    REVIVE_ASSERT(f);
    int rc = 0;
    if (H5Fflush(f->file, H5F_SCOPE_GLOBAL) < 0)
        rc = rv_fail(err, "%s: cannot flush temporary file %s (disk full?)", f->path, f->tmp);
    if (H5Fclose(f->file) < 0 && rc == 0)
        rc = rv_fail(err, "%s: cannot close temporary file %s (disk full?)", f->path, f->tmp);
    f->file = -1;
    if (rc == 0 && fsync_path(f->tmp, 0) != 0)
        rc = rv_fail(err, "%s: cannot sync temporary file %s: %s", f->path, f->tmp, strerror(errno));
    if (rc == 0 && rename(f->tmp, f->path) != 0)
        rc = rv_fail(err, "%s: cannot replace it with %s: %s", f->path, f->tmp, strerror(errno));
    if (rc) {
        unlink(f->tmp);
        free_out(f);
        return -1;
    }
    char *dir = dir_of(f->path);
    if (fsync_path(dir, 1) != 0)
        rc = rv_fail(err, "%s: written, but directory %s cannot be synced, so a crash may lose it: %s",
                     f->path, dir, strerror(errno));
    free(dir);
    free_out(f);
    return rc;
}

void h5out_discard(struct h5out *f)
{
    if (!f)
        return;
    if (f->file >= 0)
        H5Fclose(f->file);
    f->file = -1;
    unlink(f->tmp);
    free_out(f);
}

/* ---------------------------------------------------------------- reading */

struct h5in *h5in_open(const char *path, struct rv_error *err)
{
    REVIVE_ASSERT(path);
    quiet_hdf5();
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
    hid_t fapl = make_fapl();
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (file < 0) {
        rv_fail(err, "%s: cannot open: damaged or truncated HDF5 file; resume from another checkpoint",
                path);
        return NULL;
    }
    struct h5in *f = rv_calloc(1, sizeof *f);
    f->file = file;
    f->path = dup_str(path);
    return f;
}

void h5in_close(struct h5in *f)
{
    if (!f)
        return;
    H5Fclose(f->file);
    free(f->path);
    free(f);
}

const char *h5in_path(const struct h5in *f)
{
    return f->path;
}

int h5in_exists(struct h5in *f, const char *name)
{
    REVIVE_ASSERT(f && name);
    return link_exists(f->file, name) == 1;
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

static int open_dataset(struct h5in *f, const char *name, struct item *it, struct rv_error *err)
{
    REVIVE_ASSERT(f && name);
    *it = (struct item){.id = -1, .type = -1, .space = -1, .is_attr = 0};
    snprintf(it->what, sizeof it->what, "dataset '%s'", name);
    int found = link_exists(f->file, name);
    if (found == 0)
        return rv_fail(err, "%s: missing dataset '%s'; %s", f->path, name, STALE);
    if (found < 0 || (it->id = H5Oopen(f->file, name, H5P_DEFAULT)) < 0)
        return rv_fail(err, "%s: cannot open dataset '%s': damaged or truncated file", f->path, name);
    if (H5Iget_type(it->id) != H5I_DATASET) {
        H5Oclose(it->id);
        return rv_fail(err, "%s: '%s' is a group, not a dataset; %s", f->path, name, STALE);
    }
    return finish_open(f, it, err);
}

static int open_attr(struct h5in *f, const char *object, const char *attr, struct item *it,
                     struct rv_error *err)
{
    REVIVE_ASSERT(f && object && attr);
    *it = (struct item){.id = -1, .type = -1, .space = -1, .is_attr = 1};
    snprintf(it->what, sizeof it->what, "attribute '%s' of '%s'", attr, object);
    int found = link_exists(f->file, object);
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
static int type_fits(hid_t t, enum elem e)
{
    H5T_class_t cls = H5Tget_class(t);
    size_t size = H5Tget_size(t);
    H5T_sign_t sign = H5Tget_sign(t);
    switch (e) {
    case ELEM_F32: return cls == H5T_FLOAT && size == 4;
    case ELEM_F64: return cls == H5T_FLOAT && size == 8;
    case ELEM_I64: return cls == H5T_INTEGER && (size < 8 || (size == 8 && sign == H5T_SGN_2));
    case ELEM_U8: return cls == H5T_INTEGER && size == 1 && sign == H5T_SGN_NONE;
    }
    return 0;
}

/* e < 0 asks for a string. */
static int check_type(const struct h5in *f, const struct item *it, int e, struct rv_error *err)
{
    if (e < 0 ? H5Tget_class(it->type) == H5T_STRING : type_fits(it->type, (enum elem)e))
        return 0;
    char have[64];
    describe_type(it->type, have, sizeof have);
    return rv_fail(err, "%s: %s holds %s, expected %s; %s", f->path, it->what, have,
                   e < 0 ? "a string" : elem_name[e], STALE);
}

static int item_shape(const struct h5in *f, const struct item *it, int *ndim, size_t *dims,
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

static int read_array(struct h5in *f, const char *name, enum elem e, void *data, int ndim,
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
        rc = item_shape(f, &it, &have_ndim, have, err);
    if (rc == 0 && (have_ndim != ndim || (ndim > 0 && memcmp(have, dims, (size_t)ndim * sizeof *dims)))) {
        char hs[128], ws[128];
        format_shape(hs, sizeof hs, have_ndim, have);
        format_shape(ws, sizeof ws, ndim, dims);
        rc = rv_fail(err, "%s: dataset '%s' has shape %s, expected %s", f->path, name, hs, ws);
    }
    if (rc == 0 && count_of(ndim, dims) > 0) {
        REVIVE_ASSERT(data);
        if (read_item(&it, elem_mem_type(e), data) < 0)
            rc = rv_fail(err, "%s: cannot read dataset '%s': damaged or truncated file", f->path, name);
    }
    close_item(&it);
    return rc;
}

int h5in_floats(struct h5in *f, const char *name, float *data, int ndim, const size_t *dims,
                struct rv_error *err)
{
    return read_array(f, name, ELEM_F32, data, ndim, dims, err);
}

int h5in_doubles(struct h5in *f, const char *name, double *data, int ndim, const size_t *dims,
                 struct rv_error *err)
{
    return read_array(f, name, ELEM_F64, data, ndim, dims, err);
}

int h5in_int64s(struct h5in *f, const char *name, int64_t *data, int ndim, const size_t *dims,
                struct rv_error *err)
{
    return read_array(f, name, ELEM_I64, data, ndim, dims, err);
}

int h5in_bytes(struct h5in *f, const char *name, uint8_t *data, int ndim, const size_t *dims,
               struct rv_error *err)
{
    return read_array(f, name, ELEM_U8, data, ndim, dims, err);
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
            out = dup_str(p ? p : "");
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

/* Reads one value and closes the item; e < 0 reads a string into *(char **)value. */
static int read_scalar(const struct h5in *f, struct item *it, int e, void *value,
                       struct rv_error *err)
{
    int rc = check_type(f, it, e, err);
    if (rc == 0)
        rc = check_one(f, it, err);
    if (rc == 0) {
        int ok = e < 0 ? (*(char **)value = read_text(it)) != NULL
                       : read_item(it, elem_mem_type((enum elem)e), value) >= 0;
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
    return open_attr(f, object, attr, &it, err) ? -1 : read_scalar(f, &it, ELEM_I64, value, err);
}

int h5in_attr_double(struct h5in *f, const char *object, const char *attr, double *value,
                     struct rv_error *err)
{
    struct item it;
    return open_attr(f, object, attr, &it, err) ? -1 : read_scalar(f, &it, ELEM_F64, value, err);
}

int h5in_attr_string(struct h5in *f, const char *object, const char *attr, char **value,
                     struct rv_error *err)
{
    REVIVE_ASSERT(value);
    *value = NULL;
    struct item it;
    return open_attr(f, object, attr, &it, err) ? -1 : read_scalar(f, &it, -1, value, err);
}
