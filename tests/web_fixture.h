/*
 * web_fixture.h - the web application on an ephemeral loopback port with a
 * fresh store (SQLite in the case's scratch directory, or the server named
 * by $AVIARY_TEST_DB) and a scripted analyzer, for the t_web_app* tests.
 *
 * The analyzer answers two birds (a robin and a magpie, the magpie's common
 * name an HTML injection) for any image of 4 bytes or more, a drawing of a
 * robin for a PNG picture on white paper (the real page rule, illus.h), and
 * "too short" below 4 bytes. Two image sizes are scripted: av_test_jpeg + 2
 * bytes waits while av_test_fake.gate is set; av_test_jpeg + 1 byte fails
 * as a model server away (AV_WEB_ANALYSIS_E_RETRY) while
 * av_test_fake.flaky_left > 0. Re-drawing marks its output av_test_rendered.
 *
 * Linked into every test (Makefile TEST_LIB); failures go through CHECK, so
 * call these only from inside a test case.
 */
#ifndef AV_WEB_FIXTURE_H
#define AV_WEB_FIXTURE_H

#include "store/store.h"
#include "web/web.h"

#include <pthread.h>
#include <stddef.h>

/* The first bytes of a JPEG and of a PNG: enough for the upload checks. */
extern const unsigned char av_test_jpeg[12], av_test_png[12];
extern const char av_test_rendered[]; /* what the scripted re-draw starts with */

/* The scripted analyzer's state and the next start's settings; mu guards
 * calls, flaky_left and gate (gate_cv signals gate). */
typedef struct av_test_fake_state {
    pthread_mutex_t mu;
    pthread_cond_t gate_cv;
    int calls; /* analyses asked for */
    int flaky_left; /* temporary failures still to report */
    int gate; /* 1: av_test_jpeg + 2 bytes waits until it is 0 */
    int http_workers; /* av_test_app_start's; 8 */
    int wait_ms; /* analysis_wait_ms; 0: the default */
} av_test_fake_state;
extern av_test_fake_state av_test_fake;

typedef struct av_test_app {
    av_store *store;
    av_web *web;
    char base[64]; /* http://127.0.0.1:PORT */
} av_test_app;

/* The store at url (av_test_db_url's), opened and migrated to version 1 or
 * later; av_test_open_store: the case's store of that SQLite name and
 * database tag (av_test_db_url). Both fail the case on an error. */
av_store *av_test_store_at(const char *url);
av_store *av_test_open_store(const char *sqlite_name, char tag);

/* Makes dir's originals/ and inferenced/ (a data folder of the web app). */
void av_test_make_data_dir(const char *dir);

/* Opens and migrates the store, starts the app (uploads up to max_upload
 * bytes, one analysis worker, queue of 8, three tracked species). */
void av_test_app_start(av_test_app *a, long long max_upload);
void av_test_app_stop(av_test_app *a);

/* a's base URL + path into out. */
void av_test_app_url(char *out, size_t cap, const av_test_app *a, const char *path);

/* Uploads one file through the form of the web app at base (http://HOST:PORT),
 * expects 303 and returns the image ID from Location in id (AV_STORE_ID_LEN
 * + 1 bytes). */
void av_test_upload(const char *base, const char *name, const void *data, size_t len, char *id);

/* av_test_fake.calls, read under its lock. */
int av_test_app_calls(void);

#endif
