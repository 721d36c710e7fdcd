/* Helpers shared by the HDF5 writer (h5io_write.c) and reader (h5io_read.c); see h5io_internal.h.
 *
 * Files use only standard types (IEEE F32LE/F64LE, STD_I64LE, STD_U8LE, fixed-length NUL-terminated
 * UTF-8 strings, stored inline: no global heap) and the earliest file format, so h5py, h5dump and HDFView read them. Objects carry no
 * timestamps, so equal contents give equal bytes: two runs' checkpoints can be compared with cmp.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "error.h"
#include "h5io_internal.h"

/* HDF5's H5T_NATIVE_* are function calls in disguise, so they cannot sit in a static table. */
hid_t h5io_elem_mem_type(enum h5io_elem e)
{
    switch (e) {
    case H5IO_F32: return H5T_NATIVE_FLOAT;
    case H5IO_F64: return H5T_NATIVE_DOUBLE;
    case H5IO_I64: return H5T_NATIVE_INT64;
    case H5IO_U8: return H5T_NATIVE_UINT8;
    }
    return -1;
}

/* Like H5T_NATIVE_*, the H5T_IEEE_* and H5T_STD_* names are function calls in disguise. */
hid_t h5io_elem_file_type(enum h5io_elem e)
{
    switch (e) {
    case H5IO_F32: return H5T_IEEE_F32LE;
    case H5IO_F64: return H5T_IEEE_F64LE;
    case H5IO_I64: return H5T_STD_I64LE;
    case H5IO_U8: return H5T_STD_U8LE;
    }
    return -1;
}

/* Process-wide and idempotent: our messages replace HDF5's stack dumps on stderr. */
void h5io_quiet_hdf5(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

char *h5io_dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = rv_malloc(n);
    memcpy(p, s, n);
    return p;
}

H5I_type_t h5io_object_kind(hid_t file, const char *name)
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
int h5io_link_exists(hid_t file, const char *name)
{
    size_t n = strlen(name);
    if (n == 0)
        return 0;
    char *buf = h5io_dup_str(name);
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
            H5I_type_t kind = h5io_object_kind(file, parent ? buf : "/");
            found = kind == H5I_GROUP || kind == H5I_BADID ? -1 : 0;
        }
    }
    free(buf);
    return found;
}

void h5io_userblock_text(char *block, uint32_t crc, unsigned long long size)
{
    memset(block, 0, H5IO_USERBLOCK);
    snprintf(block, H5IO_USERBLOCK, "revive-hdf5 crc32 %08x size %llu\n", crc, size);
}

size_t h5io_count_of(int ndim, const size_t *dims)
{
    size_t count = 1;
    for (int i = 0; i < ndim; i++)
        count *= dims[i];
    return count;
}

/* File access shared by writer and reader: STRONG close releases any object still open, and
 * file locking is skipped (not failed) on file systems without it, such as some cluster mounts. */
hid_t h5io_make_fapl(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
#if H5_VERSION_GE(1, 10, 7)
    H5Pset_file_locking(fapl, 1, 1);
#endif
    return fapl;
}
