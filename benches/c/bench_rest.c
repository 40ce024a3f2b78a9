/*
 * Per-call latency of pieces_user's C ABI beside a plain libcurl client, same calls, same server,
 * same run. The server is a constant loopback responder in this process (one thread per
 * connection), so both clients see identical work on the other side.
 *
 *   bench_rest PROFILE_JSON_FILE ROUNDS CALLS_PER_ROUND
 *
 * Rounds alternate between the two clients so drift on a shared machine hits both alike.
 */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pieces_user.h"

static char *g_snapshot_response; /* full HTTP response for GET /user */
static char *g_update_response;   /* full HTTP response for POST /user/update */
static size_t g_snapshot_len, g_update_len;

static char *read_file(const char *path, size_t *len) {
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

static void *serve_connection(void *arg) {
    int fd = (int)(intptr_t)arg;
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

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
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

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct stats { double *samples; size_t n; double total_us; };

static void report(const char *name, struct stats *s) {
    qsort(s->samples, s->n, sizeof(double), cmp_double);
    double p50 = s->samples[s->n / 2], p99 = s->samples[(size_t)(s->n * 0.99)];
    printf("  %-22s p50 %8.1f us   p99 %8.1f us   %9.0f calls/s\n", name, p50, p99, s->n / (s->total_us / 1e6));
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s PROFILE_JSON ROUNDS CALLS_PER_ROUND\n", argv[0]); return 2; }
    size_t profile_len;
    char *profile = read_file(argv[1], &profile_len);
    int rounds = atoi(argv[2]), per_round = atoi(argv[3]);

    size_t snap_body_len = profile_len + 16;
    char *snap_body = malloc(snap_body_len + 1);
    snprintf(snap_body, snap_body_len + 1, "{\"user\":%s}", profile);
    g_snapshot_response = http_response(snap_body, strlen(snap_body), &g_snapshot_len);
    g_update_response = http_response(profile, profile_len, &g_update_len);
    int port = start_server();

    char config[128];
    snprintf(config, sizeof config, "{\"base_url\":\"http://127.0.0.1:%d\"}", port);
    PiecesClient *pc = NULL;
    if (pieces_client_new(config, &pc) != PIECES_OK) { fprintf(stderr, "client_new failed\n"); return 1; }

    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct curl_client cc = {0};
    cc.h = curl_easy_init();
    snprintf(cc.url_user, sizeof cc.url_user, "http://127.0.0.1:%d/user", port);
    snprintf(cc.url_update, sizeof cc.url_update, "http://127.0.0.1:%d/user/update", port);
    cc.get_headers = curl_slist_append(NULL, "Accept: application/json");
    cc.post_headers = curl_slist_append(NULL, "Accept: application/json");
    cc.post_headers = curl_slist_append(cc.post_headers, "Content-Type: application/json");
    curl_easy_setopt(cc.h, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(cc.h, CURLOPT_WRITEDATA, &cc.sink);
    curl_easy_setopt(cc.h, CURLOPT_TCP_NODELAY, 1L);

    size_t total = (size_t)rounds * (size_t)per_round;
    struct stats st[4];
    for (int i = 0; i < 4; i++) st[i] = (struct stats){calloc(total, sizeof(double)), 0, 0};

    /* Warm both connections and caches. */
    for (int i = 0; i < 200; i++) { pieces_call(pc, NULL); curl_call(&cc, NULL); pieces_call(pc, profile); curl_call(&cc, profile); }

    for (int r = 0; r < rounds; r++) {
        for (int which = 0; which < 4; which++) {
            /* 0: pieces snapshot, 1: curl snapshot, 2: pieces update, 3: curl update */
            const char *body = which >= 2 ? profile : NULL;
            double round_start = now_us();
            for (int i = 0; i < per_round; i++) {
                double t0 = now_us();
                if (which % 2 == 0) pieces_call(pc, body); else curl_call(&cc, body);
                st[which].samples[st[which].n++] = now_us() - t0;
            }
            st[which].total_us += now_us() - round_start;
        }
    }

    printf("profile %s: %zu bytes, %d rounds x %d calls\n", argv[1], profile_len, rounds, per_round);
    report("pieces snapshot", &st[0]);
    report("libcurl snapshot", &st[1]);
    report("pieces update", &st[2]);
    report("libcurl update", &st[3]);
    printf("  ratio p50 snapshot %.2fx   update %.2fx   (pieces / libcurl)\n",
           st[0].samples[st[0].n / 2] / st[1].samples[st[1].n / 2],
           st[2].samples[st[2].n / 2] / st[3].samples[st[3].n / 2]);

    pieces_client_free(pc);
    curl_slist_free_all(cc.get_headers);
    curl_slist_free_all(cc.post_headers);
    curl_easy_cleanup(cc.h);
    curl_global_cleanup();
    return 0;
}
