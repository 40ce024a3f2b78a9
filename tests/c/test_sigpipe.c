/*
 * A C host that installs no SIGPIPE handler must survive the server closing a connection while the
 * library is still writing a request to it.
 *
 * On Linux a write to a socket whose peer has gone raises SIGPIPE, whose default action kills the
 * process, unless the write is a send() with MSG_NOSIGNAL. Rust's std uses send(MSG_NOSIGNAL) for
 * TcpStream::write but plain writev(2) for TcpStream::write_vectored, and Rust programs only survive
 * because their runtime ignores SIGPIPE before main. A C host has no such runtime, so a single vectored
 * write anywhere on the library's socket path would kill it.
 *
 * The test:
 *  1. forces SIGPIPE to its default action and unblocks it (whatever the caller inherited);
 *  2. runs a loopback server that reads a request head, sends FIN, waits a moment, then closes with
 *     the body unread (so the kernel answers the rest of the body with RST, and the writer's socket,
 *     already half-closed, reports EPIPE: the signal-raising error);
 *  3. control: a forked child writes to that server with writev(2) and must die of SIGPIPE, which
 *     proves the server really provokes the signal (without this the test could pass vacuously);
 *  4. the library POSTs a 16 MB profile to the same server several times: every call must return
 *     PIECES_ERR_CONNECTION with a readable last error, and the process must still be alive. At least
 *     one call must have seen EPIPE ("Broken pipe"), so the signal-raising path was really exercised.
 *
 * No valgrind needed: the property is about signals, and the bad-input test covers leaks.
 */
#define _POSIX_C_SOURCE 200809L

#include "pieces_user.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failed;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            failed++;                                                          \
            fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                      \
    } while (0)

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The server: for every connection, read up to the end of the request head, send FIN, give it time
 * to arrive, then close with the body unread. */
static void *hang_up_server(void *arg) {
    int listener = *(int *)arg;
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) {
            return NULL; /* the listener was shut down: the test is over */
        }
        char buf[4096];
        size_t seen = 0;
        char tail[4] = {0};
        int head_done = 0;
        while (!head_done) {
            ssize_t n = read(fd, buf, sizeof buf);
            if (n <= 0) {
                break;
            }
            /* Look for CRLFCRLF across reads; bytes after it are body and stay unread in spirit. */
            for (ssize_t i = 0; i < n && !head_done; i++) {
                memmove(tail, tail + 1, 3);
                tail[3] = buf[i];
                head_done = memcmp(tail, "\r\n\r\n", 4) == 0;
            }
            seen += (size_t)n;
        }
        (void)seen;
        shutdown(fd, SHUT_WR);
        sleep_ms(50);
        close(fd);
    }
}

static int start_server(int *port, pthread_t *thread, int *listener_out) {
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    if (listener < 0) {
        return -1;
    }
    /* A small receive buffer (inherited by accepted sockets) keeps the client's writes blocked in
     * the kernel, so the close lands mid-write rather than after the body was already buffered. */
    int small = 4096;
    setsockopt(listener, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 16) != 0 ||
        getsockname(listener, (struct sockaddr *)&addr, &len) != 0) {
        close(listener);
        return -1;
    }
    *port = ntohs(addr.sin_port);
    *listener_out = listener;
    static int listener_for_thread;
    listener_for_thread = listener;
    return pthread_create(thread, NULL, hang_up_server, &listener_for_thread);
}

/* The control: a child that writes like Rust's write_vectored does (writev, no MSG_NOSIGNAL) must be
 * killed by SIGPIPE. Returns 1 if it was. */
static int writev_dies_of_sigpipe(int port) {
    pid_t pid = fork();
    if (pid < 0) {
        return 0;
    }
    if (pid == 0) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in addr;
        memset(&addr, 0, sizeof addr);
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons((uint16_t)port);
        if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
            _exit(2);
        }
        static const char head[] = "POST /user/update HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n";
        static char chunk[65536];
        struct iovec iov[2] = {{(void *)head, sizeof head - 1}, {chunk, sizeof chunk}};
        for (int i = 0; i < 4096; i++) {
            if (writev(fd, iov, 2) < 0 && errno != EINTR && errno != ECONNRESET) {
                _exit(3); /* an error other than the signal: EPIPE returned means SIGPIPE is ignored */
            }
            iov[0].iov_len = 0;
        }
        _exit(4);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) {
        return 0;
    }
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE)) {
        fprintf(stderr, "control child: %s %d\n", WIFSIGNALED(status) ? "signal" : "exit",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        return 0;
    }
    return 1;
}

/* A valid UserProfile whose `name` is `size` bytes of 'x'. */
static char *big_profile(size_t size) {
    static const char prefix[] =
        "{\"id\":\"u-1\",\"aesthetics\":{\"font\":{\"size\":16},\"theme\":{\"dark\":true}},\"name\":\"";
    static const char suffix[] = "\"}";
    char *doc = (char *)malloc(sizeof prefix + size + sizeof suffix);
    if (doc == NULL) {
        return NULL;
    }
    memcpy(doc, prefix, sizeof prefix - 1);
    memset(doc + sizeof prefix - 1, 'x', size);
    memcpy(doc + sizeof prefix - 1 + size, suffix, sizeof suffix);
    return doc;
}

int main(void) {
    /* The host under test installs no handler: make sure of it, whatever this process inherited. */
    CHECK(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    CHECK(sigprocmask(SIG_UNBLOCK, &pipe_only, NULL) == 0);

    int port = 0;
    int listener = -1;
    pthread_t server;
    if (start_server(&port, &server, &listener) != 0) {
        fprintf(stderr, "could not start the loopback server\n");
        return 1;
    }

    CHECK(writev_dies_of_sigpipe(port));

    char config[256];
    snprintf(config, sizeof config,
             "{\"base_url\":\"http://127.0.0.1:%d\",\"timeout_ms\":20000}", port);
    PiecesClient *client = NULL;
    CHECK(pieces_client_new(config, &client) == PIECES_OK);
    char *doc = big_profile(16u << 20);
    CHECK(doc != NULL);

    int broken_pipes = 0;
    for (int round = 0; client != NULL && doc != NULL && round < 3; round++) {
        char *out = NULL;
        int32_t rc = pieces_user_update(client, doc, &out);
        CHECK(rc == PIECES_ERR_CONNECTION);
        CHECK(out == NULL);
        char *detail = NULL;
        CHECK(pieces_last_error(&detail) == PIECES_OK);
        if (detail != NULL) {
            fprintf(stderr, "round %d: %s\n", round, detail);
            CHECK(strstr(detail, "\"category\":\"connection\"") != NULL);
            if (strstr(detail, "Broken pipe") != NULL) {
                broken_pipes++;
            }
            pieces_string_free(detail);
        }
        if (rc == PIECES_OK) {
            pieces_string_free(out);
        }
    }
    /* EPIPE is the error that comes with SIGPIPE; seeing it proves the dangerous path was taken. */
    CHECK(broken_pipes > 0);

    free(doc);
    pieces_client_free(client);
    shutdown(listener, SHUT_RDWR);
    close(listener);
    pthread_join(server, NULL);

    if (failed) {
        fprintf(stderr, "test_sigpipe: %d check(s) failed\n", failed);
        return 1;
    }
    printf("test_sigpipe: survived %d broken pipe(s) with SIGPIPE at its default action\n", broken_pipes);
    return 0;
}
