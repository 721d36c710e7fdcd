#!/usr/bin/python3
"""Reference values of tests/test_image.c's measurements from scikit-image, numpy and scipy, on the
test's fixed images (float32 values, measured as float64 copies). The spectral measures are
written here from include/image.h's definitions with numpy's FFT (in double), independently of
src/image/metrics.c (FFTW in single precision). Usage, from the repository root:
    /usr/bin/python3 tests/tools/image_reference.py           prints the C #defines
    /usr/bin/python3 tests/tools/image_reference.py A.png B.png [A2.png B2.png ...]
        prints `pipeline image-metrics A.png B.png --format json`'s measurements as skimage, numpy
        and scipy give them, one JSON line a pair (tests/image.test.sh compares the two)
"""
import json
import sys

import numpy as np
from scipy.stats import wasserstein_distance
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

MH, MW = 12, 10


def metric_images():
    y, x = np.mgrid[0:MH, 0:MW]
    a = (((x * 7 + y * 13) % 17) / np.float32(16)).astype(np.float32)
    b = (((x * 5 + y * 3 + x * y) % 11) / np.float32(10)).astype(np.float32)
    return a.astype(np.float64), b.astype(np.float64)


def power(x):
    """|F|² of x minus its mean over the full plane, with the frequencies in cycles per pixel."""
    p = np.abs(np.fft.fft2(x - x.mean())) ** 2
    p[0, 0] = 0.0
    fy = np.fft.fftfreq(x.shape[0])[:, None] * np.ones((1, x.shape[1]))
    fx = np.fft.fftfreq(x.shape[1])[None, :] * np.ones((x.shape[0], 1))
    # fftfreq puts n/2 at -1/2; the C code at +1/2: only |f| matters
    return p, fy, fx


def share_above(x, cutoff):
    p, fy, fx = power(x)
    return p[np.maximum(np.abs(fy), np.abs(fx)) > cutoff].sum() / p.sum()


def radial(x, nbins):
    p, fy, fx = power(x)
    r = np.sqrt(fy ** 2 + fx ** 2)
    b = np.floor(r * 2 * nbins).astype(int)
    keep = (b < nbins)
    keep[0, 0] = False
    out = np.zeros(nbins)
    for k in range(nbins):
        m = keep & (b == k)
        out[k] = (p[m] / x.size).mean() if m.any() else 0.0
    return out


def spectrum_distance(pa, pb):
    return np.mean(np.abs(np.log10(pa + 1e-10) - np.log10(pb + 1e-10)))


def w1(a, b, levels):
    la = np.floor(np.clip(a, 0, 1) * (levels - 1) + 0.5)
    lb = np.floor(np.clip(b, 0, 1) * (levels - 1) + 0.5)
    return wasserstein_distance(la.ravel(), lb.ravel()) / (levels - 1)


def pair(path_a, path_b, win=7, cutoff=0.25, levels=256):
    """include/image.h's and src/cli/image_metrics.c's measurements of B against A."""
    from skimage import img_as_float, io
    from skimage.color import rgb2gray
    a, b = img_as_float(io.imread(path_a)), img_as_float(io.imread(path_b))
    rgb = a.ndim == 3 and b.ndim == 3

    def gray(x):
        return rgb2gray(x[..., :3]) if x.ndim == 3 else x
    if rgb:
        a, b = a[..., :3], b[..., :3]
    else:
        a, b = gray(a), gray(b)
    ga, gb = gray(a), gray(b)
    bins = max(min(a.shape[:2]) // 2, 1)
    ra, rb = radial(ga, bins), radial(gb, bins)
    return {
        "channels": 3 if rgb else 1,
        "psnr": peak_signal_noise_ratio(a, b, data_range=1.0),
        "ssim": structural_similarity(a, b, win_size=win, data_range=1.0,
                                      channel_axis=2 if rgb else None),
        "share_above_a": share_above(ga, cutoff),
        "share_above_b": share_above(gb, cutoff),
        "spectrum_distance": spectrum_distance(ra, rb),
        "w1_gray": w1(ga, gb, levels),
    }


def main():
    if len(sys.argv) > 1:
        for i in range(1, len(sys.argv) - 1, 2):
            print(json.dumps({k: float(v) for k, v in pair(sys.argv[i], sys.argv[i + 1]).items()}))
        return
    a, b = metric_images()
    ra, rb = radial(a, 5), radial(b, 5)
    q8a, q8b = np.round(a * 255) / 255, np.round(b * 255) / 255
    refs = {
        "REF_PSNR": peak_signal_noise_ratio(a, b, data_range=1.0),
        "REF_SSIM7": structural_similarity(a, b, win_size=7, data_range=1.0),
        "REF_SSIM3_R2": structural_similarity(a, b, win_size=3, data_range=2.0),
        "REF_SHARE_A_025": share_above(a, 0.25),
        "REF_SHARE_B_01": share_above(b, 0.1),
        "REF_SHARE_ODD_025": share_above(a[:9, :7], 0.25),
        "REF_RADIAL_A": "{" + ", ".join(repr(v) for v in ra) + "}",
        "REF_RADIAL_ODD": "{" + ", ".join(repr(v) for v in radial(b[:9, :7], 3)) + "}",
        "REF_SPECTRUM_DIST": spectrum_distance(ra, rb),
        "REF_W1_11": w1(a, b, 11),
        "REF_W1_256": w1(a, b, 256),
        # 8-bit values, 256 levels: scipy's W1 of the raw values themselves
        "REF_W1_8BIT": wasserstein_distance(q8a.ravel(), q8b.ravel()),
    }
    for k, v in refs.items():
        print(f"#define {k} {v if isinstance(v, str) else repr(float(v))}")


if __name__ == "__main__":
    main()
