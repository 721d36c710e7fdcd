/* Runs a fuzz harness's LLVMFuzzerTestOneInput on files, without libFuzzer, so that `make check`
 * replays the seed corpus and the regression inputs (tests/fuzz/regressions/) in the normal and
 * sanitizer builds:  replay FILE|DIR...   and, for the checkpoint harness,  replay --seeds DIR.
 * A crash or abort fails the run; each input's name is printed first so the culprit shows. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int fuzz_write_seeds(const char *dir) __attribute__((weak));

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return fprintf(stderr, "replay: cannot read %s\n", path), 1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    if (!buf || got != (size_t)n)
        return free(buf), fprintf(stderr, "replay: cannot read %s\n", path), 1;
    fprintf(stderr, "replay %s (%ld bytes)\n", path, n);
    LLVMFuzzerTestOneInput(buf, got);
    free(buf);
    return 0;
}

static int replay(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return fprintf(stderr, "replay: no such file or directory: %s\n", path), 1;
    if (!S_ISDIR(st.st_mode))
        return replay_file(path);
    DIR *d = opendir(path);
    struct dirent *e;
    int rc = 0;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        rc |= replay(sub);
    }
    if (d)
        closedir(d);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--seeds") == 0) {
        if (!fuzz_write_seeds)
            return 0; /* this harness's seeds are files (configs/) */
        return fuzz_write_seeds(argv[2]);
    }
    int rc = 0;
    for (int i = 1; i < argc; i++)
        rc |= replay(argv[i]);
    return rc;
}
