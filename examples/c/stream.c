/*
 * Follows the signed-in user of a Pieces OS: prints every stream event until N events have arrived or
 * Ctrl-C is pressed.
 *
 *     stream [--update] [N] [BASE_URL]     (no BASE_URL: discover Pieces OS)
 *
 * --update: after the first user event, change the vanity name through the REST API, to show the
 * change arriving on the stream. N defaults to 0 (no limit).
 *
 * The callback runs on the stream's own thread; this example hands the count to the main thread
 * with a mutex and a condition variable, and the main thread stops the stream (which waits until the
 * last callback has returned) before freeing anything.
 */
#define _POSIX_C_SOURCE 200809L

#include "pieces_user.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int count;
    int users;
} Progress;

static const char *kind_name(int32_t kind) {
    switch (kind) {
    case PIECES_EVENT_CONNECTED: return "connected";
    case PIECES_EVENT_USER: return "user";
    case PIECES_EVENT_SIGNED_OUT: return "signed_out";
    case PIECES_EVENT_ERROR: return "error";
    case PIECES_EVENT_DISCONNECTED: return "disconnected";
    case PIECES_EVENT_RECONNECTING: return "reconnecting";
    case PIECES_EVENT_OVERFLOW: return "overflow";
    case PIECES_EVENT_STOPPED: return "stopped";
    default: return "unknown";
    }
}

/* Prints JSON on one line (white space collapsed), cut after 100 characters. */
static void print_compact(const char *json) {
    int printed = 0;
    int space = 0;
    for (const char *c = json; *c != '\0' && printed < 100; c++) {
        if (*c == ' ' || *c == '\n' || *c == '\r' || *c == '\t') {
            space = 1;
            continue;
        }
        if (space && printed > 0) {
            putchar(' ');
            printed++;
        }
        space = 0;
        putchar(*c);
        printed++;
    }
    puts(printed >= 100 ? "..." : "");
}

/* `json` is borrowed for this call only: print it now. */
static void on_event(void *user_data, int32_t kind, const char *json) {
    Progress *p = (Progress *)user_data;
    printf("%-12s ", kind_name(kind));
    print_compact(json);
    fflush(stdout);
    pthread_mutex_lock(&p->mu);
    p->count++;
    p->users += kind == PIECES_EVENT_USER;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void print_error(const char *what) {
    char *detail = NULL;
    if (pieces_last_error(&detail) == PIECES_OK) {
        fprintf(stderr, "%s: %s\n", what, detail);
        pieces_string_free(detail);
    }
}

static void change_vanity(PiecesClient *client) {
    const char *profile =
        "{\"id\":\"u-1\",\"vanityname\":\"from-the-demo\","
        "\"aesthetics\":{\"font\":{\"size\":15},\"theme\":{\"dark\":true}}}";
    char *out = NULL;
    printf("-- updating the profile through POST /user/update\n");
    if (pieces_user_update(client, profile, &out) == PIECES_OK) {
        pieces_string_free(out);
    } else {
        print_error("update");
    }
}

/* Waits up to 200 ms for progress; short so that Ctrl-C is noticed promptly. */
static void wait_a_little(Progress *p, int seen) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 200L * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    if (p->count == seen) {
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
    pthread_mutex_unlock(&p->mu);
}

int main(int argc, char **argv) {
    int update = 0;
    int limit = 0;
    const char *base_url = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--update") == 0) {
            update = 1;
        } else if (strncmp(argv[i], "http", 4) == 0) {
            base_url = argv[i];
        } else {
            limit = atoi(argv[i]);
        }
    }
    signal(SIGINT, on_sigint);

    /* Without a URL, discovery finds Pieces OS (port file, 39300-39333, legacy ports). */
    char config[256];
    if (base_url != NULL) {
        snprintf(config, sizeof config, "{\"base_url\":\"%s\"}", base_url);
    } else {
        snprintf(config, sizeof config, "{\"discovery\":true}");
    }
    PiecesClient *client = NULL;
    if (pieces_client_new(config, &client) != PIECES_OK) {
        print_error("client");
        return 1;
    }
    Progress progress;
    memset(&progress, 0, sizeof progress);
    pthread_mutex_init(&progress.mu, NULL);
    pthread_cond_init(&progress.cv, NULL);

    PiecesStream *stream = NULL;
    if (pieces_user_stream_start(client, NULL, on_event, &progress, NULL, &stream) != PIECES_OK) {
        print_error("stream");
        pieces_client_free(client);
        return 1;
    }
    int updated = 0;
    for (;;) {
        pthread_mutex_lock(&progress.mu);
        int count = progress.count;
        int users = progress.users;
        pthread_mutex_unlock(&progress.mu);
        if (interrupted || (limit > 0 && count >= limit)) {
            break;
        }
        if (update && !updated && users > 0) {
            change_vanity(client);
            updated = 1;
        }
        wait_a_little(&progress, count);
    }
    /* Shutdown order: stop (waits for the last callback), free the stream, then the client. */
    pieces_stream_stop(stream);
    pieces_stream_free(stream);
    pieces_client_free(client);
    pthread_mutex_destroy(&progress.mu);
    pthread_cond_destroy(&progress.cv);
    return 0;
}
