/* libFuzzer harness: the config loader (config_load_string, the entry point behind config_load
 * and a checkpoint's stored config), then the cross-key checks and the INI round trip of what
 * loaded. Any input must end in 0 or a one-line error; never a crash or a leak.
 * `make fuzz` runs it; tests/fuzz/replay.c replays inputs without libFuzzer (make check). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct config c;
    struct rv_error err = {{0}};
    config_defaults(&c);
    if (config_load_string(&c, text, "fuzz.ini", &err) == 0 && config_validate(&c, &err) == 0) {
        /* What loads must write out as INI that loads again to the same struct. */
        char *ini = config_to_ini(&c), *again = NULL;
        struct config back;
        config_defaults(&back);
        if (config_load_string(&back, ini, "round-trip", &err) != 0 ||
            strcmp(again = config_to_ini(&back), ini) != 0)
            abort();
        free(again);
        free(ini);
    }
    if (strchr(err.msg, '\n'))
        abort(); /* messages are one line */
    free(text);
    return 0;
}
