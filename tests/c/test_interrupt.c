/*
 * pieces_client_interrupt and the PiecesCancel API from C: a call blocked waiting for an answer
 * returns PIECES_ERR_INTERRUPTED well before its timeout, later calls work, a triggered token fails
 * the calls bound to it at once, and every NULL argument is reported. Run under valgrind by
 * tests/c/run.sh; argv[1] is the stand-in's base URL.
 *
 * A small server here answers GET /user with {"user":null} and never answers GET /user/refresh (it
 * holds the connection until the client hangs up), so a test can block a call on purpose and know,
 * from the server, that the call is waiting before it interrupts it. Compiles as C11 and C++17.
 */
#define _POSIX_C_SOURCE 200809L

#include "pieces_user.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define MAX_CONNS 16

/* The server: an accept thread and one thread per connection, all joined at the end. */
static int listen_fd = -1;
static char server_url[64];
static char sentinel_byte;
#define SENTINEL_OUT (&sentinel_byte)
static pthread_t accept_thread;
static pthread_t conn_threads[MAX_CONNS];
static int conn_count;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int held_requests; /* GET /user/refresh requests received so far */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads one request head into buf; 0 when the client hung up. */
static int read_head(int fd, char *buf, size_t cap) {
    size_t len = 0;
    while (len + 1 < cap) {
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n <= 0) {
            return 0;
        }
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n") != NULL) {
            return 1;
        }
    }
    return 0;
}

static void *serve_conn(void *arg) {
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    static const char answer[] =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n"
        "{\"user\":null}";
    while (read_head(fd, buf, sizeof buf)) {
        if (strncmp(buf, "GET /user/refresh ", 18) == 0) {
            pthread_mutex_lock(&lock);
            held_requests++;
            pthread_cond_broadcast(&changed);
            pthread_mutex_unlock(&lock);
            while (recv(fd, buf, sizeof buf, 0) > 0) {
            }
            break;
        }
        if (send(fd, answer, sizeof answer - 1, MSG_NOSIGNAL) < 0) {
            break;
        }
    }
    close(fd);
    return NULL;
}

static void *accept_loop(void *arg) {
    (void)arg;
    for (;;) {
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0) {
            return NULL; /* shut down by stop_server */
        }
        if (conn_count == MAX_CONNS) {
            close(fd);
            continue;
        }
        pthread_create(&conn_threads[conn_count++], NULL, serve_conn, (void *)(intptr_t)fd);
    }
}

static void start_server(void) {
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(listen_fd, 16) != 0 || getsockname(listen_fd, (struct sockaddr *)&addr, &len) != 0) {
        perror("server");
        exit(2);
    }
    snprintf(server_url, sizeof server_url, "http://127.0.0.1:%d", ntohs(addr.sin_port));
    pthread_create(&accept_thread, NULL, accept_loop, NULL);
}

/* Call after every client is freed: their connections are closed, so every handler returns. */
static void stop_server(void) {
    shutdown(listen_fd, SHUT_RDWR);
    pthread_join(accept_thread, NULL);
    for (int i = 0; i < conn_count; i++) {
        pthread_join(conn_threads[i], NULL);
    }
    close(listen_fd);
}

/* Waits (at most 10 s) until the server holds `n` refresh requests in total. */
static int wait_held(int n) {
    int ok;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&lock);
    while (held_requests < n) {
        if (pthread_cond_timedwait(&changed, &lock, &until) != 0) {
            break;
        }
    }
    ok = held_requests >= n;
    pthread_mutex_unlock(&lock);
    return ok;
}

/* One blocking call on a thread: refresh, optionally under a token bound on that thread. */
struct call {
    PiecesClient *client;
    PiecesCancel *cancel; /* NULL: none bound */
    int32_t code;
    double ended;
    pthread_t thread;
};

static void *run_call(void *arg) {
    struct call *c = (struct call *)arg;
    char *out = NULL;
    if (c->cancel != NULL) {
        pieces_cancel_bind(c->cancel);
    }
    c->code = pieces_user_refresh(c->client, &out);
    c->ended = now_s();
    if (c->code == PIECES_OK) {
        pieces_string_free(out);
    }
    pieces_cancel_bind(NULL);
    return NULL;
}

static PiecesClient *new_client(const char *url) {
    char config[256];
    PiecesClient *client = NULL;
    snprintf(config, sizeof config, "{\"base_url\":\"%s\",\"timeout_ms\":30000}", url);
    CHECK_CODE(pieces_client_new(config, &client), PIECES_OK);
    return client;
}

static void test_null_arguments(void) {
    PiecesCancel *cancel = NULL;
    CHECK_CODE(pieces_client_interrupt(NULL), PIECES_ERR_NULL_POINTER);
    CHECK_CODE(pieces_cancel_new(NULL), PIECES_ERR_NULL_POINTER);
    CHECK_CODE(pieces_cancel_trigger(NULL), PIECES_ERR_NULL_POINTER);
    CHECK_CODE(pieces_cancel_bind(NULL), PIECES_OK); /* unbinds; nothing was bound */
    pieces_cancel_free(NULL);
    CHECK_CODE(pieces_cancel_new(&cancel), PIECES_OK);
    pieces_cancel_free(cancel);
    CHECK(strncmp(pieces_status_str(PIECES_ERR_INTERRUPTED), "PIECES_ERR_INTERRUPTED: ", 24) == 0);
}

static void test_interrupt_a_blocked_call(void) {
    PiecesClient *client = new_client(server_url);
    struct call c;
    char *out = NULL;
    double interrupted_at;
    memset(&c, 0, sizeof c);
    c.client = client;
    pthread_create(&c.thread, NULL, run_call, &c);
    CHECK(wait_held(1));
    interrupted_at = now_s();
    CHECK_CODE(pieces_client_interrupt(client), PIECES_OK);
    pthread_join(c.thread, NULL);
    CHECK_CODE(c.code, PIECES_ERR_INTERRUPTED);
    CHECK(c.ended - interrupted_at < 10.0);
    /* Later calls work as usual. */
    CHECK_CODE(pieces_user_snapshot(client, &out), PIECES_OK);
    if (out != NULL) {
        CHECK(strcmp(out, "{\"user\":null}") == 0);
        pieces_string_free(out);
    }
    pieces_client_free(client);
}

static void test_trigger_a_bound_blocked_call(void) {
    PiecesClient *client = new_client(server_url);
    struct call c;
    double triggered_at;
    memset(&c, 0, sizeof c);
    c.client = client;
    CHECK_CODE(pieces_cancel_new(&c.cancel), PIECES_OK);
    pthread_create(&c.thread, NULL, run_call, &c);
    CHECK(wait_held(2));
    triggered_at = now_s();
    CHECK_CODE(pieces_cancel_trigger(c.cancel), PIECES_OK);
    CHECK_CODE(pieces_cancel_trigger(c.cancel), PIECES_OK); /* idempotent */
    pthread_join(c.thread, NULL);
    CHECK_CODE(c.code, PIECES_ERR_INTERRUPTED);
    CHECK(c.ended - triggered_at < 10.0);
    pieces_cancel_free(c.cancel);
    pieces_client_free(client);
}

/* Against the stand-in: a triggered bound token fails calls at once; unbinding ends that; a token
 * freed while bound stays usable through the binding. */
static void test_binding(const char *standin_url) {
    PiecesClient *client = new_client(standin_url);
    PiecesCancel *cancel = NULL;
    char *out = SENTINEL_OUT;
    char *detail = NULL;
    CHECK_CODE(pieces_cancel_new(&cancel), PIECES_OK);
    CHECK_CODE(pieces_cancel_bind(cancel), PIECES_OK);
    CHECK_CODE(pieces_user_snapshot(client, &out), PIECES_OK); /* not triggered: works */
    if (out != SENTINEL_OUT) {
        pieces_string_free(out);
        out = SENTINEL_OUT;
    }
    pieces_cancel_free(cancel); /* the binding keeps its own reference */
    CHECK_CODE(pieces_user_snapshot(client, &out), PIECES_OK);
    if (out != SENTINEL_OUT) {
        pieces_string_free(out);
        out = SENTINEL_OUT;
    }

    CHECK_CODE(pieces_cancel_new(&cancel), PIECES_OK);
    CHECK_CODE(pieces_cancel_trigger(cancel), PIECES_OK);
    CHECK_CODE(pieces_cancel_bind(cancel), PIECES_OK);
    CHECK_CODE(pieces_user_snapshot(client, &out), PIECES_ERR_INTERRUPTED);
    CHECK(out == SENTINEL_OUT);
    CHECK_CODE(pieces_last_error(&detail), PIECES_OK);
    if (detail != NULL) {
        CHECK(strstr(detail, "\"category\":\"interrupted\"") != NULL);
        CHECK(strstr(detail, "\"name\":\"PIECES_ERR_INTERRUPTED\"") != NULL);
        pieces_string_free(detail);
    }
    CHECK_CODE(pieces_user_clear(client), PIECES_ERR_INTERRUPTED);
    CHECK_CODE(pieces_cancel_bind(NULL), PIECES_OK);
    CHECK_CODE(pieces_user_snapshot(client, &out), PIECES_OK);
    if (out != SENTINEL_OUT) {
        pieces_string_free(out);
    }
    pieces_cancel_free(cancel);
    /* An interrupt with nothing in flight changes nothing. */
    CHECK_CODE(pieces_client_interrupt(client), PIECES_OK);
    out = SENTINEL_OUT;
    CHECK_CODE(pieces_user_snapshot(client, &out), PIECES_OK);
    if (out != SENTINEL_OUT) {
        pieces_string_free(out);
    }
    pieces_client_free(client);
}

/* Both interrupt calls are allowed from a stream callback (on the stream's own thread). */
struct from_callback {
    PiecesClient *client;
    PiecesCancel *cancel;
    int32_t interrupt_code;
    int32_t trigger_code;
    int done;
};

static void on_event(void *user_data, int32_t kind, const char *json) {
    struct from_callback *f = (struct from_callback *)user_data;
    (void)json;
    pthread_mutex_lock(&lock);
    if (!f->done && kind == PIECES_EVENT_CONNECTED) {
        f->interrupt_code = pieces_client_interrupt(f->client);
        f->trigger_code = pieces_cancel_trigger(f->cancel);
        f->done = 1;
        pthread_cond_broadcast(&changed);
    }
    pthread_mutex_unlock(&lock);
}

static void test_from_a_stream_callback(const char *standin_url) {
    struct from_callback f;
    PiecesStream *stream = NULL;
    struct timespec until;
    memset(&f, 0, sizeof f);
    f.client = new_client(standin_url);
    f.interrupt_code = f.trigger_code = -1;
    CHECK_CODE(pieces_cancel_new(&f.cancel), PIECES_OK);
    CHECK_CODE(pieces_user_stream_start(f.client, NULL, on_event, &f, NULL, &stream), PIECES_OK);
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&lock);
    while (!f.done && pthread_cond_timedwait(&changed, &lock, &until) == 0) {
    }
    pthread_mutex_unlock(&lock);
    CHECK(f.done);
    CHECK_CODE(f.interrupt_code, PIECES_OK);
    CHECK_CODE(f.trigger_code, PIECES_OK);
    CHECK_CODE(pieces_stream_stop(stream), PIECES_OK);
    pieces_stream_free(stream);
    pieces_cancel_free(f.cancel);
    pieces_client_free(f.client);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s BASE_URL\n", argv[0]);
        return 2;
    }
    start_server();
    test_null_arguments();
    test_interrupt_a_blocked_call();
    test_trigger_a_bound_blocked_call();
    test_binding(argv[1]);
    test_from_a_stream_callback(argv[1]);
    stop_server();
    printf("test_interrupt: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
