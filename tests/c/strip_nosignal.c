/*
 * LD_PRELOAD shim for the mutation check of test_sigpipe: send() and sendmsg() with MSG_NOSIGNAL
 * stripped, i.e. what the library's writes would be if they used writev(2). test_sigpipe must die of
 * SIGPIPE under it; if it does not, test_sigpipe is not testing what it claims to.
 */
#define _GNU_SOURCE

#include <dlfcn.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

ssize_t send(int fd, const void *buf, size_t len, int flags) {
    static ssize_t (*real_send)(int, const void *, size_t, int);
    if (real_send == NULL) {
        /* POSIX's way to turn dlsym's result into a function pointer without a pedantic warning. */
        *(void **)&real_send = dlsym(RTLD_NEXT, "send");
    }
    return real_send(fd, buf, len, flags & ~MSG_NOSIGNAL);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
    static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);
    if (real_sendmsg == NULL) {
        *(void **)&real_sendmsg = dlsym(RTLD_NEXT, "sendmsg");
    }
    return real_sendmsg(fd, msg, flags & ~MSG_NOSIGNAL);
}
