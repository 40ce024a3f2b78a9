/*
 * Bad input at the C boundary, table-driven: every export of pieces_user.h with NULL in every pointer
 * position, invalid UTF-8, text that is not JSON, JSON of the wrong type, 10 MB strings, 100,000
 * nested arrays and objects (stack safety: the parsers have a nesting limit of 128), and numbers out of
 * range. Every case must return its documented status code, leave the out-argument untouched and
 * leave a readable, bounded pieces_last_error (a 10 MB input must not come back as a 10 MB message).
 *
 * Needs no server: request documents are checked before anything is sent, and the client points at a
 * port where nothing listens, so a document that passes the checks ends in PIECES_ERR_CONNECTION.
 * Run under valgrind and, built with -fsanitize=address, under ASan + LeakSanitizer (tests/c/run.sh).
 */
#define _POSIX_C_SOURCE 200809L

#include "pieces_user.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed;
static int failed;

#define FAIL(...)                                  \
    do {                                           \
        failed++;                                  \
        fprintf(stderr, "%s:%d: FAILED: ", __FILE__, __LINE__); \
        fprintf(stderr, __VA_ARGS__);              \
        fputc('\n', stderr);                       \
    } while (0)

#define CHECK(cond)                  \
    do {                             \
        if (cond) {                  \
            passed++;                \
        } else {                     \
            FAIL("%s", #cond);       \
        }                            \
    } while (0)

/* Any bad-input message is short: it names the argument or the path, never echoes the input. */
#define MAX_DETAIL_BYTES 2048

static char sentinel_byte;
#define SENTINEL_STR (&sentinel_byte)

/* Checks the last error after a failing call that returned `code`: it is readable JSON naming that
 * code, with a non-empty message, and bounded in size. */
static void check_last_error(const char *what, int32_t code) {
    char *detail = NULL;
    if (pieces_last_error(&detail) != PIECES_OK || detail == NULL) {
        FAIL("%s: pieces_last_error failed", what);
        return;
    }
    char want[48];
    snprintf(want, sizeof want, "{\"code\":%d,", (int)code);
    size_t len = strlen(detail);
    if (strncmp(detail, want, strlen(want)) != 0) {
        FAIL("%s: last error is not for code %d: %.300s", what, (int)code, detail);
    } else if (strstr(detail, "\"message\":\"\"") != NULL || strstr(detail, "\"message\":\"") == NULL) {
        FAIL("%s: last error has no message: %.300s", what, detail);
    } else if (len > MAX_DETAIL_BYTES) {
        FAIL("%s: last error is %zu bytes: %.300s...", what, len, detail);
    } else {
        passed++;
    }
    pieces_string_free(detail);
}

/* Checks a failing call's code, that it wrote nothing, and its last error. `alt` is a second code
 * accepted for the case (or -1). */
static void check_failure(const char *what, int32_t got, int32_t want, int32_t alt, char *out) {
    if (got != want && got != alt) {
        FAIL("%s: got %s, want %s", what, pieces_status_str(got), pieces_status_str(want));
        if (got == PIECES_OK && out != SENTINEL_STR) {
            pieces_string_free(out);
        }
        return;
    }
    passed++;
    if (out != SENTINEL_STR) {
        FAIL("%s: the out-argument was written on failure", what);
    }
    check_last_error(what, got);
}

/* ------------------------------------------------------------------------------------------------ */
/* Inputs built at run time. */

static char *repeat(const char *prefix, char c, size_t n, const char *suffix) {
    size_t p = strlen(prefix), s = strlen(suffix);
    char *out = (char *)malloc(p + n + s + 1);
    if (out == NULL) {
        abort();
    }
    memcpy(out, prefix, p);
    memset(out + p, c, n);
    memcpy(out + p + n, suffix, s + 1);
    return out;
}

/* `prefix` + `open` x depth + `middle` + `close` x depth + `suffix`; objects need a `middle` value
 * (`{"a":{"a":0}}`), arrays do not (`[[]]`). */
static char *nested_around(const char *prefix, const char *open, const char *middle, const char *close,
                           size_t depth, const char *suffix) {
    size_t p = strlen(prefix), o = strlen(open), m = strlen(middle), c = strlen(close), s = strlen(suffix);
    char *out = (char *)malloc(p + depth * (o + c) + m + s + 1);
    if (out == NULL) {
        abort();
    }
    char *w = out;
    memcpy(w, prefix, p);
    w += p;
    for (size_t i = 0; i < depth; i++, w += o) {
        memcpy(w, open, o);
    }
    memcpy(w, middle, m);
    w += m;
    for (size_t i = 0; i < depth; i++, w += c) {
        memcpy(w, close, c);
    }
    memcpy(w, suffix, s + 1);
    return out;
}

static char *nested(const char *prefix, const char *open, const char *close, size_t depth, const char *suffix) {
    /* Objects get the value their innermost key needs; arrays need none. */
    return nested_around(prefix, open, open[0] == '{' ? "0" : "", close, depth, suffix);
}

/* 10 MB by default; BAD_INPUT_BIG_BYTES shrinks it for slow runs (valgrind). */
static size_t TEN_MB = (size_t)10 << 20;
static size_t DEEP = 100000;

/* ------------------------------------------------------------------------------------------------ */
/* The request-body routes share one signature and one table of bad documents. */

typedef int32_t (*body_route)(const PiecesClient *, const char *, char **);
typedef int32_t (*plain_route)(const PiecesClient *, char **);

static const struct {
    const char *name;
    body_route fn;
    const char *arg;
} BODY_ROUTES[] = {
    {"pieces_user_select", pieces_user_select, "auth0_user_json"},
    {"pieces_user_update", pieces_user_update, "profile_json"},
    {"pieces_user_update_vanity", pieces_user_update_vanity, "profile_json"},
    {"pieces_user_beta_status", pieces_user_beta_status, "status_json"},
};

static const struct {
    const char *name;
    plain_route fn;
    const char *out;
} PLAIN_ROUTES[] = {
    {"pieces_user_snapshot", pieces_user_snapshot, "out_json"},
    {"pieces_user_refresh", pieces_user_refresh, "out_json"},
    {"pieces_user_providers", pieces_user_providers, "out_json"},
    {"pieces_user_stream_url", pieces_user_stream_url, "out_url"},
};

#define N_BODY (sizeof BODY_ROUTES / sizeof BODY_ROUTES[0])
#define N_PLAIN (sizeof PLAIN_ROUTES / sizeof PLAIN_ROUTES[0])

struct doc_case {
    const char *what;
    char *doc;          /* owned when `owned` */
    int owned;
    int32_t want;       /* for every body route */
    int32_t alt;        /* also accepted, or -1 */
};

#define PROFILE_HEAD_TEXT "{\"id\":\"u-1\",\"aesthetics\":{\"font\":{\"size\":16},\"theme\":{\"dark\":true}}"
static const char *const PROFILE_HEAD = PROFILE_HEAD_TEXT;

static char *profile_with(const char *tail) {
    size_t h = strlen(PROFILE_HEAD), t = strlen(tail);
    char *out = (char *)malloc(h + t + 2);
    if (out == NULL) {
        abort();
    }
    memcpy(out, PROFILE_HEAD, h);
    memcpy(out + h, tail, t);
    memcpy(out + h + t, "}", 2);
    return out;
}

static void test_body_routes(const PiecesClient *client) {
    struct doc_case cases[] = {
        /* Invalid UTF-8, in several shapes: stray continuation, truncated sequence, overlong
         * encoding, UTF-16 surrogate, bytes that never occur. */
        {"stray continuation byte", (char *)"{\"id\":\"\x80\"}", 0, PIECES_ERR_INVALID_UTF8, -1},
        {"truncated sequence", (char *)"{\"id\":\"\xe2\x82\"}", 0, PIECES_ERR_INVALID_UTF8, -1},
        {"overlong slash", (char *)"{\"id\":\"\xc0\xaf\"}", 0, PIECES_ERR_INVALID_UTF8, -1},
        {"encoded surrogate", (char *)"{\"id\":\"\xed\xa0\x80\"}", 0, PIECES_ERR_INVALID_UTF8, -1},
        {"0xff 0xfe", (char *)"\xff\xfe{}", 0, PIECES_ERR_INVALID_UTF8, -1},
        /* Not JSON at all. */
        {"empty", (char *)"", 0, PIECES_ERR_MALFORMED_JSON, -1},
        {"white space", (char *)" \n\t ", 0, PIECES_ERR_MALFORMED_JSON, -1},
        {"unterminated object", (char *)"{", 0, PIECES_ERR_MALFORMED_JSON, -1},
        {"unterminated string", (char *)"{\"id\":\"u-1", 0, PIECES_ERR_MALFORMED_JSON, -1},
        {"trailing garbage", (char *)"{} x", 0, PIECES_ERR_MALFORMED_JSON, -1},
        {"two documents", (char *)"{}{}", 0, PIECES_ERR_MALFORMED_JSON, -1},
        {"single quotes", (char *)"{'id':'u'}", 0, PIECES_ERR_MALFORMED_JSON, -1},
        {"trailing comma", (char *)"{\"id\":\"u\",}", 0, PIECES_ERR_MALFORMED_JSON, -1},
        {"bare word", (char *)"hello", 0, PIECES_ERR_MALFORMED_JSON, -1},
        {"NaN", (char *)"{\"x\":NaN}", 0, PIECES_ERR_MALFORMED_JSON, -1},
        {"bad escape", (char *)"{\"id\":\"\\q\"}", 0, PIECES_ERR_MALFORMED_JSON, -1},
        {"control character in a string", (char *)"{\"id\":\"a\x01z\"}", 0, PIECES_ERR_MALFORMED_JSON, -1},
        /* JSON of the wrong type at the top. */
        {"array", (char *)"[]", 0, PIECES_ERR_INVALID_DOCUMENT, -1},
        {"string", (char *)"\"{}\"", 0, PIECES_ERR_INVALID_DOCUMENT, -1},
        {"number", (char *)"42", 0, PIECES_ERR_INVALID_DOCUMENT, -1},
        {"null", (char *)"null", 0, PIECES_ERR_INVALID_DOCUMENT, -1},
        {"true", (char *)"true", 0, PIECES_ERR_INVALID_DOCUMENT, -1},
        /* Stack safety: far beyond any nesting limit, at the top and inside an unknown key. */
        {"100,000 nested arrays", nested("", "[", "]", DEEP, ""), 1, PIECES_ERR_MALFORMED_JSON, -1},
        /* An object of unknown key "a": skipped without recursion, then the required keys are missing
         * (Auth0User has none, so select accepts it and is refused the connection). */
        {"100,000 nested objects", nested("", "{\"a\":", "}", DEEP, ""), 1, PIECES_ERR_INVALID_DOCUMENT,
         PIECES_ERR_CONNECTION},
        {"100,000 unclosed arrays", repeat("", '[', DEEP, ""), 1, PIECES_ERR_MALFORMED_JSON, -1},
        /* 10 MB strings: of garbage, and inside documents. */
        {"10 MB of garbage", repeat("", 'x', TEN_MB, ""), 1, PIECES_ERR_MALFORMED_JSON, -1},
        {"10 MB of white space", repeat("", ' ', TEN_MB, ""), 1, PIECES_ERR_MALFORMED_JSON, -1},
        {"10 MB unterminated string", repeat("{\"id\":\"", 'x', TEN_MB, ""), 1, PIECES_ERR_MALFORMED_JSON, -1},
    };
    size_t n = sizeof cases / sizeof cases[0];
    for (size_t r = 0; r < N_BODY; r++) {
        for (size_t i = 0; i < n; i++) {
            char what[160];
            snprintf(what, sizeof what, "%s(%s)", BODY_ROUTES[r].name, cases[i].what);
            char *out = SENTINEL_STR;
            int32_t rc = BODY_ROUTES[r].fn(client, cases[i].doc, &out);
            check_failure(what, rc, cases[i].want, cases[i].alt, out);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (cases[i].owned) {
            free(cases[i].doc);
        }
    }
}

/* Valid documents for each body route with something huge in an unknown key. Unknown values are
 * skipped without recursion (serde_json's IgnoredAny keeps its own stack), so even 100,000 levels are
 * stack-safe; the documents fit their models and are sent, so they end in PIECES_ERR_CONNECTION. */
static void test_huge_unknown_keys(const PiecesClient *client) {
    static const char *const HEADS[N_BODY] = {
        "{\"user_id\":\"auth0|x\"", PROFILE_HEAD_TEXT, PROFILE_HEAD_TEXT, "{\"user\":\"u-1\"",
    };
    for (size_t r = 0; r < N_BODY; r++) {
        char *deep_tail = nested(",\"zz\":", "[", "]", DEEP, "}");
        char *key_tail = repeat(",\"", 'k', TEN_MB, "\":1}");
        char *docs[3];
        const char *names[3] = {"100,000 nested arrays in an unknown key", "a 10 MB unknown key",
                                "100,000 nested objects in an unknown key"};
        char *objects_tail = nested(",\"zz\":", "{\"a\":", "}", DEEP, "}");
        char *tails[3] = {deep_tail, key_tail, objects_tail};
        for (size_t i = 0; i < 3; i++) {
            size_t h = strlen(HEADS[r]), t = strlen(tails[i]);
            docs[i] = (char *)malloc(h + t + 1);
            if (docs[i] == NULL) {
                abort();
            }
            memcpy(docs[i], HEADS[r], h);
            memcpy(docs[i] + h, tails[i], t + 1);
            free(tails[i]);
        }
        for (size_t i = 0; i < 3; i++) {
            char what[160];
            snprintf(what, sizeof what, "%s(%s)", BODY_ROUTES[r].name, names[i]);
            char *out = SENTINEL_STR;
            int32_t rc = BODY_ROUTES[r].fn(client, docs[i], &out);
            check_failure(what, rc, PIECES_ERR_CONNECTION, -1, out);
            free(docs[i]);
        }
    }
}

/* Profile documents (for update and update_vanity) with values of the wrong type or out of range. */
static void test_profile_values(const PiecesClient *client) {
    struct doc_case cases[] = {
        {"id of the wrong type", (char *)"{\"id\":5,\"aesthetics\":{\"font\":{\"size\":16},\"theme\":{\"dark\":true}}}", 0,
         PIECES_ERR_INVALID_DOCUMENT, -1},
        /* Valid JSON, out of range: a document error at its path, not "not JSON". */
        {"font size 1e400", (char *)"{\"id\":\"u\",\"aesthetics\":{\"font\":{\"size\":1e400},\"theme\":{\"dark\":true}}}", 0,
         PIECES_ERR_INVALID_DOCUMENT, -1},
        {"font size 2^64", (char *)"{\"id\":\"u\",\"aesthetics\":{\"font\":{\"size\":18446744073709551616},\"theme\":{\"dark\":true}}}", 0,
         PIECES_ERR_INVALID_DOCUMENT, -1},
        {"font size -2^63-1", (char *)"{\"id\":\"u\",\"aesthetics\":{\"font\":{\"size\":-9223372036854775809},\"theme\":{\"dark\":true}}}", 0,
         PIECES_ERR_INVALID_DOCUMENT, -1},
        {"font size 1.5", (char *)"{\"id\":\"u\",\"aesthetics\":{\"font\":{\"size\":1.5},\"theme\":{\"dark\":true}}}", 0,
         PIECES_ERR_INVALID_DOCUMENT, -1},
        {"font size as a 10 MB string", NULL, 1, PIECES_ERR_INVALID_DOCUMENT, -1},
        {"font size with 10 MB of digits", NULL, 1, PIECES_ERR_INVALID_DOCUMENT, -1},
        /* Valid documents that are simply big: they pass the checks and fail only to connect. */
        {"a valid profile with a 10 MB name", NULL, 1, PIECES_ERR_CONNECTION, -1},
        /* At a known position the validator descends, with serde_json's nesting limit (128). */
        {"100,000 nested arrays as aesthetics", NULL, 1, PIECES_ERR_MALFORMED_JSON, -1},
        /* Nothing in the models nests objects in objects without end: the unknown key "a" is skipped
         * and font's required size is missing. */
        {"100,000 nested objects as aesthetics.font", NULL, 1, PIECES_ERR_INVALID_DOCUMENT, -1},
        /* One rule for every string, read or skipped. */
        {"a lone surrogate escape", (char *)"{\"id\":\"\\ud800\",\"aesthetics\":{\"font\":{\"size\":16},\"theme\":{\"dark\":true}}}", 0,
         PIECES_ERR_MALFORMED_JSON, -1},
        {"a lone surrogate escape under an unknown key", (char *)"{\"id\":\"u\",\"x\":\"\\ud800\",\"aesthetics\":{\"font\":{\"size\":16},\"theme\":{\"dark\":true}}}", 0,
         PIECES_ERR_MALFORMED_JSON, -1},
    };
    cases[5].doc = repeat("{\"id\":\"u\",\"aesthetics\":{\"font\":{\"size\":\"", '9', TEN_MB, "\"},\"theme\":{\"dark\":true}}}");
    cases[6].doc = repeat("{\"id\":\"u\",\"aesthetics\":{\"font\":{\"size\":", '9', TEN_MB, "},\"theme\":{\"dark\":true}}}");
    char *big_name = repeat(",\"name\":\"", 'n', TEN_MB, "\"");
    cases[7].doc = profile_with(big_name);
    free(big_name);
    cases[8].doc = nested("{\"id\":\"u\",\"aesthetics\":", "[", "]", DEEP, "}");
    cases[9].doc = nested("{\"id\":\"u\",\"aesthetics\":{\"theme\":{\"dark\":true},\"font\":", "{\"a\":", "}", DEEP, "}}");

    size_t n = sizeof cases / sizeof cases[0];
    for (size_t r = 1; r <= 2; r++) { /* update, update_vanity */
        for (size_t i = 0; i < n; i++) {
            char what[160];
            snprintf(what, sizeof what, "%s(%s)", BODY_ROUTES[r].name, cases[i].what);
            char *out = SENTINEL_STR;
            int32_t rc = BODY_ROUTES[r].fn(client, cases[i].doc, &out);
            check_failure(what, rc, cases[i].want, cases[i].alt, out);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (cases[i].owned) {
            free(cases[i].doc);
        }
    }
}

/* NULL in every pointer position of every export that takes pointers. */
static void test_null_pointers(const PiecesClient *client) {
    static const char *const DOCS[] = {
        "{\"user_id\":\"auth0|x\"}", "{\"id\":\"u\"}", "{\"id\":\"u\"}", "{\"user\":\"u\"}",
    };
    for (size_t r = 0; r < N_BODY; r++) {
        char what[160];
        char *out = SENTINEL_STR;
        snprintf(what, sizeof what, "%s(NULL client)", BODY_ROUTES[r].name);
        check_failure(what, BODY_ROUTES[r].fn(NULL, DOCS[r], &out), PIECES_ERR_NULL_POINTER, -1, out);
        snprintf(what, sizeof what, "%s(NULL %s)", BODY_ROUTES[r].name, BODY_ROUTES[r].arg);
        check_failure(what, BODY_ROUTES[r].fn(client, NULL, &out), PIECES_ERR_NULL_POINTER, -1, out);
        snprintf(what, sizeof what, "%s(NULL out_json)", BODY_ROUTES[r].name);
        check_failure(what, BODY_ROUTES[r].fn(client, DOCS[r], NULL), PIECES_ERR_NULL_POINTER, -1,
                      SENTINEL_STR);
        snprintf(what, sizeof what, "%s(all NULL)", BODY_ROUTES[r].name);
        check_failure(what, BODY_ROUTES[r].fn(NULL, NULL, NULL), PIECES_ERR_NULL_POINTER, -1, SENTINEL_STR);
    }
    for (size_t r = 0; r < N_PLAIN; r++) {
        char what[160];
        char *out = SENTINEL_STR;
        snprintf(what, sizeof what, "%s(NULL client)", PLAIN_ROUTES[r].name);
        check_failure(what, PLAIN_ROUTES[r].fn(NULL, &out), PIECES_ERR_NULL_POINTER, -1, out);
        snprintf(what, sizeof what, "%s(NULL %s)", PLAIN_ROUTES[r].name, PLAIN_ROUTES[r].out);
        check_failure(what, PLAIN_ROUTES[r].fn(client, NULL), PIECES_ERR_NULL_POINTER, -1, SENTINEL_STR);
        snprintf(what, sizeof what, "%s(all NULL)", PLAIN_ROUTES[r].name);
        check_failure(what, PLAIN_ROUTES[r].fn(NULL, NULL), PIECES_ERR_NULL_POINTER, -1, SENTINEL_STR);
    }
    check_failure("pieces_user_clear(NULL)", pieces_user_clear(NULL), PIECES_ERR_NULL_POINTER, -1,
                  SENTINEL_STR);

    PiecesClient *made = (PiecesClient *)(void *)SENTINEL_STR;
    check_failure("pieces_client_new(\"{}\", NULL)", pieces_client_new("{}", NULL),
                  PIECES_ERR_NULL_POINTER, -1, SENTINEL_STR);
    check_failure("pieces_client_new(NULL, NULL)", pieces_client_new(NULL, NULL),
                  PIECES_ERR_NULL_POINTER, -1, SENTINEL_STR);
    /* NULL config is the documented default, not an error. */
    CHECK(pieces_client_new(NULL, &made) == PIECES_OK && made != (PiecesClient *)(void *)SENTINEL_STR);
    pieces_client_free(made);

    check_failure("pieces_discover(\"{}\", NULL)", pieces_discover("{}", NULL), PIECES_ERR_NULL_POINTER,
                  -1, SENTINEL_STR);
    check_failure("pieces_discover(NULL, NULL)", pieces_discover(NULL, NULL), PIECES_ERR_NULL_POINTER,
                  -1, SENTINEL_STR);
    check_failure("pieces_last_error(NULL)", pieces_last_error(NULL), PIECES_ERR_NULL_POINTER, -1,
                  SENTINEL_STR);
    check_failure("pieces_client_interrupt(NULL)", pieces_client_interrupt(NULL),
                  PIECES_ERR_NULL_POINTER, -1, SENTINEL_STR);
    check_failure("pieces_cancel_new(NULL)", pieces_cancel_new(NULL), PIECES_ERR_NULL_POINTER, -1,
                  SENTINEL_STR);
    check_failure("pieces_cancel_trigger(NULL)", pieces_cancel_trigger(NULL), PIECES_ERR_NULL_POINTER,
                  -1, SENTINEL_STR);
    /* NULL unbinds: documented, not an error. */
    CHECK(pieces_cancel_bind(NULL) == PIECES_OK);

    /* The frees accept NULL and do nothing. */
    pieces_client_free(NULL);
    pieces_string_free(NULL);
    pieces_cancel_free(NULL);
    passed++;
}

/* The value-returning exports take no pointers; any code, however odd, gets a static string. */
static void test_value_exports(void) {
    static const int32_t CODES[] = {INT32_MIN, -1, 0, 1, 6, 26, 89, 90, 91, 255, 256, 65536, INT32_MAX};
    for (size_t i = 0; i < sizeof CODES / sizeof CODES[0]; i++) {
        const char *s = pieces_status_str(CODES[i]);
        CHECK(s != NULL && strlen(s) > 0 && strlen(s) < 200);
    }
    CHECK(pieces_version() != NULL && pieces_abi_version() == PIECES_ABI_VERSION);
}

/* Config documents for pieces_client_new. */
static void test_configs(void) {
    struct doc_case cases[] = {
        {"invalid UTF-8", (char *)"{\"base_url\":\"http://\xc0\xaf\"}", 0, PIECES_ERR_INVALID_UTF8, -1},
        {"not JSON", (char *)"base_url=http://x", 0, PIECES_ERR_MALFORMED_JSON, -1},
        {"empty", (char *)"", 0, PIECES_ERR_MALFORMED_JSON, -1},
        {"array", (char *)"[]", 0, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"string", (char *)"\"{}\"", 0, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"null", (char *)"null", 0, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"unknown key", (char *)"{\"timeout\":5}", 0, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"base_url a number", (char *)"{\"base_url\":5}", 0, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"timeout_ms a string", (char *)"{\"timeout_ms\":\"5\"}", 0, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"timeout_ms 1e400", (char *)"{\"timeout_ms\":1e400}", 0, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"timeout_ms -1", (char *)"{\"timeout_ms\":-1}", 0, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"timeout_ms 2^64", (char *)"{\"timeout_ms\":18446744073709551616}", 0, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"timeout_ms 2^64-1", (char *)"{\"timeout_ms\":18446744073709551615}", 0, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"timeout_ms 1.5", (char *)"{\"timeout_ms\":1.5}", 0, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"connect_timeout_ms 0", (char *)"{\"connect_timeout_ms\":0}", 0, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"max_response_bytes -5", (char *)"{\"max_response_bytes\":-5}", 0, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"max_response_bytes 1e400", (char *)"{\"max_response_bytes\":1e400}", 0, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"discovery ports out of range", (char *)"{\"discovery\":{\"ports\":[1,65536]}}", 0, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"discovery ports -1", (char *)"{\"discovery\":{\"ports\":[-1,5]}}", 0, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"discovery probe_timeout_ms 1e400", (char *)"{\"discovery\":{\"probe_timeout_ms\":1e400}}", 0, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"header injection in the token", (char *)"{\"access_token\":\"a\\r\\nX: 1\"}", 0, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"NUL escape in the application id", (char *)"{\"application_id\":\"a\\u0000b\"}", 0, PIECES_ERR_INVALID_ARGUMENT, -1},
        /* A top-level array is the wrong type: refused at its first element, two levels down. */
        {"100,000 nested arrays", nested("", "[", "]", DEEP, ""), 1, PIECES_ERR_INVALID_ARGUMENT, -1},
        /* `discovery` is parsed as any JSON value first, so this one really descends. */
        {"100,000 nested arrays as discovery", nested("{\"discovery\":", "[", "]", DEEP, "}"), 1,
         PIECES_ERR_MALFORMED_JSON, -1},
        {"100,000 nested objects as discovery", nested("{\"discovery\":", "{\"a\":", "}", DEEP, "}"), 1,
         PIECES_ERR_MALFORMED_JSON, -1},
        {"10 MB of garbage", repeat("", '#', TEN_MB, ""), 1, PIECES_ERR_MALFORMED_JSON, -1},
        {"10 MB timeout_ms string", repeat("{\"timeout_ms\":\"", '7', TEN_MB, "\"}"), 1, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"10 MB of digits as timeout_ms", repeat("{\"timeout_ms\":", '7', TEN_MB, "}"), 1, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"10 MB unknown key", repeat("{\"", 'k', TEN_MB, "\":1}"), 1, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"10 MB base_url", repeat("{\"base_url\":\"ftp://", 'h', TEN_MB, "\"}"), 1, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"10 MB tls_ca_file", repeat("{\"tls_ca_file\":\"/nonexistent/", 'p', TEN_MB, "\"}"), 1, PIECES_ERR_INVALID_ARGUMENT, -1},
    };
    size_t n = sizeof cases / sizeof cases[0];
    for (size_t i = 0; i < n; i++) {
        char what[160];
        snprintf(what, sizeof what, "pieces_client_new(%s)", cases[i].what);
        PiecesClient *client = (PiecesClient *)(void *)SENTINEL_STR;
        int32_t rc = pieces_client_new(cases[i].doc, &client);
        if (rc == PIECES_OK) {
            pieces_client_free(client);
            client = NULL;
        }
        check_failure(what, rc, cases[i].want, cases[i].alt,
                      client == (PiecesClient *)(void *)SENTINEL_STR ? SENTINEL_STR : NULL);
        if (cases[i].owned) {
            free(cases[i].doc);
        }
    }

}

/* Values that the HTTP stack would refuse only on every call (a control character in a header
 * value made every route PIECES_ERR_PANIC, an oversized one a blamed-on-the-server
 * PIECES_ERR_INVALID_RESPONSE) or silently reinterpret (a port out of range went to port 80): refused
 * at creation, by name. */
static void test_values_refused_at_creation(void) {
    struct {
        const char *what;
        char *doc;
        int owned;
        const char *named; /* the message must contain this */
    } cases[] = {
        {"ESC in user_agent", (char *)"{\"user_agent\":\"a\\u001bb\"}", 0, "user_agent"},
        {"ESC in application_id", (char *)"{\"application_id\":\"a\\u001bb\"}", 0, "application_id"},
        {"ESC in access_token", (char *)"{\"access_token\":\"a\\u001bb\"}", 0, "access_token"},
        {"DEL in user_agent", (char *)"{\"user_agent\":\"a\\u007fb\"}", 0, "user_agent"},
        {"big user_agent", repeat("{\"user_agent\":\"", 'u', TEN_MB, "\"}"), 1, "user_agent"},
        {"big application_id", repeat("{\"application_id\":\"", 'a', TEN_MB, "\"}"), 1, "application_id"},
        {"big access_token", repeat("{\"access_token\":\"", 't', TEN_MB, "\"}"), 1, "access_token"},
        {"port 99999", (char *)"{\"base_url\":\"http://127.0.0.1:99999\"}", 0, "port"},
        {"port 3x", (char *)"{\"base_url\":\"http://127.0.0.1:3x\"}", 0, "port"},
        {"port 0", (char *)"{\"base_url\":\"http://127.0.0.1:0\"}", 0, "port"},
        {"IPv6 port 65536", (char *)"{\"base_url\":\"http://[::1]:65536\"}", 0, "port"},
        {"user info", (char *)"{\"base_url\":\"http://user:pw@127.0.0.1:39300\"}", 0, "user name"},
    };
    size_t n = sizeof cases / sizeof cases[0];
    for (size_t i = 0; i < n; i++) {
        char what[160];
        snprintf(what, sizeof what, "pieces_client_new(%s)", cases[i].what);
        PiecesClient *client = (PiecesClient *)(void *)SENTINEL_STR;
        int32_t rc = pieces_client_new(cases[i].doc, &client);
        if (rc == PIECES_OK) {
            pieces_client_free(client);
            client = NULL;
        }
        check_failure(what, rc, PIECES_ERR_INVALID_ARGUMENT, -1,
                      client == (PiecesClient *)(void *)SENTINEL_STR ? SENTINEL_STR : NULL);
        char *detail = NULL;
        if (rc != PIECES_OK && pieces_last_error(&detail) == PIECES_OK) {
            if (strstr(detail, cases[i].named) == NULL) {
                FAIL("%s: message does not name %s: %.300s", what, cases[i].named, detail);
            } else {
                passed++;
            }
            pieces_string_free(detail);
        }
        if (cases[i].owned) {
            free(cases[i].doc);
        }
    }

    /* Valid: an upper-case scheme, and the longest header values allowed. */
    PiecesClient *client = NULL;
    CHECK(pieces_client_new("{\"base_url\":\"HTTP://127.0.0.1:1\"}", &client) == PIECES_OK);
    if (client != NULL) {
        char *url = NULL;
        CHECK(pieces_user_stream_url(client, &url) == PIECES_OK);
        CHECK(url != NULL && strcmp(url, "ws://127.0.0.1:1/user/stream") == 0);
        pieces_string_free(url);
        pieces_client_free(client);
        client = NULL;
    }
    char *long_ua = repeat("{\"base_url\":\"http://127.0.0.1:1\",\"connect_timeout_ms\":500,\"user_agent\":\"", 'u',
                           16384 /* the documented limit */, "\"}");
    CHECK(pieces_client_new(long_ua, &client) == PIECES_OK);
    free(long_ua);
    if (client != NULL) {
        char *out = SENTINEL_STR;
        int32_t rc = pieces_user_snapshot(client, &out);
        check_failure("snapshot with the longest user_agent", rc, PIECES_ERR_CONNECTION, -1, out);
        pieces_client_free(client);
    }
}

/* Options documents for pieces_discover. Only failing cases: a successful discovery would scan ports. */
static void test_discover_options(void) {
    struct doc_case cases[] = {
        {"invalid UTF-8", (char *)"{\"host\":\"\xff\"}", 0, PIECES_ERR_INVALID_UTF8, -1},
        {"not JSON", (char *)"ports: 1-2", 0, PIECES_ERR_MALFORMED_JSON, -1},
        {"array", (char *)"[1,2]", 0, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"unknown key", (char *)"{\"prots\":[1,2]}", 0, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"ports of the wrong type", (char *)"{\"ports\":\"1-2\"}", 0, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"three ports", (char *)"{\"ports\":[1,2,3]}", 0, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"port 65536", (char *)"{\"ports\":[1,65536]}", 0, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"port -1", (char *)"{\"ports\":[-1,2]}", 0, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"port 2^64", (char *)"{\"ports\":[1,18446744073709551616]}", 0, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"probe_timeout_ms 1e400", (char *)"{\"probe_timeout_ms\":1e400}", 0, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"probe_timeout_ms -1", (char *)"{\"probe_timeout_ms\":-1}", 0, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"a host that is not loopback", (char *)"{\"host\":\"8.8.8.8\"}", 0, PIECES_ERR_INVALID_ARGUMENT, -1},
        /* No option holds an arbitrary value, so nesting is refused as a wrong type at depth 2. */
        {"100,000 nested arrays", nested("", "[", "]", DEEP, ""), 1, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"100,000 nested arrays as ports", nested("{\"ports\":", "[", "]", DEEP, "}"), 1,
         PIECES_ERR_INVALID_ARGUMENT, -1},
        {"10 MB of garbage", repeat("", '~', TEN_MB, ""), 1, PIECES_ERR_MALFORMED_JSON, -1},
        {"10 MB host", repeat("{\"host\":\"", 'h', TEN_MB, "\"}"), 1, PIECES_ERR_INVALID_ARGUMENT, -1},
        {"10 MB ports string", repeat("{\"ports\":\"", '1', TEN_MB, "\"}"), 1, PIECES_ERR_INVALID_ARGUMENT, -1},
    };
    size_t n = sizeof cases / sizeof cases[0];
    for (size_t i = 0; i < n; i++) {
        char what[160];
        snprintf(what, sizeof what, "pieces_discover(%s)", cases[i].what);
        char *out = SENTINEL_STR;
        int32_t rc = pieces_discover(cases[i].doc, &out);
        check_failure(what, rc, cases[i].want, cases[i].alt, out);
        if (cases[i].owned) {
            free(cases[i].doc);
        }
    }
}

int main(void) {
    const char *big = getenv("BAD_INPUT_BIG_BYTES");
    if (big != NULL && atol(big) > 0) {
        TEN_MB = (size_t)atol(big);
    }
    const char *deep = getenv("BAD_INPUT_DEPTH");
    if (deep != NULL && atol(deep) > 0) {
        DEEP = (size_t)atol(deep);
    }
    test_value_exports();
    test_configs();
    test_values_refused_at_creation();
    test_discover_options();

    PiecesClient *client = NULL;
    /* Port 1 on loopback: nothing listens there, so a document that passes the checks is refused. */
    if (pieces_client_new("{\"base_url\":\"http://127.0.0.1:1\",\"connect_timeout_ms\":500}", &client) !=
        PIECES_OK) {
        fprintf(stderr, "could not create the client\n");
        return 1;
    }
    test_null_pointers(client);
    test_body_routes(client);
    test_huge_unknown_keys(client);
    test_profile_values(client);
    pieces_client_free(client);

    printf("test_bad_input: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
