#!/usr/bin/python3
"""Reference values of tests/test_image.c's measurements from scikit-image and numpy, on the
test's fixed images (float32 values, measured as float64 copies). Usage, from the repository root:
    /usr/bin/python3 tests/tools/image_reference.py           prints the C #defines
"""
import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

MH, MW = 12, 10


def metric_images():
    y, x = np.mgrid[0:MH, 0:MW]
    a = (((x * 7 + y * 13) % 17) / np.float32(16)).astype(np.float32)
    b = (((x * 5 + y * 3 + x * y) % 11) / np.float32(10)).astype(np.float32)
    return a.astype(np.float64), b.astype(np.float64)


def main():
    a, b = metric_images()
    refs = {
        "REF_PSNR": peak_signal_noise_ratio(a, b, data_range=1.0),
        "REF_SSIM7": structural_similarity(a, b, win_size=7, data_range=1.0),
        "REF_SSIM3_R2": structural_similarity(a, b, win_size=3, data_range=2.0),
    }
    for k, v in refs.items():
        print(f"#define {k} {v!r}")


if __name__ == "__main__":
    main()
