/*
 * A tour of the pieces_user C API: every User API route, in the order an application would use them,
 * printing each result or error.
 *
 *     cc -std=c11 -Iinclude examples/c/user.c -Ltarget/debug -Wl,-rpath,target/debug -lpieces_user -o user
 *     ./user http://127.0.0.1:39300
 *     PIECES_CONFIG='{"base_url":"http://127.0.0.1:39300","timeout_ms":5000}' ./user
 *     ./user                     (no URL: discover a running Pieces OS)
 *
 * `make demo` builds it and runs it against the stand-in Pieces OS.
 */
#include "pieces_user.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Prints the outcome of a call. On success the library has handed us a string that we own; on failure
 * the output is untouched and the detail is in pieces_last_error(), which we own too.
 */
static void report(const char *what, int32_t rc, char *json) {
    if (rc == PIECES_OK) {
        printf("%-38s ok: %s\n", what, json != NULL ? json : "(no content)");
        pieces_string_free(json);
        return;
    }
    char *detail = NULL;
    printf("%-38s failed: %s\n", what, pieces_status_str(rc));
    if (pieces_last_error(&detail) == PIECES_OK) {
        printf("%-38s detail: %s\n", "", detail);
        pieces_string_free(detail);
    }
}

int main(int argc, char **argv) {
    /* Configuration is a JSON object; every key is optional. */
    char config[512];
    if (argc > 1) {
        snprintf(config, sizeof config, "{\"base_url\":\"%s\",\"application_id\":\"c-example\"}",
                 argv[1]);
    } else if (getenv("PIECES_CONFIG") != NULL) {
        snprintf(config, sizeof config, "%s", getenv("PIECES_CONFIG"));
    } else {
        /* No URL: find Pieces OS the way the official clients do (port file, 39300-39333, legacy). */
        snprintf(config, sizeof config, "{\"discovery\":true,\"application_id\":\"c-example\"}");
    }

    printf("pieces_user %s (C ABI %u)\n\n", pieces_version(), (unsigned)pieces_abi_version());
    if (pieces_abi_version() != PIECES_ABI_VERSION) {
        fprintf(stderr, "this program was built for C ABI %d\n", PIECES_ABI_VERSION);
        return 1;
    }

    PiecesClient *client = NULL;
    int32_t rc = pieces_client_new(config, &client);
    if (rc != PIECES_OK) {
        report("pieces_client_new", rc, NULL);
        return 1;
    }

    /* Each route writes its result to `json` only when it returns PIECES_OK. */
    char *json = NULL;

    rc = pieces_user_snapshot(client, &json);
    report("snapshot (GET /user)", rc, json);
    json = NULL;

    rc = pieces_user_refresh(client, &json);
    report("refresh (GET /user/refresh)", rc, json);
    json = NULL;

    /* Documents are JSON text with the official key names; this one switches on dark mode. */
    const char *profile =
        "{\"id\":\"demo-user\",\"aesthetics\":{\"font\":{\"size\":16},\"theme\":{\"dark\":true}}}";
    rc = pieces_user_update(client, profile, &json);
    report("update (POST /user/update)", rc, json);
    json = NULL;

    const char *vanity =
        "{\"id\":\"demo-user\",\"vanityname\":\"ada\","
        "\"aesthetics\":{\"font\":{\"size\":16},\"theme\":{\"dark\":true}}}";
    rc = pieces_user_update_vanity(client, vanity, &json);
    report("update_vanity \"ada\"", rc, json);
    json = NULL;

    /* A name someone else has: HTTP 409, reported as PIECES_ERR_CONFLICT with the server's text. */
    const char *taken =
        "{\"id\":\"demo-user\",\"vanityname\":\"taken\","
        "\"aesthetics\":{\"font\":{\"size\":16},\"theme\":{\"dark\":true}}}";
    rc = pieces_user_update_vanity(client, taken, &json);
    report("update_vanity \"taken\"", rc, json);
    if (rc == PIECES_ERR_CONFLICT) {
        printf("%-38s -> pick another name\n", "");
    }
    json = NULL;

    /* A request document is checked before it is sent: this is not JSON, so nothing goes out. */
    rc = pieces_user_update(client, "{\"id\":", &json);
    report("update with broken JSON", rc, json);
    json = NULL;

    rc = pieces_user_beta_status(client, "{\"user\":\"demo-user\"}", &json);
    report("beta_status (POST /user/beta/status)", rc, json);
    json = NULL;

    /* A local Pieces OS does not implement this route: HTTP 501, PIECES_ERR_NOT_IMPLEMENTED. */
    rc = pieces_user_providers(client, &json);
    report("providers (GET /user/providers)", rc, json);
    json = NULL;

    rc = pieces_user_select(client, "{\"user_id\":\"auth0|demo\",\"name\":\"Ada\"}", &json);
    report("select (POST /user/select)", rc, json);
    json = NULL;

    rc = pieces_user_clear(client);
    report("clear (POST /user/clear)", rc, NULL);

    rc = pieces_user_snapshot(client, &json);
    report("snapshot after clear", rc, json);
    json = NULL;

    rc = pieces_user_stream_url(client, &json);
    report("stream_url", rc, json);
    json = NULL;

    /* Shutdown: no other thread is using the client and no stream was opened, so free it. */
    pieces_client_free(client);
    return 0;
}
