/* Scratch directories for the cmocka tests; see support.h. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
