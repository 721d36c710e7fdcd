/* Softmax cross-entropy over a rank's share of the batch.
 *
 * With z the logits of one image and M = max z (so every exp(z − M) <= 1: no overflow),
 *     loss = log Σ exp(z) − z[label] = M + log Σ exp(z − M) − z[label],
 *     ∂loss/∂z = softmax(z) − onehot(label),  softmax(z)_j = exp(z_j − M) / Σ exp(z − M).
 * Dividing by the global batch size makes the ranks' summed gradients that of the mean loss.
 *
 * With label smoothing ε over K classes (torch's CrossEntropyLoss(label_smoothing = ε)) the target
 * is q = (1 − ε)·onehot(label) + ε/K, and with lse = M + log Σ exp(z − M)
 *     loss = Σ_j q_j (lse − z_j) = lse − (1 − ε) z[label] − (ε/K) Σ_j z_j,
 *     ∂loss/∂z = softmax(z) − q.
 */
#include <math.h>
#include <stddef.h> /* error.h uses size_t without including it */

#include "error.h"
#include "layers.h"

double softmax_ce_forward_backward(float *dlogits, int *correct, const float *logits,
                                   const int *labels, int n, int classes, int scale_n)
{
    REVIVE_ASSERT(classes > 0 && scale_n > 0);
    double total = 0.0;
    int right = 0;
    double inv_scale = 1.0 / scale_n;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * classes;
        int y = labels[i];
        REVIVE_ASSERT(y >= 0 && y < classes);
        int best = 0; /* strict >: ties go to the lowest index */
        for (int j = 1; j < classes; j++)
            if (z[j] > z[best])
                best = j;
        right += best == y;
        double mx = z[best], s = 0.0;
        for (int j = 0; j < classes; j++)
            s += exp(z[j] - mx);
        total += mx + log(s) - z[y];
        if (dlogits) {
            float *d = dlogits + (size_t)i * classes;
            for (int j = 0; j < classes; j++)
                d[j] = (float)((exp(z[j] - mx) / s - (j == y)) * inv_scale);
        }
    }
    if (correct)
        *correct = right;
    return total;
}

double softmax_ce_smooth_forward_backward(float *dlogits, int *correct, const float *logits,
                                          const int *labels, int n, int classes, int scale_n,
                                          double eps)
{
    if (eps == 0.0) /* plain cross-entropy, to the bit */
        return softmax_ce_forward_backward(dlogits, correct, logits, labels, n, classes, scale_n);
    REVIVE_ASSERT(classes > 0 && scale_n > 0 && eps > 0.0 && eps <= 1.0);
    double total = 0.0;
    int right = 0;
    const double inv_scale = 1.0 / scale_n, spread = eps / classes, keep = 1.0 - eps;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * classes;
        int y = labels[i];
        REVIVE_ASSERT(y >= 0 && y < classes);
        int best = 0;
        for (int j = 1; j < classes; j++)
            if (z[j] > z[best])
                best = j;
        right += best == y;
        double mx = z[best], s = 0.0, zsum = 0.0;
        for (int j = 0; j < classes; j++) {
            s += exp(z[j] - mx);
            zsum += z[j];
        }
        double lse = mx + log(s);
        total += lse - keep * z[y] - spread * zsum;
        if (dlogits) {
            float *d = dlogits + (size_t)i * classes;
            for (int j = 0; j < classes; j++)
                d[j] = (float)((exp(z[j] - mx) / s - keep * (j == y) - spread) * inv_scale);
        }
    }
    if (correct)
        *correct = right;
    return total;
}
