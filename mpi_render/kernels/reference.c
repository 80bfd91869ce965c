/*
 * reference.c -- the exact escape-time oracle of mpi-render: plain scalar C, one pixel at a time.
 *
 * Contract (every kernel of the project must reproduce it bit for bit):
 *
 *     for row j, column i:  c = cr[i] + i*ci[j]
 *     x = y = 0.0; n = 0
 *     while n < max_iter:
 *         x2 = x*x; y2 = y*y
 *         if x2 + y2 > 4.0: break
 *         t = x*y; y = (t + t) + ci; x = (x2 - y2) + cr
 *         n += 1
 *     count = n            (= min(escape iteration, max_iter))
 *
 * The brute force, with no shortcut: it is the oracle the kernels' exact shortcuts are checked
 * against.  Note the NaN behaviour this order implies: a NaN |z|^2 is not "> 4", so it does not
 * escape.
 *
 * Build with -ffp-contract=off (and never -ffast-math): gcc must not fuse a*b+c into an FMA, which
 * rounds once instead of twice and changes boundary pixels.  creference.py builds it as
 *     cc -O2 -ffp-contract=off -fPIC -shared -o LIB reference.c
 */
#include <stdint.h>

static uint32_t escape_count(double cr, double ci, uint32_t max_iter)
{
    double x = 0.0, y = 0.0;
    uint32_t n = 0;
    while (n < max_iter) {
        double x2 = x * x;
        double y2 = y * y;
        if (x2 + y2 > 4.0)
            break;
        double t = x * y;
        y = (t + t) + ci;
        x = (x2 - y2) + cr;
        n++;
    }
    return n;
}

/*
 * Counts of the width x height pixels c = cr[i] + i*ci[j] into out[j*width + i] (row-major, row 0
 * first).  Returns the sum of the counts (the number of iterations, for G-iter/s figures).
 */
uint64_t mr_reference_counts(const double *cr, const double *ci, int width, int height,
                             uint32_t max_iter, uint32_t *out)
{
    uint64_t sum = 0;
    for (int j = 0; j < height; j++) {
        for (int i = 0; i < width; i++) {
            uint32_t n = escape_count(cr[i], ci[j], max_iter);
            out[(int64_t)j * width + i] = n;
            sum += n;
        }
    }
    return sum;
}
