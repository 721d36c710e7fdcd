/* HDF5 files written atomically (see h5io.h): a temporary file, flushed, synced and renamed over
 * the target. The file format notes are in h5io_common.c.
 *
 * HDF5 builds the file in memory (the core driver, no backing store) and we write its image with
 * write(2) ourselves: a full disk or a quota is then an errno we report in one line, and HDF5
 * never holds a file whose close failed (its exit handler crashed on one: SIGSEGV at exit).
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

struct h5out {
    hid_t file;
    hid_t lcpl; /* link creation: missing parent groups are made on the way */
    hid_t ocpl; /* dataset creation: no timestamps */
    char *path; /* the target, untouched until commit */
    char *tmp;  /* "<path>.tmp-<pid>", renamed over path by commit */
};

/* "a/b/c.h5" -> "a/b", "c.h5" -> ".", "/c.h5" -> "/". */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return h5io_dup_str(".");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *dir = rv_malloc(n + 1);
    memcpy(dir, path, n);
    dir[n] = '\0';
    return dir;
}

/* A fixed-length, NUL-terminated UTF-8 string type exactly the size of text (its bytes and the
 * NUL), stored inline in the attribute or dataset: no variable-length strings, whose values live
 * in HDF5's global heap (HDF5 1.10.8 loops or overflows a buffer reading the heap of some
 * crafted files; docs/FUZZING.md). The caller closes it. */
static hid_t utf8_string_type(const char *text)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(text) + 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

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
    h5io_quiet_hdf5();
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
    /* Chunk indexes (B-trees) sized for the one or few chunks a dataset has: HDF5's default
     * nodes of 64 entries added ~2 kB to each dataset, a third more to a small checkpoint. */
    H5Pset_istore_k(fcpl, 2);
    H5Pset_userblock(fcpl, H5IO_USERBLOCK);
    hid_t fapl = h5io_make_fapl();
    H5Pset_fapl_core(fapl, (size_t)1 << 20, 0);
    /* The earliest file format, as before: HDF5 1.10.8 writes a wrong superblock checksum into
     * the in-memory image of a 1.8-format file (H5Fget_file_image), so the metadata checksums of
     * the newer formats are not available this way; the root attribute `checksum` covers the
     * attributes instead (checkpoint_layout.h). */
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
    f->path = h5io_dup_str(path);
    f->tmp = tmp;
    f->lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(f->lcpl, 1);
    f->ocpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(f->ocpl, 0);
    return f;
}

/* Dataset creation for space: arrays with data are chunked (chunks of at most 1 MiB, halving
 * the leading dimensions first) with the Fletcher-32 checksum filter, so a flipped bit in the
 * data is an error naming the dataset when it is read. Scalars and empty arrays stay contiguous
 * (HDF5 chunks neither); the caller closes the list. */
static hid_t dataset_plist(const struct h5out *f, hid_t space, hid_t file_type)
{
    hid_t dcpl = H5Pcopy(f->ocpl);
    int ndim = H5Sget_simple_extent_ndims(space);
    hsize_t dims[H5IO_MAX_DIMS];
    if (ndim < 1 || ndim > H5IO_MAX_DIMS || H5Sget_simple_extent_npoints(space) <= 0)
        return dcpl;
    H5Sget_simple_extent_dims(space, dims, NULL);
    double bytes = (double)H5Sget_simple_extent_npoints(space) * (double)H5Tget_size(file_type);
    for (int i = 0; i < ndim; i++)
        while (bytes > (double)(1 << 20) && dims[i] > 1) {
            hsize_t half = (dims[i] + 1) / 2;
            bytes = bytes / (double)dims[i] * (double)half;
            dims[i] = half;
        }
    H5Pset_chunk(dcpl, ndim, dims);
    H5Pset_fletcher32(dcpl);
    return dcpl;
}

/* Creates the dataset (and its parent groups) and writes data into it; takes space. */
static int write_dataset(struct h5out *f, const char *name, hid_t file_type, hid_t mem_type,
                         hid_t space, const void *data, struct rv_error *err)
{
    int rc = 0;
    hid_t dset = -1;
    hid_t dcpl = dataset_plist(f, space, file_type);
    if (h5io_link_exists(f->file, name) == 1)
        rc = rv_fail(err, "%s: dataset '%s' written twice", f->path, name);
    else if ((dset = H5Dcreate2(f->file, name, file_type, space, f->lcpl, dcpl, H5P_DEFAULT)) < 0)
        rc = rv_fail(err, "%s: cannot create dataset '%s' (is a parent of it a dataset?)", f->path,
                     name);
    if (dset >= 0) {
        /* HDF5 refuses a NULL buffer even for zero elements; there is nothing to write anyway. */
        int bad = H5Sget_simple_extent_npoints(space) > 0 &&
                  H5Dwrite(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0;
        if (H5Dclose(dset) < 0 || bad)
            rc = rv_fail(err, "%s: cannot write dataset '%s' to %s (disk full?)", f->path, name, f->tmp);
    }
    H5Pclose(dcpl);
    H5Sclose(space);
    return rc;
}

static int write_array(struct h5out *f, const char *name, enum h5io_elem e, const void *data,
                       int ndim, const size_t *dims, struct rv_error *err)
{
    REVIVE_ASSERT(f && name && ndim >= 0 && ndim <= H5IO_MAX_DIMS && (ndim == 0 || dims));
    REVIVE_ASSERT(data || h5io_count_of(ndim, dims) == 0);
    hsize_t hd[H5IO_MAX_DIMS];
    for (int i = 0; i < ndim; i++)
        hd[i] = dims[i];
    /* A zero extent is a valid simple dataspace (an empty history); rank 0 is a scalar. */
    hid_t space = ndim == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(ndim, hd, NULL);
    return write_dataset(f, name, h5io_elem_file_type(e), h5io_elem_mem_type(e), space, data, err);
}

int h5out_floats(struct h5out *f, const char *name, const float *data, int ndim, const size_t *dims,
                 struct rv_error *err)
{
    return write_array(f, name, H5IO_F32, data, ndim, dims, err);
}

int h5out_doubles(struct h5out *f, const char *name, const double *data, int ndim, const size_t *dims,
                  struct rv_error *err)
{
    return write_array(f, name, H5IO_F64, data, ndim, dims, err);
}

int h5out_int64s(struct h5out *f, const char *name, const int64_t *data, int ndim, const size_t *dims,
                 struct rv_error *err)
{
    return write_array(f, name, H5IO_I64, data, ndim, dims, err);
}

int h5out_bytes(struct h5out *f, const char *name, const uint8_t *data, int ndim, const size_t *dims,
                struct rv_error *err)
{
    return write_array(f, name, H5IO_U8, data, ndim, dims, err);
}

int h5out_string(struct h5out *f, const char *name, const char *text, struct rv_error *err)
{
    REVIVE_ASSERT(f && name);
    const char *value = text ? text : "";
    hid_t type = utf8_string_type(value);
    int rc = write_dataset(f, name, type, type, H5Screate(H5S_SCALAR), value, err);
    H5Tclose(type);
    return rc;
}

/* A scalar attribute; writing one that exists replaces it, as h5py's attrs[key] = value does. */
static int write_attr(struct h5out *f, const char *object, const char *attr, hid_t file_type,
                      hid_t mem_type, const void *value, struct rv_error *err)
{
    REVIVE_ASSERT(f && object && attr);
    if (h5io_link_exists(f->file, object) != 1)
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
    hid_t type = utf8_string_type(text);
    int rc = write_attr(f, object, attr, type, type, text, err);
    H5Tclose(type);
    return rc;
}

int h5out_group(struct h5out *f, const char *name, struct rv_error *err)
{
    REVIVE_ASSERT(f && name);
    if (h5io_link_exists(f->file, name) == 1) {
        if (h5io_object_kind(f->file, name) != H5I_GROUP)
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

/* The whole of buf into path (created by h5out_create), synced; errno explains a -1. */
static int write_image(const char *path, const char *buf, size_t n)
{
    int fd = open(path, O_WRONLY | O_TRUNC);
    if (fd < 0)
        return -1;
    for (size_t done = 0; done < n;) {
        ssize_t w = write(fd, buf + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int saved = w < 0 ? errno : ENOSPC;
            close(fd);
            errno = saved;
            return -1;
        }
        done += (size_t)w;
    }
    /* close reports what a network file system could not store */
    if (fsync(fd) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return close(fd);
}

int h5out_commit(struct h5out *f, struct rv_error *err)
{
    REVIVE_ASSERT(f);
    int rc = 0;
    /* The image HDF5 gives starts at the superblock: the user block goes before it. */
    char *image = NULL;
    ssize_t size = -1;
    if (H5Fflush(f->file, H5F_SCOPE_GLOBAL) >= 0 && (size = H5Fget_file_image(f->file, NULL, 0)) > 0) {
        image = rv_malloc((size_t)size + H5IO_USERBLOCK);
        if (H5Fget_file_image(f->file, image + H5IO_USERBLOCK, (size_t)size) != size)
            size = -1;
    }
    if (size <= 0)
        rc = rv_fail(err, "%s: cannot assemble the HDF5 file in memory", f->path);
    else
        h5io_userblock_text(image, (uint32_t)crc32(0, (const Bytef *)image + H5IO_USERBLOCK, (uInt)size),
                            (unsigned long long)size + H5IO_USERBLOCK);
    H5Fclose(f->file); /* in memory: nothing to fail on */
    f->file = -1;
    if (rc == 0 && write_image(f->tmp, image, (size_t)size + H5IO_USERBLOCK) != 0)
        rc = rv_fail(err, "%s: cannot write temporary file %s: %s; the file there before is untouched",
                     f->path, f->tmp, strerror(errno));
    free(image);
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

struct h5in *h5out_reader(struct h5out *f)
{
    REVIVE_ASSERT(f && f->file >= 0);
    return h5io_borrow_reader(f->file, f->path);
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
