/* libFuzzer harness: the PNG reader (image_read_png_mem, what image_read_png runs on a file's
 * bytes). Any input must end in 0 or a one-line error naming the input; what reads must have
 * positive sizes within the bounds and the channels asked for, with values in [0, 1].
 * `make fuzz` runs it; tests/fuzz/replay.c replays inputs without libFuzzer (make check).
 * Seeds: tests/data/png/ (every colour type and bit depth, palette, tRNS, Adam7).
 *
 * Two threat models, as for checkpoints (docs/FUZZING.md): the input as it is (a damaged file:
 * a mutated chunk mostly stops at its CRC-32), read as stored; then a copy with every whole
 * chunk's CRC-32 recomputed (a crafted file: the maker of a file can always do that), read as
 * stored, as gray and as RGB, so mutated headers, palettes and compressed data reach libpng's
 * parsers and revive's conversions behind the CRC gate. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "image.h"

static void read_one(const uint8_t *data, size_t size, int want)
{
    struct image im;
    struct rv_error err = {{0}};
    if (image_read_png_mem(&im, data, size, "fuzz.png", want, &err) == 0) {
        if (im.c < 1 || im.c > 4 || (want && im.c != want) || im.h < 1 || im.w < 1 ||
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

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    read_one(data, size, 0);
    uint8_t *fixed = malloc(size ? size : 1);
    if (!fixed)
        return 0;
    memcpy(fixed, data, size);
    /* chunks after the 8-byte signature: length (4), type (4), data (length), CRC-32 of type + data */
    for (size_t at = 8; at + 12 <= size;) {
        uint32_t len = be32(fixed + at);
        if (len > size - at - 12)
            break;
        uint32_t crc = (uint32_t)crc32(0, fixed + at + 4, 4 + len);
        uint8_t *c = fixed + at + 8 + len;
        c[0] = (uint8_t)(crc >> 24), c[1] = (uint8_t)(crc >> 16), c[2] = (uint8_t)(crc >> 8), c[3] = (uint8_t)crc;
        at += 12 + (size_t)len;
    }
    for (int want = 0; want <= 3; want += want == 1 ? 2 : 1)
        read_one(fixed, size, want);
    free(fixed);
    return 0;
}
