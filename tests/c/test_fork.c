/*
 * fork(): a client and its streams belong to the process that created them, as libcurl documents
 * for its handles. The parent holds a client with a pooled keep-alive connection, a pull stream and
 * a callback stream, all connected, then forks. In the child every call on them must return
 * PIECES_ERR_WRONG_PROCESS with a message (no panic, no I/O on the parent's sockets), freeing them
 * must not crash, and a new client made in the child works. The parent's client and streams must
 * not notice: a POST after the child has exited succeeds and the pull stream delivers its update
 * without having been disconnected.
 *
 * Run by tests/c/run.sh against the stand-in (base URL in argv[1]), plainly and under valgrind. The
 * child reports its checks through a pipe: under valgrind its exit status is valgrind's, which
 * counts the child's deliberate leak (pieces_client_free releases nothing there) as an error; that
 * run sets FORK_CHILD_EXIT_ANY=1 and --child-silent-after-fork=yes. The plain run requires exit 0.
 * Compiles as C11 and as C++17.
 */
#define _POSIX_C_SOURCE 200809L

#include "pieces_user.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define WAIT_MS 10000
#define PROFILE(vanity)                                                   \
    "{\"id\":\"u-fork\",\"vanityname\":\"" vanity "\","                 \
    "\"aesthetics\":{\"font\":{\"size\":14},\"theme\":{\"dark\":true}}}"

/* The callback stream's events, counted on its thread. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int users;
    int released;
} Counts;

static void on_event(void *user_data, int32_t kind, const char *json) {
    (void)json;
    Counts *c = (Counts *)user_data;
    pthread_mutex_lock(&c->mu);
    c->users += kind == PIECES_EVENT_USER;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void on_release(void *user_data) {
    Counts *c = (Counts *)user_data;
    pthread_mutex_lock(&c->mu);
    c->released++;
    pthread_mutex_unlock(&c->mu);
}

static int wait_for_users(Counts *c, int n) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += WAIT_MS / 1000;
    pthread_mutex_lock(&c->mu);
    while (c->users < n && pthread_cond_timedwait(&c->cv, &c->mu, &deadline) == 0) {
    }
    int reached = c->users >= n;
    pthread_mutex_unlock(&c->mu);
    return reached;
}

/* Takes pull events until one of `kind`; counts the connection trouble seen on the way. */
static int pull_until(PiecesStream *stream, int32_t want, int *trouble) {
    for (int waited = 0; waited < WAIT_MS; waited += 100) {
        int32_t kind = 0;
        char *json = NULL;
        int32_t rc = pieces_stream_next(stream, 100, &kind, &json);
        if (rc == PIECES_ERR_STREAM_TIMEOUT) {
            continue;
        }
        if (rc != PIECES_OK) {
            CHECK_CODE(rc, PIECES_OK);
            return 0;
        }
        pieces_string_free(json);
        if (kind == PIECES_EVENT_DISCONNECTED || kind == PIECES_EVENT_RECONNECTING ||
            kind == PIECES_EVENT_ERROR) {
            ++*trouble;
        }
        if (kind == want) {
            return 1;
        }
    }
    return 0;
}

/* The last error names the category and says what to do. */
static void check_wrong_process_detail(void) {
    char *detail = NULL;
    CHECK_CODE(pieces_last_error(&detail), PIECES_OK);
    if (detail != NULL) {
        CHECK(strstr(detail, "\"category\":\"wrong_process\"") != NULL);
        CHECK(strstr(detail, "another process") != NULL);
        CHECK(strstr(detail, "create a new one") != NULL);
        pieces_string_free(detail);
    }
}

#define CHECK_WRONG_PROCESS(expr)                          \
    do {                                                   \
        CHECK_CODE((expr), PIECES_ERR_WRONG_PROCESS);      \
        check_wrong_process_detail();                      \
    } while (0)

/* Everything a child may try on what it inherited; returns the number of failed checks. */
static int in_child(PiecesClient *client, PiecesStream *pull, PiecesStream *callback, Counts *counts,
                    const char *base_url) {
    char *out = NULL;
    CHECK_WRONG_PROCESS(pieces_user_snapshot(client, &out));
    CHECK_WRONG_PROCESS(pieces_user_refresh(client, &out));
    CHECK_WRONG_PROCESS(pieces_user_providers(client, &out));
    CHECK_WRONG_PROCESS(pieces_user_update(client, PROFILE("child"), &out));
    CHECK_WRONG_PROCESS(pieces_user_update_vanity(client, PROFILE("child"), &out));
    CHECK_WRONG_PROCESS(pieces_user_select(client, "{\"sub\":\"x\"}", &out));
    CHECK_WRONG_PROCESS(
        pieces_user_beta_status(client, "{\"user\":\"u\",\"beta\":\"b\",\"grant\":true}", &out));
    CHECK_WRONG_PROCESS(pieces_user_clear(client));
    /* The process is what is wrong, whatever else is: a NULL output, a body that is not UTF-8, or
     * malformed JSON still give PIECES_ERR_WRONG_PROCESS (the header's promise), not their own code. */
    CHECK_WRONG_PROCESS(pieces_user_snapshot(client, NULL));
    CHECK_WRONG_PROCESS(pieces_user_update(client, PROFILE("child"), NULL));
    CHECK_WRONG_PROCESS(pieces_user_update(client, "{\"id\":\"\xff\"}", &out));
    CHECK_WRONG_PROCESS(pieces_user_update(client, "{\"id\":", &out));
    CHECK_WRONG_PROCESS(pieces_user_select(client, NULL, &out));
    CHECK(out == NULL);
    CHECK_WRONG_PROCESS(pieces_user_stream_url(client, &out));
    CHECK(out == NULL);
    PiecesStream *started = NULL;
    CHECK_WRONG_PROCESS(pieces_user_stream_start(client, NULL, NULL, NULL, NULL, &started));
    CHECK(started == NULL);

    int32_t kind = 0;
    char *json = NULL;
    CHECK_WRONG_PROCESS(pieces_stream_next(pull, 0, &kind, &json));
    CHECK(json == NULL);
    CHECK_WRONG_PROCESS(pieces_stream_stop(pull));
    CHECK_WRONG_PROCESS(pieces_stream_stop(callback));
    pieces_stream_free(pull);
    pieces_stream_free(callback);
    pieces_client_free(client);
    /* The callback stream's thread does not exist here: nothing may have run its release. */
    CHECK(counts->released == 0);

    /* What the child makes for itself works. */
    char config[256];
    snprintf(config, sizeof config, "{\"base_url\":\"%s\",\"timeout_ms\":5000}", base_url);
    PiecesClient *own = NULL;
    CHECK_CODE(pieces_client_new(config, &own), PIECES_OK);
    CHECK_CODE(pieces_user_snapshot(own, &out), PIECES_OK);
    pieces_string_free(out);
    pieces_client_free(own);
    return failed;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s BASE_URL\n", argv[0]);
        return 2;
    }
    const char *base_url = argv[1];
    char config[256];
    snprintf(config, sizeof config,
             "{\"base_url\":\"%s\",\"timeout_ms\":5000}", base_url);
    PiecesClient *client = NULL;
    CHECK_CODE(pieces_client_new(config, &client), PIECES_OK);
    char *out = NULL;
    CHECK_CODE(pieces_user_update(client, PROFILE("before"), &out), PIECES_OK); /* pooled now */
    pieces_string_free(out);

    PiecesStream *pull = NULL;
    CHECK_CODE(pieces_user_stream_start(client, NULL, NULL, NULL, NULL, &pull), PIECES_OK);
    int trouble = 0;
    CHECK(pull_until(pull, PIECES_EVENT_USER, &trouble));
    Counts counts;
    memset(&counts, 0, sizeof counts);
    pthread_mutex_init(&counts.mu, NULL);
    pthread_cond_init(&counts.cv, NULL);
    PiecesStream *callback = NULL;
    CHECK_CODE(pieces_user_stream_start(client, NULL, on_event, &counts, on_release, &callback),
               PIECES_OK);
    CHECK(wait_for_users(&counts, 1));

    int verdict[2];
    CHECK(pipe(verdict) == 0);
    fflush(NULL);
    pid_t child = fork();
    if (child < 0) {
        perror("fork");
        return 1;
    }
    if (child == 0) {
        close(verdict[0]);
        int child_failed = in_child(client, pull, callback, &counts, base_url);
        ssize_t written = write(verdict[1], &child_failed, sizeof child_failed);
        _exit(written == (ssize_t)sizeof child_failed && child_failed == 0 ? 0 : 1);
    }
    close(verdict[1]);
    int child_failed = -1;
    CHECK(read(verdict[0], &child_failed, sizeof child_failed) == (ssize_t)sizeof child_failed);
    CHECK(child_failed == 0);
    close(verdict[0]);
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status));
    const char *exit_any = getenv("FORK_CHILD_EXIT_ANY");
    if (exit_any == NULL || *exit_any == '\0') {
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "    child killed by signal %d\n", WTERMSIG(status));
    }

    /* The parent's client, pool and streams are untouched. */
    pthread_mutex_lock(&counts.mu);
    int users_before = counts.users;
    pthread_mutex_unlock(&counts.mu);
    CHECK_CODE(pieces_user_update(client, PROFILE("after"), &out), PIECES_OK);
    pieces_string_free(out);
    trouble = 0;
    CHECK(pull_until(pull, PIECES_EVENT_USER, &trouble));
    CHECK(trouble == 0);
    CHECK(wait_for_users(&counts, users_before + 1));

    CHECK_CODE(pieces_stream_stop(pull), PIECES_OK);
    CHECK_CODE(pieces_stream_stop(callback), PIECES_OK);
    CHECK(counts.released == 1);
    pieces_stream_free(pull);
    pieces_stream_free(callback);
    pieces_client_free(client);
    pthread_mutex_destroy(&counts.mu);
    pthread_cond_destroy(&counts.cv);

    printf("test_fork: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
