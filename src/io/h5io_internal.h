/* Private to src/io/h5io_*.c: what the writer (h5io_write.c) and the reader (h5io_read.c) share.
 * The helpers are defined in h5io_common.c; h5io.h is the public interface.
 */
#ifndef REVIVE_H5IO_INTERNAL_H
#define REVIVE_H5IO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <hdf5.h>

enum h5io_elem { H5IO_F32, H5IO_F64, H5IO_I64, H5IO_U8 };

/* The native memory type of e. */
hid_t h5io_elem_mem_type(enum h5io_elem e);
/* The one file type h5out writes for e (little-endian IEEE or two's complement), which a reader
 * with exact types requires. */
hid_t h5io_elem_file_type(enum h5io_elem e);
/* Process-wide and idempotent: our messages replace HDF5's stack dumps on stderr. */
void h5io_quiet_hdf5(void);
/* A malloc'd copy of s (aborts when out of memory, like rv_malloc). */
char *h5io_dup_str(const char *s);
/* H5I_GROUP, H5I_DATASET, ..., or H5I_BADID when name cannot be opened. */
H5I_type_t h5io_object_kind(hid_t file, const char *name);
/* 1 if the object exists, 0 if not, -1 if the file's groups cannot be read (damaged). */
int h5io_link_exists(hid_t file, const char *name);
/* The number of elements in a (ndim, dims) array; 1 for a scalar (ndim == 0). */
size_t h5io_count_of(int ndim, const size_t *dims);
/* Every file h5out writes starts with a user block (bytes HDF5 leaves to the application) that
 * holds a CRC-32 of the rest of the file and its size, as the text
 *   "revive-hdf5 crc32 XXXXXXXX size N\n"  padded with zero bytes to H5IO_USERBLOCK.
 * h5in_open checks it before HDF5 parses anything, so a damaged file never reaches HDF5's
 * parsers (which can loop forever on some damaged structures). */
#define H5IO_USERBLOCK 512
void h5io_userblock_text(char *block, uint32_t crc, unsigned long long size);

/* A reader over a file open for writing (h5out_reader); h5in_close leaves the file open. */
struct h5in *h5io_borrow_reader(hid_t file, const char *path);
/* A file access property list for H5Fcreate/H5Fopen; the caller closes it. */
hid_t h5io_make_fapl(void);

#endif
