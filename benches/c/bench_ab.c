/*
 * Two builds of the library side by side: which one makes the faster C call, measured so that
 * the host's drift hits both. On this shared VM a run's p50 moves by ±30 % from one minute to the
 * next, so two builds run one after the other cannot be told apart at the 1–3 % a change to the
 * validator or the call path makes; interleaved in one process against one server, as
 * bench_rest interleaves the C ABI with libcurl, they can.
 *
 *   bench_ab PORT PROFILE_JSON_FILE ROUNDS CALLS_PER_ROUND LIB_A LIB_B
 *
 * PORT is a server answering the profile (`bench_rest --serve PROFILE_JSON_FILE`, which pins its
 * threads to the last CPU); LIB_A and LIB_B are paths of two builds of libpieces_user.so, loaded
 * with dlopen(RTLD_LOCAL), each with its own client. Each round makes CALLS_PER_ROUND calls with
 * each build, alternating call by call (A B B A ...), for GET /user and for POST /user/update;
 * prints per route the median over the rounds of B's p50 / A's p50, with its range.
 * benches/bench_ab.sh builds and runs it.
 */
#define _GNU_SOURCE /* CPU_SET */
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

typedef int32_t (*client_new_fn)(const char *, void **);
typedef int32_t (*snapshot_fn)(const void *, char **);
typedef int32_t (*update_fn)(const void *, const char *, char **);
typedef void (*string_free_fn)(char *);

struct build {
    const char *path;
    snapshot_fn snapshot;
    update_fn update;
    string_free_fn string_free;
    void *client;
};

static void *symbol(void *lib, const char *path, const char *name) {
    void *f = dlsym(lib, name);
    if (!f) { fprintf(stderr, "%s: no %s\n", path, name); exit(2); }
    return f;
}

static void load(struct build *b, const char *path, int port) {
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) { fprintf(stderr, "%s\n", dlerror()); exit(2); }
    b->path = path;
    client_new_fn client_new = (client_new_fn)symbol(lib, path, "pieces_client_new");
    b->snapshot = (snapshot_fn)symbol(lib, path, "pieces_user_snapshot");
    b->update = (update_fn)symbol(lib, path, "pieces_user_update");
    b->string_free = (string_free_fn)symbol(lib, path, "pieces_string_free");
    char config[128];
    snprintf(config, sizeof config, "{\"base_url\":\"http://127.0.0.1:%d\"}", port);
    if (client_new(config, &b->client) != 0) { fprintf(stderr, "%s: client_new failed\n", path); exit(1); }
}

static void call(const struct build *b, const char *body) {
    char *out = NULL;
    int32_t rc = body ? b->update(b->client, body, &out) : b->snapshot(b->client, &out);
    if (rc != 0) { fprintf(stderr, "%s: call failed with %d\n", b->path, rc); exit(1); }
    b->string_free(out);
}

struct round { const struct build *builds; const char *body; };

static void call_build(void *ctx, int which) {
    const struct round *r = ctx;
    call(&r->builds[which], r->body);
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: %s PORT PROFILE_JSON ROUNDS CALLS_PER_ROUND LIB_A LIB_B\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]), rounds = atoi(argv[3]), per_round = atoi(argv[4]);
    size_t profile_len;
    char *profile = read_file(argv[2], &profile_len);
    if (rounds < 1 || per_round < 1) { fprintf(stderr, "ROUNDS and CALLS_PER_ROUND must be positive\n"); return 2; }
    if (sysconf(_SC_NPROCESSORS_ONLN) > 1) {
        cpu_set_t set; /* the server pins itself to the last CPU */
        CPU_ZERO(&set);
        CPU_SET(0, &set);
        pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    }
    struct build builds[2];
    load(&builds[0], argv[5], port);
    load(&builds[1], argv[6], port);
    for (int i = 0; i < 200; i++) /* connections, first-use costs */
        for (int k = 0; k < 4; k++) call(&builds[k % 2], k / 2 ? profile : NULL);

    double *samples[2] = {calloc((size_t)per_round, sizeof(double)), calloc((size_t)per_round, sizeof(double))};
    double *ratio[2], *p50[2][2];
    for (int u = 0; u < 2; u++) {
        ratio[u] = calloc((size_t)rounds, sizeof(double));
        for (int k = 0; k < 2; k++) p50[u][k] = calloc((size_t)rounds, sizeof(double));
    }
    for (int r = 0; r < rounds; r++)
        for (int update = 0; update < 2; update++) {
            double p50s[2];
            struct round round = {builds, update ? profile : NULL};
            alternated_p50s(call_build, &round, samples, per_round, p50s);
            for (int k = 0; k < 2; k++) p50[update][k][r] = p50s[k];
            ratio[update][r] = p50s[1] / p50s[0];
        }
    printf("%s: %zu bytes, %d rounds x %d calls per build and route; B / A\n", argv[2], profile_len,
           rounds, per_round);
    for (int update = 0; update < 2; update++) {
        double lo, hi;
        range_of(ratio[update], (size_t)rounds, &lo, &hi);
        double mid = median(ratio[update], (size_t)rounds);
        printf("  %-7s A p50 %7.1f us   B p50 %7.1f us   B / A median %.3f (rounds %.3f-%.3f)\n",
               update ? "update" : "GET", median(p50[update][0], (size_t)rounds),
               median(p50[update][1], (size_t)rounds), mid, lo, hi);
    }
    return 0;
}
