/*
 * The user stream through the C ABI, against a running stand-in (its base URL is argv[1]):
 * callback order, release exactly once, stop from inside the callback, free without stop, stop while
 * backing off, the client freed before its stream, the pull API (timeout, overflow accounting, end),
 * failed starts, and 100 start/stop cycles (run under valgrind by tests/c/run.sh).
 *
 * Waits are condition-variable waits with deadlines; nothing sleeps to synchronise.
 * Compiles as C11 and as C++17.
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

/* Bounds a failing wait; a passing test never waits this long. */
#define WAIT_MS 10000
#define MAX_EVENTS 512
/* Fast reconnects; pings a minute apart, so a stop must wake the stream's blocked read (one that
 * waited for the next ping would miss the WAIT_MS bound), and a pong that a loaded machine delays
 * cannot end a connection. Pings themselves are tested by the Rust suite. */
#define FAST_OPTIONS \
    "{\"reconnect_min_ms\":10,\"reconnect_max_ms\":50,\"ping_interval_ms\":60000,\"ping_timeout_ms\":5000}"

/* What one callback stream has told us; shared between its thread and the test's. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int kinds[MAX_EVENTS];
    int count;
    /* Vanity tags of user events ("c7" → 7), -1 when the profile has another vanity. */
    int tags[MAX_EVENTS];
    int released;
    int events_after_release;
    /* Set by a test that wants the callback to stop its own stream at the first user event. */
    PiecesStream *self;
    int stop_on_user;
    /* Set by a test that wants the callback to free its own stream at the first user event. */
    int free_on_user;
} Events;

static void events_init(Events *e) {
    memset(e, 0, sizeof *e);
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
}

static void events_destroy(Events *e) {
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
}

static int vanity_tag(const char *json) {
    const char *p = strstr(json, "\"vanityname\":\"c");
    return p == NULL ? -1 : atoi(p + strlen("\"vanityname\":\"c"));
}

static void on_event(void *user_data, int32_t kind, const char *json) {
    Events *e = (Events *)user_data;
    pthread_mutex_lock(&e->mu);
    if (e->released) {
        e->events_after_release++;
    }
    if (e->count < MAX_EVENTS) {
        e->tags[e->count] = kind == PIECES_EVENT_USER ? vanity_tag(json) : -1;
        e->kinds[e->count++] = kind;
    }
    int stop = e->stop_on_user && kind == PIECES_EVENT_USER && e->self != NULL;
    PiecesStream *to_free = NULL;
    if (e->free_on_user && kind == PIECES_EVENT_USER && e->self != NULL) {
        to_free = e->self;
        e->self = NULL;
    }
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    if (stop) {
        /* From inside our own callback: only signals, must not deadlock. */
        CHECK_CODE(pieces_stream_stop(e->self), PIECES_OK);
    }
    if (to_free != NULL) {
        /* Frees the handle; the thread ends on its own after this callback returns. */
        pieces_stream_free(to_free);
    }
}

static void on_release(void *user_data) {
    Events *e = (Events *)user_data;
    pthread_mutex_lock(&e->mu);
    e->released++;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

static void deadline_in(struct timespec *ts, int ms) {
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* Waits until the n-th (1-based) event of `kind` has arrived; true if it did in time. */
static int wait_for(Events *e, int32_t kind, int n) {
    struct timespec deadline;
    deadline_in(&deadline, WAIT_MS);
    pthread_mutex_lock(&e->mu);
    int found = 0;
    for (;;) {
        int seen = 0;
        for (int i = 0; i < e->count; i++) {
            seen += e->kinds[i] == kind;
        }
        if (seen >= n) {
            found = 1;
            break;
        }
        if (pthread_cond_timedwait(&e->cv, &e->mu, &deadline) != 0) {
            break;
        }
    }
    pthread_mutex_unlock(&e->mu);
    if (!found) {
        fprintf(stderr, "    no event %d (#%d) within %d ms\n", kind, n, WAIT_MS);
    }
    return found;
}

static int wait_released(Events *e) {
    struct timespec deadline;
    deadline_in(&deadline, WAIT_MS);
    pthread_mutex_lock(&e->mu);
    while (e->released == 0 && pthread_cond_timedwait(&e->cv, &e->mu, &deadline) == 0) {
    }
    int released = e->released;
    pthread_mutex_unlock(&e->mu);
    return released;
}

static PiecesClient *client_for(const char *base_url) {
    char config[256];
    snprintf(config, sizeof config, "{\"base_url\":\"%s\",\"timeout_ms\":5000}", base_url);
    PiecesClient *client = NULL;
    CHECK_CODE(pieces_client_new(config, &client), PIECES_OK);
    return client;
}

static void update_vanity_tag(PiecesClient *client, int tag) {
    char profile[256];
    snprintf(profile, sizeof profile,
             "{\"id\":\"u-1\",\"vanityname\":\"c%d\","
             "\"aesthetics\":{\"font\":{\"size\":14},\"theme\":{\"dark\":true}}}",
             tag);
    char *out = NULL;
    CHECK_CODE(pieces_user_update(client, profile, &out), PIECES_OK);
    pieces_string_free(out);
}

static PiecesStream *start_callback(PiecesClient *client, const char *options, Events *e) {
    PiecesStream *stream = NULL;
    CHECK_CODE(pieces_user_stream_start(client, options, on_event, e, on_release, &stream),
               PIECES_OK);
    return stream;
}

/* A port nothing listens on. */
static int closed_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    bind(fd, (struct sockaddr *)&addr, sizeof addr);
    getsockname(fd, (struct sockaddr *)&addr, &len);
    close(fd);
    return ntohs(addr.sin_port);
}

/* --------------------------------------------------------------------------------------------- */

static void test_callback_order_and_release(const char *base_url) {
    PiecesClient *client = client_for(base_url);
    Events e;
    events_init(&e);
    PiecesStream *stream = start_callback(client, FAST_OPTIONS, &e);
    CHECK(wait_for(&e, PIECES_EVENT_CONNECTED, 1));
    CHECK(wait_for(&e, PIECES_EVENT_USER, 2)); /* GET /user, then the push on connect */
    for (int i = 0; i < 20; i++) {
        update_vanity_tag(client, i);
    }
    CHECK(wait_for(&e, PIECES_EVENT_USER, 22));
    pthread_mutex_lock(&e.mu);
    int next = 0;
    for (int i = 0; i < e.count; i++) {
        if (e.kinds[i] == PIECES_EVENT_USER && e.tags[i] >= 0) {
            CHECK(e.tags[i] == next);
            next++;
        }
    }
    pthread_mutex_unlock(&e.mu);
    CHECK(next == 20);
    CHECK(e.kinds[0] == PIECES_EVENT_CONNECTED);

    double t0 = now_ms();
    CHECK_CODE(pieces_stream_stop(stream), PIECES_OK);
    CHECK(now_ms() - t0 < WAIT_MS);
    /* stop blocked until the thread ended: STOPPED was the last callback and release has run. */
    CHECK(e.kinds[e.count - 1] == PIECES_EVENT_STOPPED);
    CHECK(e.released == 1);
    CHECK_CODE(pieces_stream_stop(stream), PIECES_OK); /* idempotent */
    int32_t kind = 0;
    char *json = NULL;
    CHECK_CODE(pieces_stream_next(stream, 0, &kind, &json), PIECES_ERR_INVALID_ARGUMENT);
    pieces_stream_free(stream);
    CHECK(e.released == 1 && e.events_after_release == 0);
    events_destroy(&e);
    pieces_client_free(client);
}

static void test_stop_from_inside_the_callback(const char *base_url) {
    PiecesClient *client = client_for(base_url);
    Events e;
    events_init(&e);
    e.stop_on_user = 1;
    pthread_mutex_lock(&e.mu); /* the callback reads `self` under the lock */
    PiecesStream *stream = start_callback(client, FAST_OPTIONS, &e);
    e.self = stream;
    pthread_mutex_unlock(&e.mu);
    CHECK(wait_for(&e, PIECES_EVENT_STOPPED, 1));
    CHECK(wait_released(&e) == 1);
    pieces_stream_free(stream);
    CHECK(e.released == 1 && e.events_after_release == 0);
    events_destroy(&e);
    pieces_client_free(client);
}

static void test_free_from_inside_the_callback(const char *base_url) {
    PiecesClient *client = client_for(base_url);
    Events e;
    events_init(&e);
    e.free_on_user = 1;
    pthread_mutex_lock(&e.mu);
    e.self = start_callback(client, FAST_OPTIONS, &e);
    pthread_mutex_unlock(&e.mu);
    CHECK(wait_for(&e, PIECES_EVENT_STOPPED, 1));
    CHECK(wait_released(&e) == 1);
    /* release ran after the last callback, on the stream thread; the thread has ended by now or
     * will without touching `e` again. */
    CHECK(e.events_after_release == 0);
    events_destroy(&e);
    pieces_client_free(client);
}

static void test_free_without_stop_and_client_freed_first(const char *base_url) {
    PiecesClient *client = client_for(base_url);
    Events e;
    events_init(&e);
    PiecesStream *stream = start_callback(client, FAST_OPTIONS, &e);
    CHECK(wait_for(&e, PIECES_EVENT_USER, 2));
    pieces_client_free(client); /* the stream keeps what it needs */
    PiecesClient *other = client_for(base_url);
    update_vanity_tag(other, 500);
    CHECK(wait_for(&e, PIECES_EVENT_USER, 3));
    pieces_stream_free(stream); /* stops, waits, frees */
    CHECK(e.released == 1);
    CHECK(e.kinds[e.count - 1] == PIECES_EVENT_STOPPED);
    events_destroy(&e);
    pieces_client_free(other);
}

static void test_stop_while_backing_off(void) {
    char base_url[64];
    snprintf(base_url, sizeof base_url, "http://127.0.0.1:%d", closed_port());
    PiecesClient *client = client_for(base_url);
    Events e;
    events_init(&e);
    /* A back-off far beyond WAIT_MS: only a free that waited it out misses the bound. */
    PiecesStream *stream =
        start_callback(client, "{\"reconnect_min_ms\":60000,\"reconnect_max_ms\":120000}", &e);
    CHECK(wait_for(&e, PIECES_EVENT_ERROR, 1));
    CHECK(wait_for(&e, PIECES_EVENT_RECONNECTING, 1));
    double t0 = now_ms();
    pieces_stream_free(stream);
    CHECK(now_ms() - t0 < WAIT_MS);
    CHECK(e.released == 1);
    events_destroy(&e);
    pieces_client_free(client);
}

static void test_failed_starts_keep_user_data(const char *base_url) {
    PiecesClient *client = client_for(base_url);
    Events e;
    events_init(&e);
    PiecesStream *stream = (PiecesStream *)(void *)&e;
    CHECK_CODE(pieces_user_stream_start(client, "{\"ping_ms\":1}", on_event, &e, on_release, &stream),
               PIECES_ERR_INVALID_ARGUMENT);
    CHECK(stream == (PiecesStream *)(void *)&e);
    char *detail = NULL;
    CHECK_CODE(pieces_last_error(&detail), PIECES_OK);
    CHECK(strstr(detail, "ping_ms") != NULL);
    pieces_string_free(detail);
    CHECK_CODE(pieces_user_stream_start(client, "{", on_event, &e, on_release, &stream),
               PIECES_ERR_MALFORMED_JSON);
    CHECK_CODE(pieces_user_stream_start(NULL, NULL, on_event, &e, on_release, &stream),
               PIECES_ERR_NULL_POINTER);
    CHECK_CODE(pieces_user_stream_start(client, NULL, on_event, &e, on_release, NULL),
               PIECES_ERR_NULL_POINTER);
    CHECK_CODE(pieces_user_stream_start(client, NULL, NULL, &e, on_release, &stream),
               PIECES_ERR_INVALID_ARGUMENT);
    CHECK(e.released == 0 && e.count == 0);
    CHECK_CODE(pieces_stream_stop(NULL), PIECES_ERR_NULL_POINTER);
    pieces_stream_free(NULL);
    events_destroy(&e);
    pieces_client_free(client);
}

/* Takes pull events until `want_tag` arrives; counts users seen and events reported dropped. */
static void drain_until_tag(PiecesStream *stream, int want_tag, int *users, long *dropped) {
    for (;;) {
        int32_t kind = 0;
        char *json = NULL;
        int32_t rc = pieces_stream_next(stream, WAIT_MS, &kind, &json);
        CHECK_CODE(rc, PIECES_OK);
        if (rc != PIECES_OK) {
            return;
        }
        int tag = kind == PIECES_EVENT_USER ? vanity_tag(json) : -1;
        if (kind == PIECES_EVENT_OVERFLOW) {
            *dropped += atol(strchr(json, ':') + 1);
        } else if (kind == PIECES_EVENT_USER) {
            (*users)++;
        } else {
            fprintf(stderr, "    unexpected event %d: %s\n", kind, json);
            failed++;
        }
        pieces_string_free(json);
        if (tag == want_tag) {
            return;
        }
    }
}

static void test_pull(const char *base_url) {
    PiecesClient *client = client_for(base_url);
    PiecesStream *stream = NULL;
    CHECK_CODE(pieces_user_stream_start(client,
                                        "{\"queue_size\":2,\"ping_interval_ms\":200}",
                                        NULL, NULL, NULL, &stream),
               PIECES_OK);
    int32_t kind = 0;
    char *json = NULL;
    CHECK_CODE(pieces_stream_next(stream, WAIT_MS, &kind, &json), PIECES_OK);
    CHECK(kind == PIECES_EVENT_CONNECTED && strstr(json, "ws://") != NULL);
    pieces_string_free(json);
    for (int i = 0; i < 2; i++) { /* GET /user, then the push on connect */
        CHECK_CODE(pieces_stream_next(stream, WAIT_MS, &kind, &json), PIECES_OK);
        CHECK(kind == PIECES_EVENT_USER);
        pieces_string_free(json);
    }
    /* Nothing pending: a timeout leaves the outputs alone. */
    kind = -1;
    json = NULL;
    CHECK_CODE(pieces_stream_next(stream, 20, &kind, &json), PIECES_ERR_STREAM_TIMEOUT);
    CHECK(kind == -1 && json == NULL);

    /* The host falls behind by 30 changes with room for 2: every change is either delivered or
     * counted in an overflow event, and the newest one is delivered. */
    for (int i = 0; i < 30; i++) {
        update_vanity_tag(client, 1000 + i);
    }
    int users = 0;
    long dropped = 0;
    drain_until_tag(stream, 1029, &users, &dropped);
    CHECK(users + dropped == 30);
    printf("pull: 30 changes, %d delivered, %ld dropped\n", users, dropped);

    CHECK_CODE(pieces_stream_stop(stream), PIECES_OK);
    int last = 0;
    int32_t rc;
    while ((rc = pieces_stream_next(stream, WAIT_MS, &kind, &json)) == PIECES_OK) {
        last = kind;
        pieces_string_free(json);
    }
    CHECK_CODE(rc, PIECES_ERR_STREAM_ENDED);
    CHECK(last == PIECES_EVENT_STOPPED);
    CHECK_CODE(pieces_stream_next(stream, 0, &kind, NULL), PIECES_ERR_NULL_POINTER);
    CHECK_CODE(pieces_stream_next(stream, -5, &kind, &json), PIECES_ERR_INVALID_ARGUMENT);
    pieces_stream_free(stream);
    pieces_client_free(client);
}

static void test_start_stop_cycles(const char *base_url) {
    PiecesClient *client = client_for(base_url);
    int released = 0;
    for (int i = 0; i < 100; i++) {
        Events e;
        events_init(&e);
        PiecesStream *stream = start_callback(client, FAST_OPTIONS, &e);
        if (i % 2 == 0) {
            CHECK(wait_for(&e, PIECES_EVENT_USER, 1)); /* stop a live connection */
        }                                             /* odd: stop before it connects */
        CHECK_CODE(pieces_stream_stop(stream), PIECES_OK);
        pieces_stream_free(stream);
        released += e.released;
        events_destroy(&e);
    }
    CHECK(released == 100);
    pieces_client_free(client);
}

int main(int argc, char **argv) {
    if (argc != 2 || strncmp(argv[1], "http://", 7) != 0) {
        fprintf(stderr, "usage: %s http://127.0.0.1:PORT   (a running pieces-standin)\n", argv[0]);
        return 2;
    }
    const char *base_url = argv[1];
    test_failed_starts_keep_user_data(base_url);
    test_callback_order_and_release(base_url);
    test_stop_from_inside_the_callback(base_url);
    test_free_from_inside_the_callback(base_url);
    test_free_without_stop_and_client_freed_first(base_url);
    test_stop_while_backing_off();
    test_pull(base_url);
    test_start_stop_cycles(base_url);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
