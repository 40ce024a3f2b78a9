/* What the C benchmarks (bench_rest.c, bench_ab.c, ../python/const_server.c) share: reading a file,
 * the clock, medians, and rounds that alternate two clients call by call. */
#ifndef PIECES_BENCH_UTIL_H
#define PIECES_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) { perror("read"); exit(2); }
    buf[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static inline double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static inline int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static inline double median(double *v, size_t n) {
    qsort(v, n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}


/* One round of `calls` calls by each of two clients (`call(ctx, 0)` and `call(ctx, 1)`), alternating
 * call by call, 0 1 1 0 ..., so that neither always goes first: each client's p50 into p50s. */
static inline void alternated_p50s(void (*call)(void *ctx, int which), void *ctx, double *samples[2],
                                   int calls, double p50s[2]) {
    for (int i = 0; i < calls; i++)
        for (int j = 0; j < 2; j++) {
            int k = (i + j) % 2;
            double t0 = now_us();
            call(ctx, k);
            samples[k][i] = now_us() - t0;
        }
    for (int k = 0; k < 2; k++) p50s[k] = median(samples[k], (size_t)calls);
}

/* The smallest and largest of `n` values. */
static inline void range_of(const double *v, size_t n, double *lo, double *hi) {
    *lo = *hi = v[0];
    for (size_t i = 1; i < n; i++) {
        *lo = v[i] < *lo ? v[i] : *lo;
        *hi = v[i] > *hi ? v[i] : *hi;
    }
}

#endif
