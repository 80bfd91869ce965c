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
 * Smooth-colour data (mpi_render/escape.py): after an escape at count < max_iter the same loop
 * goes on from the escape state until x*x + y*y > SMOOTH_R2 or SMOOTH_MAX_EXTRA more iterations;
 * extra is how many it ran and r2 = x*x + y*y there.  A pixel at max_iter gets extra 0, r2 0.0.
 *
 * Build with -ffp-contract=off (and never -ffast-math): gcc must not fuse a*b+c into an FMA, which
 * rounds once instead of twice and changes boundary pixels.  creference.py builds it as
 *     cc -O2 -ffp-contract=off -fPIC -shared -o LIB reference.c
 */
#include <stddef.h>
#include <stdint.h>

#define SMOOTH_R2 65536.0     /* mpi_render/escape.py */
#define SMOOTH_MAX_EXTRA 64

/* The count of c = cr + i*ci; with extra and r2 not NULL, the smooth-colour data too. */
static uint32_t escape_count(double cr, double ci, uint32_t max_iter, uint8_t *extra, double *r2)
{
    double x = 0.0, y = 0.0, x2 = 0.0, y2 = 0.0;
    uint32_t n = 0;
    while (n < max_iter) {
        x2 = x * x;
        y2 = y * y;
        if (x2 + y2 > 4.0)
            break;
        double t = x * y;
        y = (t + t) + ci;
        x = (x2 - y2) + cr;
        n++;
    }
    if (extra == NULL)
        return n;
    if (n == max_iter) {
        *extra = 0;
        *r2 = 0.0;
        return n;
    }
    int m = 0;
    while (!(x2 + y2 > SMOOTH_R2) && m < SMOOTH_MAX_EXTRA) {
        double t = x * y;
        y = (t + t) + ci;
        x = (x2 - y2) + cr;
        x2 = x * x;
        y2 = y * y;
        m++;
    }
    *extra = (uint8_t)m;
    *r2 = x2 + y2;
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
            uint32_t n = escape_count(cr[i], ci[j], max_iter, NULL, NULL);
            out[(int64_t)j * width + i] = n;
            sum += n;
        }
    }
    return sum;
}

/*
 * mr_reference_counts, and the smooth-colour data of each pixel into extra[] and r2[] (same
 * layout as out[]).
 */
uint64_t mr_reference_escape(const double *cr, const double *ci, int width, int height,
                             uint32_t max_iter, uint32_t *out, uint8_t *extra, double *r2)
{
    uint64_t sum = 0;
    for (int j = 0; j < height; j++) {
        for (int i = 0; i < width; i++) {
            int64_t k = (int64_t)j * width + i;
            uint32_t n = escape_count(cr[i], ci[j], max_iter, &extra[k], &r2[k]);
            out[k] = n;
            sum += n;
        }
    }
    return sum;
}
