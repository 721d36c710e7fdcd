/* What several cmocka tests need and nothing in the engine does: scratch directories, and the
 * comparison with a PyTorch reference script (tests/tools/torch_*.py). Such a test writes what
 * revive computed as raw float32 files into a scratch directory; the script recomputes it from
 * the same inputs and weights, compares, and exits non-zero on a difference:
 *
 *   support_need_python("torch, torchvision", "ResNet-18 not compared");   else skip()s
 *   struct support_ref r;
 *   support_ref_open(&r, "revive-torch-r18");
 *   support_ref_floats(&r, "x.bin", x, n);
 *   support_ref_params(&r, &m);                  params.txt: "name offset count" per parameter
 *   assert_int_equal(support_ref_run(&r, "torch_imagenet.py", "%d %d", N, C), 0);
 *   support_ref_close(&r);                       the directory removed
 */
#ifndef REVIVE_TESTS_SUPPORT_H
#define REVIVE_TESTS_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>

struct model;

/* Makes a fresh directory /tmp/<name>-XXXXXX into dir (cap bytes); 0 on success, -1 if not. */
int support_make_tmpdir(char *dir, size_t cap, const char *name);

/* Removes path and, if it is a directory, everything below it; a missing path is no error. */
void support_rm_rf(const char *path);

/* A cmocka fixture with a scratch directory, for a struct whose FIRST member is
 * `char dir[SUPPORT_DIR_LEN]`:
 *   struct fixture { char dir[SUPPORT_DIR_LEN]; struct comm comm; };
 *   support_dir_setup(state, sizeof(struct fixture), "test_x")   calloc'd, dir a fresh
 *                                 /tmp/test_x-XXXXXX; 0, or -1 (nothing left behind)
 *   cmocka_unit_test_setup_teardown(test_y, setup, support_dir_teardown)   removes dir, frees */
enum { SUPPORT_DIR_LEN = 64 };
int support_dir_setup(void **state, size_t size, const char *name);
int support_dir_teardown(void **state);

/* The entries of dir other than . and .. (the test fails if it cannot be read): their count,
 * and their names into names, separated by spaces. */
int support_dir_entries(const char *dir, char *names, size_t cap);

/* Skips the calling cmocka test (with a message saying what is not compared) unless
 * /usr/bin/python3 imports every module of the comma-separated list. */
void support_need_python(const char *modules, const char *not_compared);

struct support_ref {
    char dir[256]; /* the scratch directory the script reads */
};
/* A fresh scratch directory /tmp/<name>-XXXXXX (the test fails if it cannot be made). */
void support_ref_open(struct support_ref *r, const char *name);
/* n floats as the raw file dir/name (native float32). */
void support_ref_floats(struct support_ref *r, const char *name, const float *v, size_t n);
/* n doubles as the raw file dir/name (native float64). */
void support_ref_doubles(struct support_ref *r, const char *name, const double *v, size_t n);
/* dir/units.txt: each unit of m as "name running channels" (running: its offset into
 * m.running_stats, the means there, the variances after them). */
void support_ref_units(struct support_ref *r, const struct model *m);
/* dir/params.txt: each parameter of m as "name offset count", in m's order (offsets into m.values). */
void support_ref_params(struct support_ref *r, const struct model *m);
/* Runs /usr/bin/python3 tests/tools/<script> DIR followed by the arguments fmt gives; its exit
 * status (0: the script found revive's values within its tolerance). */
int support_ref_run(struct support_ref *r, const char *script, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A classifier against a reference script, the whole of it: n images drawn from
 * rng_normal(6, rng_stream(RNG_TEST, 8, 0, 0), i) and labels y; m (built for n images with
 * spec.input_grad) forward in training mode and backward from the mean softmax cross-entropy;
 * into a fresh /tmp/<name>-XXXXXX: values.bin, x.bin, logits.bin, dx.bin (the input gradient),
 * y.bin (labels as floats), loss.bin, params.txt and, with grads, grads.bin (m.grads); then
 * tests/tools/<script> DIR <the arguments fmt gives>. The test fails unless the script exits 0.
 * The directory is removed. */
void support_ref_check_classifier(struct model *m, const int *y, int n, const char *name,
                                  bool grads, const char *script, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
/* Removes the directory and everything in it. */
void support_ref_close(struct support_ref *r);

#endif
