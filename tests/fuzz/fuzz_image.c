/* libFuzzer harness: the PNG reader (image_read_png_mem, what image_read_png runs on a file's
 * bytes) asked for each of its channel choices. Any input must end in 0 or a one-line error naming
 * the input; what reads must have positive sizes within the bounds and values in [0, 1].
 * `make fuzz` runs it; tests/fuzz/replay.c replays inputs without libFuzzer (make check).
 * Seeds: tests/data/png/ (every colour type and bit depth). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int want[3] = {0, 1, 3};
    for (int i = 0; i < 3; i++) {
        struct image im;
        struct rv_error err = {{0}};
        if (image_read_png_mem(&im, data, size, "fuzz.png", want[i], &err) == 0) {
            if (im.c < 1 || im.c > 4 || (want[i] && im.c != want[i]) || im.h < 1 || im.w < 1 ||
                im.h > IMAGE_MAX_SIDE || im.w > IMAGE_MAX_SIDE || (long)im.h * im.w > IMAGE_MAX_PIXELS)
                abort();
            for (size_t k = 0; k < (size_t)im.c * im.h * im.w; k++)
                if (!(im.v[k] >= 0.0f && im.v[k] <= 1.0f))
                    abort();
        } else if (im.v || strchr(err.msg, '\n') || !strstr(err.msg, "fuzz.png")) {
            abort(); /* an error leaves no image and is one line naming the input */
        }
        image_free(&im);
    }
    return 0;
}
