/*
 * yardstick.c -- the benchmark's fast C yardstick: vectorised brute-force escape counts, one thread.
 *
 * Counts are bit-identical to mpi_render/kernels/reference.c (the contract is stated there): every
 * lane runs the reference's operations in the same order, 4 doubles per vector (GCC vector
 * extensions; AVX2 + FMA with -march=native).  The only FMA is the explicit fma(t, 2, ci), which
 * equals (t + t) + ci exactly.  A lane keeps iterating after it escaped (its x, y may grow to inf
 * or NaN), so each lane has a sticky active mask and its own counter, which counts only the
 * iterations whose escape test passed while the lane was still active.  The test is
 * "not (x2 + y2 > 4)", so a NaN behaves as in the reference.
 *
 * Kernels:
 *   0 = g4 (group): 4 independent vectors interleaved = 16 adjacent pixels of a row; the group
 *       iterates, testing every KG iterations, until all 16 escaped or max_iter is reached.
 *   1 = r8 (refill): 8 vectors = 32 lanes walk the pixels in row-major order; every K
 *       iterations each lane that escaped or reached max_iter writes its count and takes the
 *       next pixel, so no lane idles while a slow neighbour iterates.
 * precheck != 0: pixels inside the main cardioid or period-2 bulb get max_iter without iterating
 * (g4 starts them inactive, r8 skips them in its queue), with the same test as reference.c.
 *
 * Build: cc -O3 -march=native -mprefer-vector-width=256 -ffp-contract=off -fPIC -shared
 * (-ffp-contract=off is required: an implicit FMA changes boundary pixels).  No OpenMP.
 */
#include <stdint.h>
#include <string.h>
#if defined(__AVX__)
#include <immintrin.h>
#endif

typedef double v4d __attribute__((vector_size(32)));
typedef int64_t v4i __attribute__((vector_size(32)));

/* K: r8's refill interval; KG: how often g4 tests for "all escaped" (measured best of 1/4/8/16). */
enum { K = 16, KG = 4, G4 = 4, R8 = 8 };

static int in_main_bulbs(double x, double y)
{
    double xq = x - 0.25;
    double y2 = y * y;
    double q = xq * xq + y2;
    if (q * (q + xq) <= 0.25 * y2)
        return 1;
    double xp = x + 1.0;
    return xp * xp + y2 <= 0.0625;
}

/* (t + t) + c, exactly: 2t is exact, so the fused form rounds once, at the same place. */
static inline v4d twice_plus(v4d t, v4d c)
{
#if defined(__FMA__)
    return (v4d)_mm256_fmadd_pd((__m256d)t, _mm256_set1_pd(2.0), (__m256d)c);
#else
    return (t + t) + c;
#endif
}

/* Bit k set when lane k of the mask is set. */
static inline uint32_t lane_bits(v4i mask)
{
#if defined(__AVX__)
    return (uint32_t)_mm256_movemask_pd((__m256d)mask);
#else
    return (uint32_t)((mask[0] & 1) | (mask[1] & 2) | (mask[2] & 4) | (mask[3] & 8));
#endif
}

static inline v4d select_pd(v4i mask, v4d yes, v4d no)
{
    return (v4d)(((v4i)yes & mask) | ((v4i)no & ~mask));
}

/* len iterations of nv vectors (inlined with constant nv, so the vectors live in registers). */
static inline __attribute__((always_inline)) void
iterate(int nv, uint32_t len, v4d *restrict x, v4d *restrict y, const v4d *restrict cr,
        const v4d *restrict ci, v4i *restrict active, v4i *restrict n)
{
    const v4d four = {4.0, 4.0, 4.0, 4.0};
    for (uint32_t k = 0; k < len; k++) {
        for (int v = 0; v < nv; v++) {
            v4d x2 = x[v] * x[v];
            v4d y2 = y[v] * y[v];
            active[v] &= ~(x2 + y2 > four);
            n[v] -= active[v];
            v4d t = x[v] * y[v];
            y[v] = twice_plus(t, ci[v]);
            x[v] = (x2 - y2) + cr[v];
        }
    }
}

/* One vector of a g4 group: c = a[i..i+3], lanes at or past end are 0 (and will be inactive). */
static inline v4d load_lanes(const double *a, int i, int end)
{
    v4d c;
    if (i + 4 <= end) {
        memcpy(&c, a + i, sizeof c);
        return c;
    }
    return (v4d){i < end ? a[i] : 0.0, i + 1 < end ? a[i + 1] : 0.0, i + 2 < end ? a[i + 2] : 0.0, 0.0};
}

/* Which lanes of a g4 vector iterate: those inside the row and, with precheck, outside the bulbs. */
static inline v4i start_mask(v4d c, double ci, int lanes, int precheck)
{
    v4i mask = (v4i){0, 1, 2, 3} < (v4i){lanes, lanes, lanes, lanes};
    if (precheck)
        mask &= (v4i){in_main_bulbs(c[0], ci) - 1, in_main_bulbs(c[1], ci) - 1,
                      in_main_bulbs(c[2], ci) - 1, in_main_bulbs(c[3], ci) - 1};
    return mask;
}

/* g4: rows of 16-pixel groups; a group stops when none of its lanes is active. */
static uint64_t group_g4(const double *cr, const double *ci, int width, int height,
                         uint32_t max_iter, int precheck, uint32_t *out)
{
    enum { L = 4 * G4 };
    uint64_t sum = 0;
    for (int j = 0; j < height; j++) {
        uint32_t *row = out + (int64_t)j * width;
        v4d vci[G4];
        for (int v = 0; v < G4; v++)
            vci[v] = (v4d){0} + ci[j];
        for (int i0 = 0; i0 < width; i0 += L) {
            int lanes = width - i0 < L ? width - i0 : L;
            v4d x[G4] = {0}, y[G4] = {0}, vcr[G4];
            v4i active[G4], start[G4], n[G4] = {0};
            for (int v = 0; v < G4; v++) {
                vcr[v] = load_lanes(cr, i0 + 4 * v, width);
                start[v] = active[v] = start_mask(vcr[v], ci[j], lanes - 4 * v, precheck);
            }
            v4i any = start[0] | start[1] | start[2] | start[3];
            for (uint32_t it = 0; it < max_iter && lane_bits(any);) {
                uint32_t len = max_iter - it < KG ? max_iter - it : KG;
                if (len == KG)
                    iterate(G4, KG, x, y, vcr, vci, active, n);
                else
                    iterate(G4, len, x, y, vcr, vci, active, n);
                it += len;
                any = active[0] | active[1] | active[2] | active[3];
            }
            int64_t count[L], iterated[L];
            memcpy(count, n, sizeof count);
            memcpy(iterated, start, sizeof iterated);
            for (int l = 0; l < lanes; l++) {
                row[i0 + l] = iterated[l] ? (uint32_t)count[l] : max_iter;
                sum += row[i0 + l];
            }
        }
    }
    return sum;
}

/* The refill kernel's pixel queue: row-major order, precheck pixels answered on the way. */
typedef struct {
    const double *cr, *ci;
    int width, height, i, j, precheck;
    uint32_t max_iter, *out;
    uint64_t sum;
} queue_t;

/* Next pixel to iterate (its index into out, or -1 when none is left); sets *c_re, *c_im. */
static inline int64_t next_pixel(queue_t *q, double *c_re, double *c_im)
{
    while (q->j < q->height) {
        int64_t p = (int64_t)q->j * q->width + q->i;
        *c_re = q->cr[q->i];
        *c_im = q->ci[q->j];
        if (++q->i == q->width) {
            q->i = 0;
            q->j++;
        }
        if (!(q->precheck && in_main_bulbs(*c_re, *c_im)))
            return p;
        q->out[p] = q->max_iter;
        q->sum += q->max_iter;
    }
    return -1;
}

/*
 * r8: 32 lanes; after each block of K iterations, finished lanes write their count and load the
 * next pixel.  x, y, active and n stay in registers as whole vectors; the lanes' c lives in
 * memory, written one lane at a time, and is read as vectors by the next block (the few
 * store-forwarding stalls this costs overlap with the other vectors' work).  The refill loop
 * walks the set bits of one 32-bit mask: one hard-to-predict branch per block, not per lane.
 */
static uint64_t refill_r8(const double *cr, const double *ci, int width, int height,
                          uint32_t max_iter, int precheck, uint32_t *out)
{
    enum { L = 4 * R8 };
    queue_t q = {cr, ci, width, height, 0, 0, precheck, max_iter, out, 0};
    v4d x[R8] = {0}, y[R8] = {0}, vcr[R8], vci[R8];
    v4i active[R8] = {0}, n[R8] = {0}, done[R8];
    double lane_cr[L] = {0}, lane_ci[L] = {0};
    int64_t lane_n[L], pixel[L];
    const int64_t cap = max_iter;
    const v4i capv = {cap, cap, cap, cap}, nearv = {cap - K, cap - K, cap - K, cap - K};
    for (int l = 0; l < L; l++)
        pixel[l] = -1;
    for (;;) {
        uint32_t bits = 0;
        for (int v = 0; v < R8; v++) {
            done[v] = ~active[v] | (n[v] == capv);
            bits |= lane_bits(done[v]) << (4 * v);
        }
        memcpy(lane_n, n, sizeof lane_n);
        for (; bits; bits &= bits - 1) {
            int l = __builtin_ctz(bits);
            if (pixel[l] >= 0) {
                out[pixel[l]] = (uint32_t)lane_n[l];
                q.sum += (uint64_t)lane_n[l];
            }
            pixel[l] = next_pixel(&q, &lane_cr[l], &lane_ci[l]);
        }
        v4i live = {0}, near = {0};
        for (int v = 0; v < R8; v++) {
            v4i loaded = done[v];
            if (q.j == q.height) { /* queue empty: some finished lanes got no pixel */
                v4i p;
                memcpy(&p, pixel + 4 * v, sizeof p);
                loaded &= p >= 0;
            }
            x[v] = select_pd(done[v], (v4d){0}, x[v]);
            y[v] = select_pd(done[v], (v4d){0}, y[v]);
            n[v] &= ~done[v];
            active[v] = (active[v] & ~done[v]) | loaded;
            live |= active[v];
            near |= active[v] & (n[v] > nearv);
        }
        if (!lane_bits(live))
            break;
        /* A block must not take an active lane past max_iter: shorten it when a lane is close. */
        uint32_t len = K;
        if (lane_bits(near))
            for (int v = 0; v < R8; v++)
                for (int k = 0; k < 4; k++)
                    if (active[v][k] && cap - n[v][k] < len)
                        len = (uint32_t)(cap - n[v][k]);
        memcpy(vcr, lane_cr, sizeof vcr);
        memcpy(vci, lane_ci, sizeof vci);
        if (len == K)
            iterate(R8, K, x, y, vcr, vci, active, n);
        else
            iterate(R8, len, x, y, vcr, vci, active, n);
    }
    return q.sum;
}

/*
 * Counts of the width x height pixels c = cr[i] + i*ci[j] into out[j*width + i] (row-major, row 0
 * first) with kernel 0 = g4 or 1 = r8; any other kernel writes nothing and returns 0.  Returns the
 * sum of the counts (the number of iterations, for G-iter/s figures).
 */
uint64_t mr_yardstick_counts(int kernel, const double *cr, const double *ci, int width, int height,
                             uint32_t max_iter, int precheck, uint32_t *out)
{
    if (width <= 0 || height <= 0 || (kernel != 0 && kernel != 1))
        return 0;
    if (max_iter == 0) {
        memset(out, 0, (size_t)width * (size_t)height * sizeof *out);
        return 0;
    }
    if (kernel == 0)
        return group_g4(cr, ci, width, height, max_iter, precheck, out);
    return refill_r8(cr, ci, width, height, max_iter, precheck, out);
}
