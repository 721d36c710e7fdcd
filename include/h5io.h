/* HDF5 files written atomically and read with shape checks; the checkpoint layout is built on it.
 *
 *   struct h5out *f = h5out_create("checkpoints/run/stage-00.h5", &err);   writes a temporary file
 *   h5out_floats(f, "params/stem.conv.weight", w, 4, dims, &err);          groups made as needed
 *   h5out_attr_int(f, "/", "format_version", 1, &err);
 *   if (h5out_commit(f, &err)) ...        flush, fsync, rename over the target, fsync the directory
 *                                         (the file starts with a CRC-32 of the rest: h5in_open
 *                                         refuses a file that changed after it was written)
 *   (on any error: h5out_discard(f) removes the temporary file; the target is never touched)
 *
 *   struct h5in *g = h5in_open(path, &err);           a clear error for a missing/non-HDF5/damaged file
 *   h5in_floats(g, "params/stem.conv.weight", w, 4, dims, &err);   the stored shape must equal dims
 *   h5in_close(g);
 *
 * Every function returns 0 or -1 with a message naming the file and the dataset. HDF5's own
 * error stack printing is switched off: messages come from us.
 */
#ifndef REVIVE_H5IO_H
#define REVIVE_H5IO_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define H5IO_MAX_DIMS 4

struct h5out;
struct h5in;

struct h5out *h5out_create(const char *path, struct rv_error *err);
int h5out_floats(struct h5out *f, const char *name, const float *data, int ndim, const size_t *dims, struct rv_error *err);
int h5out_doubles(struct h5out *f, const char *name, const double *data, int ndim, const size_t *dims, struct rv_error *err);
int h5out_int64s(struct h5out *f, const char *name, const int64_t *data, int ndim, const size_t *dims, struct rv_error *err);
int h5out_bytes(struct h5out *f, const char *name, const uint8_t *data, int ndim, const size_t *dims, struct rv_error *err);
/* A scalar string dataset, fixed-length (exactly the text and its NUL), UTF-8: stored inline,
 * not in HDF5's global heap. h5py reads it (and string attributes) as bytes. */
int h5out_string(struct h5out *f, const char *name, const char *text, struct rv_error *err);
/* Attributes on an existing object ("/" for the file). */
int h5out_attr_int(struct h5out *f, const char *object, const char *attr, int64_t value, struct rv_error *err);
int h5out_attr_double(struct h5out *f, const char *object, const char *attr, double value, struct rv_error *err);
int h5out_attr_string(struct h5out *f, const char *object, const char *attr, const char *value, struct rv_error *err);
/* Makes the group (and parents) exist. */
int h5out_group(struct h5out *f, const char *name, struct rv_error *err);
/* Reads back what f holds so far (to checksum it); h5in_close it before committing f. */
struct h5in *h5out_reader(struct h5out *f);
int h5out_commit(struct h5out *f, struct rv_error *err); /* frees f */
void h5out_discard(struct h5out *f);                      /* frees f */

struct h5in *h5in_open(const char *path, struct rv_error *err);
void h5in_close(struct h5in *f);
const char *h5in_path(const struct h5in *f);
/* 1 when the file carries the whole-file CRC-32 h5out writes (and h5in_open found it intact);
 * 0 for files of older revives and other tools, which have none. */
int h5in_checked(const struct h5in *f);
/* From now on, a variable-length string (attribute or dataset) is an error naming it, raised
 * before HDF5 reads its value from the global heap: for file formats that hold fixed-length
 * strings only (checkpoint format 3 on), so a crafted file cannot reach the heap's bugs. */
void h5in_refuse_variable_strings(struct h5in *f);
/* From now on, every number (dataset or attribute) must be stored in exactly the type h5out
 * writes (IEEE float32/float64 and int64/uint8, little-endian: H5Tequal), else an error naming it,
 * raised before HDF5 converts anything (checkpoint format 2 on). Datasets filtered by anything but
 * Fletcher-32 (compression) are refused in every file: revive never writes them. */
void h5in_require_exact_types(struct h5in *f);
int h5in_exists(struct h5in *f, const char *name); /* dataset or group; 1/0 */
/* The number of members (links) of a group: what a count stored in the file is checked against. */
int h5in_members(struct h5in *f, const char *group, size_t *n, struct rv_error *err);
/* The stored shape: *ndim and dims[0..*ndim). */
int h5in_shape(struct h5in *f, const char *name, int *ndim, size_t *dims, struct rv_error *err);
/* Read a dataset whose shape must equal (ndim, dims); any mismatch is an error naming both. */
int h5in_floats(struct h5in *f, const char *name, float *data, int ndim, const size_t *dims, struct rv_error *err);
int h5in_doubles(struct h5in *f, const char *name, double *data, int ndim, const size_t *dims, struct rv_error *err);
int h5in_int64s(struct h5in *f, const char *name, int64_t *data, int ndim, const size_t *dims, struct rv_error *err);
int h5in_bytes(struct h5in *f, const char *name, uint8_t *data, int ndim, const size_t *dims, struct rv_error *err);
/* A string dataset; *text is malloc'd, caller frees. */
int h5in_string(struct h5in *f, const char *name, char **text, struct rv_error *err);
int h5in_attr_int(struct h5in *f, const char *object, const char *attr, int64_t *value, struct rv_error *err);
int h5in_attr_double(struct h5in *f, const char *object, const char *attr, double *value, struct rv_error *err);
/* 1 when object (a group, dataset or "/") has attribute attr; 0 otherwise. For attributes that
 * newer revives write and older files lack. */
int h5in_attr_exists(struct h5in *f, const char *object, const char *attr);
/* *value malloc'd. */
int h5in_attr_string(struct h5in *f, const char *object, const char *attr, char **value, struct rv_error *err);

#endif
