/* Crafting revive's HDF5 files in the cmocka tests: changing a checkpoint on purpose (an
 * attribute, a string dataset), then recomputing what guards it (the user block's whole-file
 * CRC-32, the root attribute checksum), so that the check a test aims at is reached:
 *
 *   hid_t file = support_h5_open(path);
 *   support_h5_set_i64(file, "stats", "nstages", 9);
 *   support_h5_set_text(file, "stats/units", "stem\n");
 *   support_h5_close(file, path, -1);      closed, restamped (the file's own nstages)
 */
#ifndef REVIVE_TESTS_SUPPORT_H5_H
#define REVIVE_TESTS_SUPPORT_H5_H

#include <stddef.h>
#include <stdint.h>

#include <hdf5.h>

/* The file at path opened for writing (the test fails if it cannot be). */
hid_t support_h5_open(const char *path);
/* Closes file and restamps path (support_h5_restamp(path, nstages)). */
void support_h5_close(hid_t file, const char *path, int nstages);

/* Reads the whole file at path (malloc'd; its size into *n). */
unsigned char *support_slurp(const char *path, size_t *n);

/* Recomputes the user block's whole-file CRC-32 of a file that has one (a file without is left
 * as it is). */
void support_h5_restamp_file(const char *path);
/* That, and first the root attribute checksum of a checkpoint with nstages stage records
 * (nstages < 0: the file's own /stats nstages); left as it is where the file lacks the
 * checksum or what it covers cannot be read (the load then says why). */
void support_h5_restamp(const char *path, int nstages);

/* A fixed-length UTF-8 string type holding v and its NUL, as revive writes strings (format 3). */
hid_t support_h5_string_type(const char *v);
/* Attribute name of object replaced by a scalar one of the given type and value. */
void support_h5_set_attr(hid_t file, const char *object, const char *name, hid_t type, const void *v);
void support_h5_set_i64(hid_t file, const char *object, const char *name, int64_t v);
void support_h5_set_f64(hid_t file, const char *object, const char *name, double v);
void support_h5_set_str(hid_t file, const char *object, const char *name, const char *v);
/* The scalar string dataset name replaced by a fixed-length one holding text. */
void support_h5_set_text(hid_t file, const char *name, const char *text);

#endif
