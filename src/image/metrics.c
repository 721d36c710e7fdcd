/* Image measurements (include/image.h): PSNR and SSIM as scikit-image computes them; spectra by
 * FFTW in single precision; gray-level histograms. Sums are in double; the inputs are float. */
#include <fftw3.h>
#include <math.h>
#include <stdlib.h>

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

/* ---- spectra (FFTW, single precision) ---- */

/* The power |F(ky, kx)|² of x minus its mean (so the DC term is 0), on FFTW's half plane: out is
 * h × (w/2 + 1) doubles; the caller owns it. FFTW's planner is not thread-safe, so planning and
 * destroying plans go through one OpenMP critical section; executing is safe. */
static double *half_power(const float *x, int h, int w)
{
    const int wc = w / 2 + 1;
    float *in = fftwf_malloc(sizeof(float) * (size_t)h * w);
    fftwf_complex *out = fftwf_malloc(sizeof(fftwf_complex) * (size_t)h * wc);
    REVIVE_ASSERT(in && out);
    fftwf_plan plan;
#pragma omp critical(revive_fftw_planner)
    plan = fftwf_plan_dft_r2c_2d(h, w, in, out, FFTW_ESTIMATE);
    REVIVE_ASSERT(plan);
    double mean = 0;
    for (size_t i = 0; i < (size_t)h * w; i++)
        mean += x[i];
    mean /= (double)h * w;
    for (size_t i = 0; i < (size_t)h * w; i++)
        in[i] = (float)(x[i] - mean);
    fftwf_execute(plan);
    double *p = rv_malloc(sizeof(double) * (size_t)h * wc);
    for (size_t i = 0; i < (size_t)h * wc; i++)
        p[i] = (double)out[i][0] * out[i][0] + (double)out[i][1] * out[i][1];
    p[0] = 0; /* the mean's residue after float rounding */
#pragma omp critical(revive_fftw_planner)
    fftwf_destroy_plan(plan);
    fftwf_free(in);
    fftwf_free(out);
    return p;
}

/* Frequency of index k of n in cycles per pixel, in (−1/2, 1/2]: k/n, or (k − n)/n above n/2. */
static double freq(int k, int n)
{
    return (k <= n / 2 ? k : k - n) / (double)n;
}

/* How many times column kx of the half plane stands in the full spectrum: twice, except column 0
 * and (w even) column w/2, which are their own mirror images. */
static double column_weight(int kx, int w)
{
    return kx == 0 || 2 * kx == w ? 1.0 : 2.0;
}

double image_spectral_share_above(const float *x, int h, int w, double cutoff)
{
    REVIVE_ASSERT(h >= 1 && w >= 1);
    const int wc = w / 2 + 1;
    double *p = half_power(x, h, w);
    double all = 0, above = 0;
    for (int ky = 0; ky < h; ky++)
        for (int kx = 0; kx < wc; kx++) {
            double e = column_weight(kx, w) * p[(size_t)ky * wc + kx];
            all += e;
            if (fmax(fabs(freq(ky, h)), fabs(freq(kx, w))) > cutoff)
                above += e;
        }
    free(p);
    return all > 0 ? above / all : 0.0;
}

void image_radial_spectrum(double *power, int nbins, const float *x, int h, int w)
{
    REVIVE_ASSERT(nbins >= 1 && h >= 1 && w >= 1);
    const int wc = w / 2 + 1;
    double *p = half_power(x, h, w);
    double *count = rv_calloc((size_t)nbins, sizeof(double));
    for (int b = 0; b < nbins; b++)
        power[b] = 0;
    for (int ky = 0; ky < h; ky++)
        for (int kx = 0; kx < wc; kx++) {
            if (ky == 0 && kx == 0)
                continue;
            double fy = freq(ky, h), fx = freq(kx, w);
            int b = (int)floor(sqrt(fy * fy + fx * fx) * 2.0 * nbins);
            if (b >= nbins)
                continue; /* the corners beyond 1/2 cycle per pixel */
            double k = column_weight(kx, w);
            power[b] += k * p[(size_t)ky * wc + kx] / ((double)h * w);
            count[b] += k;
        }
    for (int b = 0; b < nbins; b++)
        power[b] = count[b] > 0 ? power[b] / count[b] : 0.0;
    free(count);
    free(p);
}

double image_spectrum_distance(const double *pa, const double *pb, int nbins)
{
    REVIVE_ASSERT(nbins >= 1);
    double sum = 0;
    for (int b = 0; b < nbins; b++)
        sum += fabs(log10(pa[b] + IMAGE_SPECTRUM_FLOOR) - log10(pb[b] + IMAGE_SPECTRUM_FLOOR));
    return sum / nbins;
}

/* ---- gray-level histograms ---- */

/* The level of v among L: round(v (L − 1)), v clamped to [0, 1] (NaN to 0). */
static int level(float v, int levels)
{
    if (!(v > 0.0f))
        return 0;
    if (v >= 1.0f)
        return levels - 1;
    return (int)floor((double)v * (levels - 1) + 0.5);
}

double image_w1_gray(const float *a, size_t na, const float *b, size_t nb, int levels)
{
    REVIVE_ASSERT(na > 0 && nb > 0 && levels >= 2);
    double *count = rv_calloc(2 * (size_t)levels, sizeof(double)); /* a's levels, then b's */
    for (size_t i = 0; i < na; i++)
        count[level(a[i], levels)] += 1;
    for (size_t i = 0; i < nb; i++)
        count[levels + level(b[i], levels)] += 1;
    /* W1 on a line = the integral of |CDF_a − CDF_b|: constant between levels 1/(L − 1) apart. */
    double ca = 0, cb = 0, w1 = 0;
    for (int k = 0; k + 1 < levels; k++) {
        ca += count[k];
        cb += count[levels + k];
        w1 += fabs(ca / (double)na - cb / (double)nb);
    }
    free(count);
    return w1 / (levels - 1);
}
