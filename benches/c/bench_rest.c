/*
 * Per-call cost of pieces_user's C ABI beside a plain libcurl client, same calls, same server.
 * The server is a constant loopback responder in this process (one thread per connection, pinned
 * to the last CPU while the clients run on the first), so both clients see identical work on the
 * other side.
 *
 *   bench_rest PROFILE_JSON_FILE ROUNDS CALLS_PER_ROUND
 *       Wall clock. Each round makes CALLS_PER_ROUND C ABI calls and as many libcurl calls,
 *       alternating call by call (C ABI, libcurl, libcurl, C ABI, ...), for GET /user and for
 *       POST /user/update; the ratio is taken per round (p50 / p50) and the median of those ratios
 *       is reported, so a slow stretch of the machine hits both sides of a ratio and not the
 *       result. Each client's call follows the other's, as a call follows other work in an
 *       application: neither finds its code and branch history as its previous call left them.
 *       With BENCH_BLOCKS set, a round runs the C ABI's calls back to back, then libcurl's (how
 *       the README's tables were made until 2026-11-30 14:30; rounds' ratios then spread over
 *       ±20 %, against ±5 % alternated). Prints one "ROW ..." line per route for
 *       benches/bench_rest.sh.
 *   bench_rest --count pieces|curl get|update PROFILE_JSON_FILE CALLS
 *       For callgrind: warms up, then makes CALLS calls of one kind inside measured_calls(), so
 *       `valgrind --tool=callgrind --collect-atstart=no --toggle-collect=measured_calls` counts
 *       the client's instructions for exactly those calls (collection is per thread, so the
 *       server thread is not counted).
 *   bench_rest --serve PROFILE_JSON_FILE
 *       Only the server, for the Python figures: prints its port, serves until stdin closes.
 */
#define _GNU_SOURCE /* strcasestr, CPU_SET */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "pieces_user.h"

static char *g_snapshot_response; /* full HTTP response for GET /user */
static char *g_update_response;   /* full HTTP response for POST /user/update */
static size_t g_snapshot_len, g_update_len;

static char *http_response(const char *body, size_t body_len, size_t *out_len) {
    char head[256];
    int h = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n", body_len);
    char *all = malloc((size_t)h + body_len);
    memcpy(all, head, (size_t)h);
    memcpy(all + h, body, body_len);
    *out_len = (size_t)h + body_len;
    return all;
}

/* Reads one request (headers + Content-Length body); returns 1 for POST, 0 for GET, -1 on close. */
static int read_request(int fd, char *buf, size_t cap) {
    size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, cap - have - 1);
        if (n <= 0) return -1;
        have += (size_t)n;
        buf[have] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        if (!end) continue;
        size_t head_len = (size_t)(end - buf) + 4;
        size_t body_len = 0;
        char *cl = strcasestr(buf, "content-length:");
        if (cl && cl < end) body_len = strtoul(cl + 15, NULL, 10);
        while (have < head_len + body_len) {
            n = read(fd, buf + have, cap - have - 1);
            if (n <= 0) return -1;
            have += (size_t)n;
        }
        return strncmp(buf, "POST", 4) == 0;
    }
}

/* The server threads on the last CPU, the clients on the first: as with a server in another
 * process on its own core, and the two never compete for one core. No-op on one CPU. */
static void pin_to(int cpu) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 2) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu < 0 ? (int)n - 1 : cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void *serve_connection(void *arg) {
    int fd = (int)(intptr_t)arg;
    pin_to(-1);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    size_t cap = 1 << 20;
    char *buf = malloc(cap);
    int kind;
    while ((kind = read_request(fd, buf, cap)) >= 0) {
        const char *r = kind ? g_update_response : g_snapshot_response;
        size_t len = kind ? g_update_len : g_snapshot_len;
        if (write(fd, r, len) != (ssize_t)len) break;
    }
    free(buf);
    close(fd);
    return NULL;
}

static void *accept_loop(void *arg) {
    int listener = (int)(intptr_t)arg;
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) continue;
        pthread_t t;
        pthread_create(&t, NULL, serve_connection, (void *)(intptr_t)fd);
        pthread_detach(t);
    }
    return NULL;
}

static int start_server(void) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 64)) { perror("listen"); exit(2); }
    socklen_t len = sizeof a;
    getsockname(l, (struct sockaddr *)&a, &len);
    pthread_t t;
    pthread_create(&t, NULL, accept_loop, (void *)(intptr_t)l);
    pthread_detach(t);
    return ntohs(a.sin_port);
}

/* ---- the two clients ---- */

struct sink { char *data; size_t len, cap; };

static size_t sink_write(char *ptr, size_t size, size_t n, void *userdata) {
    struct sink *s = userdata;
    size_t add = size * n;
    if (s->len + add + 1 > s->cap) {
        s->cap = (s->len + add + 1) * 2;
        s->data = realloc(s->data, s->cap);
    }
    memcpy(s->data + s->len, ptr, add);
    s->len += add;
    s->data[s->len] = 0;
    return add;
}

struct curl_client { CURL *h; struct curl_slist *get_headers, *post_headers; char url_user[128], url_update[128]; struct sink sink; };

static void curl_call(struct curl_client *c, const char *body) {
    c->sink.len = 0;
    if (body) {
        curl_easy_setopt(c->h, CURLOPT_URL, c->url_update);
        curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->post_headers);
        curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
    } else {
        curl_easy_setopt(c->h, CURLOPT_URL, c->url_user);
        curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->get_headers);
        curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
    }
    CURLcode rc = curl_easy_perform(c->h);
    long status = 0;
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status != 200 || c->sink.len == 0) {
        fprintf(stderr, "curl call failed: %s %ld\n", curl_easy_strerror(rc), status);
        exit(1);
    }
}

static void pieces_call(const PiecesClient *c, const char *body) {
    char *out = NULL;
    int32_t rc = body ? pieces_user_update(c, body, &out) : pieces_user_snapshot(c, &out);
    if (rc != PIECES_OK) {
        char *detail = NULL;
        pieces_last_error(&detail);
        fprintf(stderr, "pieces call failed: %s %s\n", pieces_status_str(rc), detail ? detail : "");
        exit(1);
    }
    pieces_string_free(out);
}

struct clients { PiecesClient *pieces; struct curl_client curl; const char *profile; };

static void one_call(struct clients *c, int use_curl, int update) {
    const char *body = update ? c->profile : NULL;
    if (use_curl) curl_call(&c->curl, body); else pieces_call(c->pieces, body);
}

/* p50 of `calls` calls of one kind, in microseconds. */
static double p50_of(struct clients *c, int use_curl, int update, double *samples, int calls) {
    for (int i = 0; i < calls; i++) {
        double t0 = now_us();
        one_call(c, use_curl, update);
        samples[i] = now_us() - t0;
    }
    return median(samples, (size_t)calls);
}

struct round { struct clients *c; int update; };

/* `which` 0 is the C ABI, 1 libcurl. */
static void call_client(void *ctx, int which) {
    struct round *r = ctx;
    one_call(r->c, which, r->update);
}

/* Not inlined: callgrind's --toggle-collect names it. */
__attribute__((noinline)) void measured_calls(struct clients *c, int use_curl, int update, int calls) {
    for (int i = 0; i < calls; i++) one_call(c, use_curl, update);
}

/* Prepares both answers from the profile and starts the server; returns the profile text. */
static char *serve(const char *profile_path, int *port) {
    size_t profile_len;
    char *profile = read_file(profile_path, &profile_len);
    size_t snap_body_len = profile_len + 16;
    char *snap_body = malloc(snap_body_len + 1);
    snprintf(snap_body, snap_body_len + 1, "{\"user\":%s}", profile);
    g_snapshot_response = http_response(snap_body, strlen(snap_body), &g_snapshot_len);
    g_update_response = http_response(profile, profile_len, &g_update_len);
    free(snap_body);
    *port = start_server();
    return profile;
}

/* BENCH_PORT names a server already running on 127.0.0.1 (e.g. nginx answering the same bytes)
 * to use instead of the in-process one. */
static void setup(struct clients *c, const char *profile_path) {
    int port;
    const char *external = getenv("BENCH_PORT");
    if (external) {
        size_t len;
        c->profile = read_file(profile_path, &len);
        port = atoi(external);
    } else {
        c->profile = serve(profile_path, &port);
    }

    char config[128];
    snprintf(config, sizeof config, "{\"base_url\":\"http://127.0.0.1:%d\"}", port);
    if (pieces_client_new(config, &c->pieces) != PIECES_OK) { fprintf(stderr, "client_new failed\n"); exit(1); }

    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct curl_client *cc = &c->curl;
    cc->h = curl_easy_init();
    snprintf(cc->url_user, sizeof cc->url_user, "http://127.0.0.1:%d/user", port);
    snprintf(cc->url_update, sizeof cc->url_update, "http://127.0.0.1:%d/user/update", port);
    cc->get_headers = curl_slist_append(NULL, "Accept: application/json");
    cc->post_headers = curl_slist_append(NULL, "Accept: application/json");
    cc->post_headers = curl_slist_append(cc->post_headers, "Content-Type: application/json");
    curl_easy_setopt(cc->h, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(cc->h, CURLOPT_WRITEDATA, &cc->sink);
    curl_easy_setopt(cc->h, CURLOPT_TCP_NODELAY, 1L);
}

static void teardown(struct clients *c) {
    pieces_client_free(c->pieces);
    curl_slist_free_all(c->curl.get_headers);
    curl_slist_free_all(c->curl.post_headers);
    curl_easy_cleanup(c->curl.h);
    curl_global_cleanup();
    free(c->curl.sink.data);
}

static int count_mode(char **argv) {
    int use_curl = strcmp(argv[2], "curl") == 0, update = strcmp(argv[3], "update") == 0;
    int calls = atoi(argv[5]);
    struct clients c = {0};
    setup(&c, argv[4]);
    for (int i = 0; i < 20; i++) one_call(&c, use_curl, update); /* connection, first-use costs */
    measured_calls(&c, use_curl, update, calls);
    teardown(&c);
    return 0;
}

static int wall_mode(char **argv) {
    int rounds = atoi(argv[2]), per_round = atoi(argv[3]);
    pin_to(0);
    struct clients c = {0};
    setup(&c, argv[1]);
    /* Warm both connections and caches. */
    for (int i = 0; i < 200; i++)
        for (int k = 0; k < 4; k++) one_call(&c, k % 2, k / 2);

    double *samples = calloc((size_t)per_round, sizeof(double));
    double *both[2] = {calloc((size_t)per_round, sizeof(double)), calloc((size_t)per_round, sizeof(double))};
    int by_call = getenv("BENCH_BLOCKS") == NULL;
    double *p50[4], *ratio[2];
    for (int k = 0; k < 4; k++) p50[k] = calloc((size_t)rounds, sizeof(double));
    for (int u = 0; u < 2; u++) ratio[u] = calloc((size_t)rounds, sizeof(double));
    for (int r = 0; r < rounds; r++) {
        for (int update = 0; update < 2; update++) {
            /* k = 2 * update + use_curl */
            if (by_call) {
                double p50s[2];
                struct round round = {&c, update};
                alternated_p50s(call_client, &round, both, per_round, p50s);
                for (int use_curl = 0; use_curl < 2; use_curl++) p50[2 * update + use_curl][r] = p50s[use_curl];
            } else {
                for (int use_curl = 0; use_curl < 2; use_curl++)
                    p50[2 * update + use_curl][r] = p50_of(&c, use_curl, update, samples, per_round);
            }
            ratio[update][r] = p50[2 * update][r] / p50[2 * update + 1][r];
        }
    }
    printf("profile %s: %zu bytes, %d rounds x %d calls per client and route\n", argv[1], strlen(c.profile),
           rounds, per_round);
    for (int update = 0; update < 2; update++) {
        const char *route = update ? "update" : "GET";
        double lo, hi;
        range_of(ratio[update], (size_t)rounds, &lo, &hi);
        double curl_p50 = median(p50[2 * update + 1], (size_t)rounds);
        double pieces_p50 = median(p50[2 * update], (size_t)rounds);
        double mid = median(ratio[update], (size_t)rounds);
        printf("  %-7s libcurl p50 %7.1f us   C ABI p50 %7.1f us   ratio median %.2fx (rounds %.2f-%.2f)\n",
               route, curl_p50, pieces_p50, mid, lo, hi);
        printf("ROW %s %zu %.1f %.1f %.2f %.2f %.2f\n", route, strlen(c.profile), curl_p50, pieces_p50, mid, lo, hi);
    }
    teardown(&c);
    return 0;
}

static int serve_mode(char **argv) {
    int port;
    serve(argv[2], &port);
    printf("%d\n", port);
    fflush(stdout);
    char buf[64];
    while (fread(buf, 1, sizeof buf, stdin) > 0) {}
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--serve") == 0) return serve_mode(argv);
    if (argc == 6 && strcmp(argv[1], "--count") == 0) return count_mode(argv);
    if (argc == 4) return wall_mode(argv);
    fprintf(stderr, "usage: %s PROFILE_JSON ROUNDS CALLS_PER_ROUND\n"
                    "       %s --count pieces|curl get|update PROFILE_JSON CALLS\n"
                    "       %s --serve PROFILE_JSON\n", argv[0], argv[0], argv[0]);
    return 2;
}
