/*
 * The assertion helpers the C tests share: counters, CHECK and CHECK_CODE (which print the failing
 * expression, the status names and the thread's pieces_last_error), and the closing line that the
 * test runners read ("N passed, M failed"). Include after pieces_user.h and <stdio.h>.
 */
#ifndef PIECES_TEST_CHECK_H
#define PIECES_TEST_CHECK_H

static int passed;
static int failed;

/* Prints the calling thread's last error; reading it does not change it. */
static void print_last_error(void) {
    char *detail = NULL;
    if (pieces_last_error(&detail) == PIECES_OK) {
        fprintf(stderr, "    last error: %s\n", detail);
        pieces_string_free(detail);
    }
}

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (cond) {                                                            \
            passed++;                                                          \
        } else {                                                               \
            failed++;                                                          \
            fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond); \
            print_last_error();                                                \
        }                                                                      \
    } while (0)

/* Checks a status code, printing both names when it differs. */
#define CHECK_CODE(expr, want)                                                     \
    do {                                                                           \
        int32_t got_ = (expr);                                                     \
        if (got_ == (want)) {                                                      \
            passed++;                                                              \
        } else {                                                                   \
            failed++;                                                              \
            fprintf(stderr, "%s:%d: FAILED: %s\n    got  %s\n    want %s\n",       \
                    __FILE__, __LINE__, #expr, pieces_status_str(got_),            \
                    pieces_status_str(want));                                      \
            print_last_error();                                                    \
        }                                                                          \
    } while (0)

#endif
