/*
 * Load and lifetime from C, against a running stand-in (its base URL is the last argument):
 *  - 8 threads share one client and each makes LOAD_CALLS calls (GET /user, POST /user/update and
 *    GET /user/refresh in turn): every call must succeed, and all threads must finish (no deadlock:
 *    run.sh runs this under `timeout`);
 *  - LOAD_CYCLES client create/free cycles, each making one call, with no leak (run under ASan +
 *    LeakSanitizer or valgrind by run.sh);
 *  - STREAM_CYCLES (default 100) stream start/stop cycles on one client while another thread keeps
 *    updating the user, so pushes flow during every start and stop: every stop succeeds and every
 *    stream releases its user_data exactly once.
 * LOAD_CALLS defaults to 500 and LOAD_CYCLES to 1000; `make stress` sets LOAD_CALLS=10000.
 */
#define _POSIX_C_SOURCE 200809L

#include "pieces_user.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define THREADS 8

static const char *const PROFILE =
    "{\"id\":\"u-load\",\"aesthetics\":{\"font\":{\"size\":15},\"theme\":{\"dark\":false}}}";

static long calls_per_thread = 500;

struct worker {
    const PiecesClient *client;
    long ok;
    long failed;
    char first_error[512];
};

static void note_error(struct worker *w, const char *what, int32_t rc) {
    w->failed++;
    if (w->first_error[0] == '\0') {
        char *detail = NULL;
        if (pieces_last_error(&detail) == PIECES_OK) {
            snprintf(w->first_error, sizeof w->first_error, "%s: %s: %s", what, pieces_status_str(rc),
                     detail);
            pieces_string_free(detail);
        }
    }
}

static void *hammer(void *arg) {
    struct worker *w = (struct worker *)arg;
    for (long i = 0; i < calls_per_thread; i++) {
        char *out = NULL;
        int32_t rc;
        const char *what;
        switch (i % 3) {
        case 0:
            what = "snapshot";
            rc = pieces_user_snapshot(w->client, &out);
            break;
        case 1:
            what = "update";
            rc = pieces_user_update(w->client, PROFILE, &out);
            break;
        default:
            what = "refresh";
            rc = pieces_user_refresh(w->client, &out);
            break;
        }
        if (rc == PIECES_OK && out != NULL && out[0] == '{') {
            w->ok++;
        } else {
            note_error(w, what, rc);
        }
        pieces_string_free(out);
    }
    return NULL;
}

static double seconds_since(const struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static int test_threads(const char *base_url) {
    char config[256];
    snprintf(config, sizeof config, "{\"base_url\":\"%s\",\"timeout_ms\":30000}", base_url);
    PiecesClient *client = NULL;
    if (pieces_client_new(config, &client) != PIECES_OK) {
        fprintf(stderr, "could not create the client\n");
        return 1;
    }
    struct worker workers[THREADS];
    pthread_t threads[THREADS];
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int failed = 0;
    for (int i = 0; i < THREADS; i++) {
        memset(&workers[i], 0, sizeof workers[i]);
        workers[i].client = client;
        if (pthread_create(&threads[i], NULL, hammer, &workers[i]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
    }
    long ok = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        ok += workers[i].ok;
        if (workers[i].failed != 0) {
            failed = 1;
            fprintf(stderr, "thread %d: %ld failed calls; first: %s\n", i, workers[i].failed,
                    workers[i].first_error);
        }
    }
    pieces_client_free(client);
    printf("test_load: %d threads x %ld calls on one client: %ld ok in %.1f s\n", THREADS,
           calls_per_thread, ok, seconds_since(&start));
    if (ok != THREADS * calls_per_thread) {
        failed = 1;
    }
    return failed;
}

static int test_cycles(const char *base_url, long cycles) {
    char config[256];
    snprintf(config, sizeof config, "{\"base_url\":\"%s\",\"timeout_ms\":30000}", base_url);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long i = 0; i < cycles; i++) {
        PiecesClient *client = NULL;
        if (pieces_client_new(config, &client) != PIECES_OK) {
            fprintf(stderr, "cycle %ld: pieces_client_new failed\n", i);
            return 1;
        }
        char *out = NULL;
        int32_t rc = pieces_user_snapshot(client, &out);
        pieces_string_free(out);
        pieces_client_free(client);
        if (rc != PIECES_OK) {
            fprintf(stderr, "cycle %ld: snapshot gave %s\n", i, pieces_status_str(rc));
            return 1;
        }
    }
    printf("test_load: %ld client create/call/free cycles in %.1f s\n", cycles, seconds_since(&start));
    return 0;
}

/* Stream cycles while updates flow. */

struct stream_counts {
    atomic_int users;
    atomic_int released;
};

static void on_event(void *user_data, int32_t kind, const char *json) {
    (void)json;
    struct stream_counts *c = (struct stream_counts *)user_data;
    if (kind == PIECES_EVENT_USER) {
        atomic_fetch_add(&c->users, 1);
    }
}

static void on_release(void *user_data) {
    atomic_fetch_add(&((struct stream_counts *)user_data)->released, 1);
}

static atomic_int updating;

static void *keep_updating(void *arg) {
    const PiecesClient *client = (const PiecesClient *)arg;
    static const char *const DOCS[2] = {
        "{\"id\":\"u-load\",\"aesthetics\":{\"font\":{\"size\":15},\"theme\":{\"dark\":false}}}",
        "{\"id\":\"u-load\",\"aesthetics\":{\"font\":{\"size\":16},\"theme\":{\"dark\":true}}}",
    };
    long n = 0;
    while (atomic_load(&updating)) {
        char *out = NULL;
        if (pieces_user_update(client, DOCS[n++ % 2], &out) == PIECES_OK) {
            pieces_string_free(out);
        }
    }
    return NULL;
}

static int test_stream_cycles(const char *base_url, long cycles) {
    char config[256];
    snprintf(config, sizeof config, "{\"base_url\":\"%s\",\"timeout_ms\":30000}", base_url);
    PiecesClient *client = NULL;
    if (pieces_client_new(config, &client) != PIECES_OK) {
        return 1;
    }
    atomic_store(&updating, 1);
    pthread_t updater;
    if (pthread_create(&updater, NULL, keep_updating, client) != 0) {
        pieces_client_free(client);
        return 1;
    }
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int failed = 0;
    long with_users = 0;
    for (long i = 0; i < cycles && !failed; i++) {
        struct stream_counts counts;
        atomic_init(&counts.users, 0);
        atomic_init(&counts.released, 0);
        PiecesStream *stream = NULL;
        int32_t rc = pieces_user_stream_start(client, "{\"reconnect_min_ms\":10,\"reconnect_max_ms\":50}",
                                              on_event, &counts, on_release, &stream);
        if (rc != PIECES_OK) {
            fprintf(stderr, "stream cycle %ld: start gave %s\n", i, pieces_status_str(rc));
            failed = 1;
            break;
        }
        /* Even cycles wait for a few pushes (up to 2 s); odd ones stop at once, mid-connect. */
        for (int waited = 0; i % 2 == 0 && atomic_load(&counts.users) < 3 && waited < 200; waited++) {
            struct timespec ms10 = {0, 10 * 1000000L};
            nanosleep(&ms10, NULL);
        }
        rc = pieces_stream_stop(stream);
        if (rc != PIECES_OK) {
            fprintf(stderr, "stream cycle %ld: stop gave %s\n", i, pieces_status_str(rc));
            failed = 1;
        }
        pieces_stream_free(stream);
        if (atomic_load(&counts.released) != 1) {
            fprintf(stderr, "stream cycle %ld: released %d times\n", i, atomic_load(&counts.released));
            failed = 1;
        }
        with_users += atomic_load(&counts.users) > 0;
    }
    atomic_store(&updating, 0);
    pthread_join(updater, NULL);
    pieces_client_free(client);
    /* The waiting half must really have seen pushes, or updates were not flowing. */
    if (with_users < cycles / 2) {
        fprintf(stderr, "only %ld of %ld stream cycles saw a user\n", with_users, cycles);
        failed = 1;
    }
    printf("test_load: %ld stream start/stop cycles while updates flow in %.1f s\n", cycles,
           seconds_since(&start));
    return failed;
}

static long env_or(const char *name, long fallback) {
    const char *v = getenv(name);
    return v != NULL && atol(v) > 0 ? atol(v) : fallback;
}

int main(int argc, char **argv) {
    if (argc < 2 || strncmp(argv[argc - 1], "http://", 7) != 0) {
        fprintf(stderr, "usage: %s http://127.0.0.1:PORT   (a running pieces-standin)\n", argv[0]);
        return 2;
    }
    const char *base_url = argv[argc - 1];
    calls_per_thread = env_or("LOAD_CALLS", 500);
    long cycles = env_or("LOAD_CYCLES", 1000);
    int failed = test_threads(base_url);
    failed |= test_cycles(base_url, cycles);
    failed |= test_stream_cycles(base_url, env_or("STREAM_CYCLES", 100));
    return failed;
}
