/* Image measurements (include/image.h): PSNR and SSIM as scikit-image computes them. Sums are in
 * double; the inputs are float. */
#include <math.h>

#include "image.h"

double image_psnr(const float *a, const float *b, size_t n, double data_range)
{
    REVIVE_ASSERT(n > 0 && data_range > 0);
    double se = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        se += d * d;
    }
    return 10.0 * log10(data_range * data_range / (se / (double)n));
}

/* skimage.metrics.structural_similarity (0.19, gaussian_weights=False, use_sample_covariance=True):
 *   ux = mean of a over the window, uy likewise, uxx, uyy, uxy the means of a², b², ab;
 *   vx = N/(N−1) (uxx − ux²), vy likewise, vxy = N/(N−1) (uxy − ux uy), N = win²;
 *   S = (2 ux uy + C1)(2 vxy + C2) / ((ux² + uy² + C1)(vx + vy + C2));
 *   SSIM = the mean of S over the pixels whose window lies inside the image (skimage filters
 *   the whole image with uniform_filter, then crops (win − 1)/2 from every edge: the border's
 *   padded values never reach the mean).
 * Each window is summed directly (win² products a pixel), so no allocation. */
double image_ssim(const float *a, const float *b, int h, int w, int win, double data_range)
{
    REVIVE_ASSERT(win >= 3 && win % 2 == 1 && win <= h && win <= w && data_range > 0);
    const double np = (double)win * win, cov_norm = np / (np - 1.0);
    const double c1 = (0.01 * data_range) * (0.01 * data_range), c2 = (0.03 * data_range) * (0.03 * data_range);
    double total = 0;
    for (int y = 0; y + win <= h; y++)
        for (int x = 0; x + win <= w; x++) {
            double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
            for (int i = 0; i < win; i++) {
                const float *ra = a + (size_t)(y + i) * w + x, *rb = b + (size_t)(y + i) * w + x;
                for (int k = 0; k < win; k++) {
                    double p = ra[k], q = rb[k];
                    sx += p;
                    sy += q;
                    sxx += p * p;
                    syy += q * q;
                    sxy += p * q;
                }
            }
            double ux = sx / np, uy = sy / np;
            double vx = cov_norm * (sxx / np - ux * ux), vy = cov_norm * (syy / np - uy * uy);
            double vxy = cov_norm * (sxy / np - ux * uy);
            total += (2 * ux * uy + c1) * (2 * vxy + c2) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
        }
    return total / ((double)(h - win + 1) * (w - win + 1));
}
