/* Scratch directories and PyTorch reference runs for the cmocka tests; see support.h. */
#include <dirent.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "loss.h"
#include "model.h"
#include "rng.h"
#include "support.h"

int support_make_tmpdir(char *dir, size_t cap, const char *name)
{
    int len = snprintf(dir, cap, "/tmp/%s-XXXXXX", name);
    if (len < 0 || (size_t)len >= cap)
        return -1;
    return mkdtemp(dir) ? 0 : -1;
}

void support_rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        unlink(path);
        return;
    }
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char child[1024];
            snprintf(child, sizeof child, "%s/%s", path, e->d_name);
            support_rm_rf(child);
        }
        closedir(d);
    }
    rmdir(path);
}

int support_dir_setup(void **state, size_t size, const char *name)
{
    char *fx = calloc(1, size); /* its first member is char dir[SUPPORT_DIR_LEN] */
    if (!fx)
        return -1;
    if (support_make_tmpdir(fx, SUPPORT_DIR_LEN, name)) {
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

int support_dir_teardown(void **state)
{
    char *dir = *state;
    support_rm_rf(dir);
    free(dir);
    return 0;
}

int support_dir_entries(const char *dir, char *names, size_t cap)
{
    int n = 0;
    names[0] = '\0';
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        size_t used = strlen(names);
        snprintf(names + used, cap - used, "%s%s", n ? " " : "", e->d_name);
        n++;
    }
    closedir(d);
    return n;
}

void support_need_python(const char *modules, const char *not_compared)
{
    char cmd[512], names[256];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c 'import %s' 2>/dev/null", modules);
    if (system(cmd) == 0)
        return;
    /* "torch, h5py" → "torch or h5py" */
    size_t o = 0;
    for (const char *p = modules; *p && o + 4 < sizeof names;) {
        if (p[0] == ',' && p[1] == ' ') {
            o += (size_t)snprintf(names + o, sizeof names - o, " or ");
            p += 2;
        } else {
            names[o++] = *p++;
        }
    }
    names[o] = '\0';
    print_message("SKIP: /usr/bin/python3 has no %s: %s\n", names, not_compared);
    skip();
}

void support_ref_open(struct support_ref *r, const char *name)
{
    assert_int_equal(support_make_tmpdir(r->dir, sizeof r->dir, name), 0);
}

static FILE *ref_file(struct support_ref *r, const char *name, const char *mode)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", r->dir, name);
    FILE *f = fopen(path, mode);
    assert_non_null(f);
    return f;
}

void support_ref_floats(struct support_ref *r, const char *name, const float *v, size_t n)
{
    FILE *f = ref_file(r, name, "wb");
    assert_int_equal(fwrite(v, sizeof(float), n, f), n);
    assert_int_equal(fclose(f), 0);
}

void support_ref_doubles(struct support_ref *r, const char *name, const double *v, size_t n)
{
    FILE *f = ref_file(r, name, "wb");
    assert_int_equal(fwrite(v, sizeof(double), n, f), n);
    assert_int_equal(fclose(f), 0);
}

void support_ref_units(struct support_ref *r, const struct model *m)
{
    FILE *f = ref_file(r, "units.txt", "w");
    for (int u = 0; u < m->nunits; u++)
        fprintf(f, "%s %zu %d\n", m->units[u].name, m->units[u].running, m->units[u].channels);
    assert_int_equal(fclose(f), 0);
}

void support_ref_params(struct support_ref *r, const struct model *m)
{
    FILE *f = ref_file(r, "params.txt", "w");
    for (int p = 0; p < m->nparams; p++)
        fprintf(f, "%s %zu %zu\n", m->params[p].name, m->params[p].offset, m->params[p].count);
    assert_int_equal(fclose(f), 0);
}

int support_ref_run(struct support_ref *r, const char *script, const char *fmt, ...)
{
    char cmd[1024], args[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    int len = snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/tools/%s %s %s", script, r->dir, args);
    assert_true(len > 0 && (size_t)len < sizeof cmd);
    return system(cmd);
}

/* A classifier's step for the reference: m (built for n images with spec.input_grad) forward in
 * training mode on x (n images, xn floats in all) and backward from the mean softmax
 * cross-entropy against labels y; writes values.bin, x.bin, logits.bin, dx.bin (the input
 * gradient), y.bin (labels as floats), loss.bin and params.txt. m.grads holds the gradients. */
static void ref_classifier(struct support_ref *r, struct model *m, const float *x, size_t xn,
                           const int *y, int n)
{
    struct loss ce;
    loss_softmax_ce(&ce, m);
    model_zero_grad(m);
    model_forward(m, x, n, true, NULL);
    float loss = (float)(ce.apply(&ce, m, n, n, y) / n);
    model_backward(m, n, NULL);
    float *yl = malloc((size_t)n * sizeof *yl);
    assert_non_null(yl);
    for (int i = 0; i < n; i++)
        yl[i] = (float)y[i];
    support_ref_floats(r, "values.bin", m->values, m->total);
    support_ref_floats(r, "x.bin", x, xn);
    support_ref_floats(r, "logits.bin", m->logits, (size_t)n * m->spec.classes);
    support_ref_floats(r, "dx.bin", m->d_x, xn);
    support_ref_floats(r, "y.bin", yl, (size_t)n);
    support_ref_floats(r, "loss.bin", &loss, 1);
    support_ref_params(r, m);
    free(yl);
}

void support_ref_check_classifier(struct model *m, const int *y, int n, const char *name,
                                  bool grads, const char *script, const char *fmt, ...)
{
    char args[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    size_t xn = (size_t)n * m->spec.in_c * m->spec.in_h * m->spec.in_w;
    float *x = malloc(xn * sizeof(float));
    assert_non_null(x);
    for (size_t i = 0; i < xn; i++)
        x[i] = rng_normal(6, rng_stream(RNG_TEST, 8, 0, 0), i);
    struct support_ref r;
    support_ref_open(&r, name);
    ref_classifier(&r, m, x, xn, y, n);
    if (grads)
        support_ref_floats(&r, "grads.bin", m->grads, m->total);
    int rc = support_ref_run(&r, script, "%s", args);
    support_ref_close(&r);
    free(x);
    assert_int_equal(rc, 0);
}

void support_ref_close(struct support_ref *r)
{
    support_rm_rf(r->dir);
}
