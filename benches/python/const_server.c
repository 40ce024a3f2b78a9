/*
 * Constant loopback HTTP/1.1 server for benches/python_bench.py: GET answers the snapshot body,
 * POST the update body, both prepared once at start, keep-alive, one thread per connection.
 * It does no work per request beyond reading it, so client differences are all that is measured.
 *
 *   const_server SNAPSHOT_BODY_FILE UPDATE_BODY_FILE   (prints "PORT\n" once listening)
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../c/bench_util.h"

static char *g_get, *g_post;
static size_t g_get_len, g_post_len;

static char *load_response(const char *path, size_t *out_len) {
    size_t n;
    char *body = read_file(path, &n);
    char head[200];
    int h = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n", n);
    char *all = malloc((size_t)h + n);
    memcpy(all, head, (size_t)h);
    memcpy(all + h, body, n);
    free(body);
    *out_len = (size_t)h + n;
    return all;
}

static int send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void *serve(void *arg) {
    int fd = (int)(long)arg;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    size_t cap = 1 << 20, have = 0;
    char *buf = malloc(cap);
    for (;;) {
        /* Complete head in buf? */
        char *end = NULL;
        if (have >= 4) {
            buf[have] = 0;
            end = strstr(buf, "\r\n\r\n");
        }
        if (!end) {
            if (have + 1 >= cap) break;
            ssize_t r = recv(fd, buf + have, cap - have - 1, 0);
            if (r <= 0) break;
            have += (size_t)r;
            continue;
        }
        size_t head_len = (size_t)(end - buf) + 4, body_len = 0;
        for (char *line = buf; line < end; line = strstr(line, "\r\n") + 2) {
            if (strncasecmp(line, "content-length:", 15) == 0) body_len = strtoul(line + 15, NULL, 10);
        }
        while (have < head_len + body_len) {
            if (head_len + body_len + 1 > cap) goto done;
            ssize_t r = recv(fd, buf + have, cap - have - 1, 0);
            if (r <= 0) goto done;
            have += (size_t)r;
        }
        int post = strncmp(buf, "POST", 4) == 0;
        if (send_all(fd, post ? g_post : g_get, post ? g_post_len : g_get_len)) break;
        memmove(buf, buf + head_len + body_len, have - head_len - body_len);
        have -= head_len + body_len;
    }
done:
    free(buf);
    close(fd);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: const_server SNAPSHOT_BODY UPDATE_BODY\n"); return 2; }
    g_get = load_response(argv[1], &g_get_len);
    g_post = load_response(argv[2], &g_post_len);
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 64)) { perror("listen"); return 1; }
    socklen_t len = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &len);
    printf("%d\n", ntohs(a.sin_port));
    fflush(stdout);
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) continue;
        pthread_t t;
        pthread_create(&t, NULL, serve, (void *)(long)c);
        pthread_detach(t);
    }
}
