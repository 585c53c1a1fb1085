/*
 * t_web_birder.c - the birder's pages over real HTTP (issue 17): a
 * multi-file upload answers 303 to its batch page, a bird reviewed into
 * another species (form and API) shows on /species, in the review queue
 * and in each export, the gallery filters and pages, guests without the
 * vote right cannot review. SQLite or $AVIARY_TEST_DB; a scripted
 * analyzer (two birds: a robin at 90 %, a magpie at 40 %).
 */
#include "harness.h"
#include "http.h"
#include "web_fixture.h"

#include "detect/detect.h"
#include "store/store.h"
#include "web/web.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const unsigned char JPEG[] = {0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1};

/* What a case changes in fake_analyze's two birds (NULL: nothing); atomic:
 * the app's analysis worker reads it (stored_analysis). */
typedef void (*dets_edit)(av_store_detection *);
static _Atomic(dets_edit) g_edit;

static av_web_analysis_status fake_analyze(void *ud, const void *bytes, size_t len,
                                           av_web_analysis *out, char *err, size_t errlen)
{
    (void)ud, (void)bytes, (void)len, (void)err, (void)errlen;
    out->width = 640;
    out->height = 480;
    out->n_dets = 2;
    out->dets = calloc(2, sizeof *out->dets);
    const char *sp[2] = {"Erithacus rubecula", "Pica pica"};
    const char *cn[2] = {"European Robin", "Eurasian Magpie"};
    for (int i = 0; i < 2; i++) {
        av_store_detection *d = &out->dets[i];
        d->x1 = 10 + i * 200, d->y1 = 20, d->x2 = 150 + i * 200, d->y2 = 200;
        d->score = d->species_score = i ? 0.4 : 0.9;
        d->detector_score = 0.8;
        d->class_id = 1 + i;
        snprintf(d->label, sizeof d->label, "bird");
        snprintf(d->species, sizeof d->species, "%s", sp[i]);
        snprintf(d->common_name, sizeof d->common_name, "%s", cn[i]);
        snprintf(d->model_version, sizeof d->model_version, "test@1");
    }
    /* the magpie's top guesses: the review chooser offers these first */
    const char *gs[3] = {"Pica pica", "Corvus corone", "Turdus merula"};
    const char *gc[3] = {"Eurasian Magpie", "Carrion Crow", "Eurasian Blackbird"};
    for (int k = 0; k < 3; k++) {
        av_store_guess *g = &out->dets[1].guesses[k];
        g->score = 0.4 - 0.15 * k;
        snprintf(g->species, sizeof g->species, "%s", gs[k]);
        snprintf(g->common_name, sizeof g->common_name, "%s", gc[k]);
    }
    out->dets[1].n_guesses = 3;
    dets_edit edit = atomic_load(&g_edit);
    if (edit)
        edit(out->dets);
    return AV_WEB_ANALYSIS_OK;
}

/* The site list a case opens the real pipeline with (NULL: none). */
static av_detect_pipeline *g_site;

static int on_list(void *ud, const char *scientific)
{
    return av_detect_pipeline_on_site_list(ud, scientific);
}

struct app {
    av_store *store;
    av_web *web;
    char base[64];
};

static void start(struct app *a, int guest)
{
    atomic_store(&g_edit, NULL);
    char dir[700], err[512];
    snprintf(dir, sizeof dir, "%s", av_test_tmpdir());
    av_test_make_data_dir(dir);
    /* a label file: the names a review may choose */
    static char labels[800];
    snprintf(labels, sizeof labels, "%s/labels.txt", dir);
    FILE *f = fopen(labels, "w");
    CHECK(f);
    fputs("background\nErithacus rubecula (European Robin)\nPica pica (Eurasian Magpie)\n"
          "Corvus corone (Carrion Crow)\nTurdus merula (Eurasian Blackbird)\n",
          f);
    fclose(f);
    a->store = av_test_open_store("aviary.db", 'b');
    static char data_dir[700];
    snprintf(data_dir, sizeof data_dir, "%s", dir);
    av_web_opts o = {.listen = "127.0.0.1", .workers = 4, .store = a->store,
                     .data_dir = data_dir, .max_upload_bytes = 1000000,
                     .analyze = fake_analyze, .analysis_workers = 1, .queue_max = 16,
                     .species_labels = labels, .guest = guest,
                     .on_site_list = g_site ? on_list : NULL, .site_list_ud = g_site};
    CHECK_MSG(av_web_start(&o, &a->web, err, sizeof err) == 0, "%s", err);
    snprintf(a->base, sizeof a->base, "http://127.0.0.1:%d", av_web_port(a->web));
}

static void stop(struct app *a)
{
    av_web_stop(a->web);
    av_store_close(a->store);
}

static long get(struct app *a, const char *path, av_http_resp *r)
{
    char u[1024];
    snprintf(u, sizeof u, "%s%s", a->base, path);
    CHECK_EQ_INT(av_http_get(u, r), 0);
    return r->status;
}

static long post(struct app *a, const char *path, const char *type, const char *body,
                 av_http_resp *r)
{
    char u[1024];
    snprintf(u, sizeof u, "%s%s", a->base, path);
    CHECK_EQ_INT(av_http_request("POST", u, type, body, strlen(body), r), 0);
    return r->status;
}

/* Upload n files at once; the IDs from the 303's Location into ids. */
static void upload(struct app *a, int n, char ids[][AV_STORE_ID_LEN + 1])
{
    char u[256];
    snprintf(u, sizeof u, "%s/upload", a->base);
    const char *names[4] = {"a.jpg", "b.jpg", "c.jpg", "d.jpg"};
    const void *datas[4] = {JPEG, JPEG, JPEG, JPEG};
    size_t lens[4] = {sizeof JPEG, sizeof JPEG, sizeof JPEG, sizeof JPEG};
    av_http_resp r;
    CHECK_EQ_INT(av_http_upload(u, "file", n, names, datas, lens, &r), 0);
    CHECK_MSG(r.status == 303, "%ld %.200s", r.status, r.body);
    const char *loc = strstr(r.headers, "Location: ");
    CHECK(loc);
    loc += 10;
    if (n == 1) {
        CHECK(!strncmp(loc, "/uploads/", 9));
        snprintf(ids[0], AV_STORE_ID_LEN + 1, "%.32s", loc + 9);
    } else {
        CHECK_MSG(!strncmp(loc, "/batch?ids=", 11), "%.80s", loc);
        for (int i = 0; i < n; i++)
            snprintf(ids[i], AV_STORE_ID_LEN + 1, "%.32s", loc + 11 + 33 * i);
    }
    av_http_free(&r);
}

static void analysed(struct app *a, const char *id)
{
    char path[128];
    snprintf(path, sizeof path, "/uploads/%s", id);
    av_http_resp r;
    /* 503 "every analysis worker is busy, reload in a few seconds" is the documented answer
     * while the queue is full (a loaded CI machine): reload as the page asks */
    long code = get(a, path, &r);
    for (int i = 0; code == 503 && i < 50; i++) {
        av_http_free(&r);
        usleep(100 * 1000);
        code = get(a, path, &r);
    }
    CHECK_EQ_INT(code, 200);
    CHECK_STR_CONTAINS(r.body, "European Robin");
    av_http_free(&r);
}

/* An analysed image straight into the store, its two birds fake_analyze's
 * (edit, when given, changes them first); its ID into id. The app's
 * recovery sweep may find the image pending and analyse it first, through
 * the same fake_analyze and edit: then the put is refused (CONFLICT) and the
 * stored birds are the same. */
static void stored_analysis(struct app *a, const char *name, dets_edit edit,
                            char id[AV_STORE_ID_LEN + 1])
{
    atomic_store(&g_edit, edit);
    av_store_image img;
    memset(&img, 0, sizeof img);
    CHECK(av_store_new_id(img.id) == 0);
    snprintf(img.name, sizeof img.name, "%s", name);
    snprintf(img.ext, sizeof img.ext, "jpg");
    snprintf(img.content_type, sizeof img.content_type, "image/jpeg");
    char err[256];
    CHECK(av_store_image_insert(a->store, &img, JPEG, sizeof JPEG, err, sizeof err) ==
          AV_STORE_OK);
    av_web_analysis an;
    memset(&an, 0, sizeof an);
    fake_analyze(NULL, NULL, 0, &an, err, sizeof err);
    av_store_status st =
        av_store_analysis_put(a->store, img.id, 640, 480, an.dets, 2, err, sizeof err);
    CHECK_MSG(st == AV_STORE_OK || st == AV_STORE_CONFLICT, "%s", err);
    free(an.dets);
    memcpy(id, img.id, AV_STORE_ID_LEN + 1);
}

TEST(several_files_redirect_to_their_batch_page)
{
    struct app a;
    start(&a, 0);
    char ids[3][AV_STORE_ID_LEN + 1];
    upload(&a, 3, ids);
    char path[256];
    snprintf(path, sizeof path, "/batch?ids=%s,%s,%s", ids[0], ids[1], ids[2]);
    av_http_resp r;
    CHECK_EQ_INT(get(&a, path, &r), 200);
    for (int i = 0; i < 3; i++) {
        char link[160];
        snprintf(link, sizeof link, "href=\"/uploads/%s\"", ids[i]);
        CHECK_STR_CONTAINS(r.body, link);
    }
    CHECK_STR_CONTAINS(r.body, "3 uploads");
    av_http_free(&r);
    /* junk in the list is skipped, not echoed */
    CHECK_EQ_INT(get(&a, "/batch?ids=<script>,0123", &r), 200);
    CHECK(!strstr(r.body, "<script>,"));
    av_http_free(&r);
    stop(&a);
}

TEST(a_bird_reviewed_into_another_species_shows_everywhere)
{
    struct app a;
    start(&a, 0);
    char ids[1][AV_STORE_ID_LEN + 1];
    upload(&a, 1, ids);
    const char *id = ids[0];
    analysed(&a, id);
    char path[160], body[300];
    av_http_resp r;

    /* the results page: numbered boxes, a review form per bird, an add form */
    snprintf(path, sizeof path, "/uploads/%s", id);
    CHECK_EQ_INT(get(&a, path, &r), 200);
    CHECK_STR_CONTAINS(r.body, "<title id=\"birds-title\">Photo with 2 birds marked: 1 European"
                               " Robin, 2 Eurasian Magpie</title>");
    CHECK_STR_CONTAINS(r.body, "id=\"review-2\"");
    CHECK_STR_CONTAINS(r.body, "id=\"add-bird\"");
    CHECK_STR_CONTAINS(r.body, "<option value=\"Corvus corone (Carrion Crow)\">");
    /* bird 2's stored top guesses come first in its chooser, the search kept */
    const char *form2 = strstr(r.body, "id=\"review-2\"");
    CHECK(form2);
    CHECK_STR_CONTAINS(form2, "<input type=\"radio\" id=\"g-2-1\" name=\"guess\""
                              " value=\"Corvus corone\"><label for=\"g-2-1\">Carrion Crow"
                              " <i>Corvus corone</i> <span class=\"meta\">25.0%</span>");
    CHECK(strstr(form2, "name=\"guess\"") < strstr(form2, "Or search every species"));
    CHECK(!strstr(strstr(r.body, "id=\"review-1\""), "name=\"guess\"") ||
          strstr(strstr(r.body, "id=\"review-1\""), "name=\"guess\"") > form2);
    av_http_free(&r);
    snprintf(path, sizeof path, "/api/v1/images/%s", id);
    CHECK_EQ_INT(get(&a, path, &r), 200);
    CHECK_STR_CONTAINS(r.body, "\"guesses\":[{\"species\":\"Pica pica\"");
    av_http_free(&r);

    /* bird 2 is a crow: the form, by choosing a guess */
    snprintf(path, sizeof path, "/uploads/%s/review", id);
    CHECK_EQ_INT(post(&a, path, "application/x-www-form-urlencoded",
                      "box=1&action=species&species=", &r), 422);
    CHECK_STR_CONTAINS(r.body, "Please choose one of the guesses or type a species.");
    av_http_free(&r);
    CHECK_EQ_INT(post(&a, path, "application/x-www-form-urlencoded",
                      "box=1&action=species&guess=Corvus+corone&species=", &r), 303);
    CHECK_STR_CONTAINS(r.headers, "#bird-2");
    av_http_free(&r);
    /* a typed name wins over a chosen guess; then back to the crow, by common name */
    CHECK_EQ_INT(post(&a, path, "application/x-www-form-urlencoded",
                      "box=1&action=species&guess=Pica+pica&species=Eurasian+Blackbird", &r),
                 303);
    av_http_free(&r);
    av_store_review *rvs = NULL;
    int n_rvs = 0;
    char e2[256];
    CHECK(av_store_reviews_list(a.store, id, 0, &rvs, &n_rvs, e2, sizeof e2) == AV_STORE_OK);
    int blackbird = 0;
    for (int k = 0; k < n_rvs; k++)
        blackbird |= rvs[k].box == 1 && !strcmp(rvs[k].species, "Turdus merula");
    free(rvs);
    CHECK(blackbird);
    CHECK_EQ_INT(post(&a, path, "application/x-www-form-urlencoded",
                      "box=1&action=species&species=Carrion+Crow", &r), 303);
    CHECK_STR_CONTAINS(r.headers, "#bird-2");
    av_http_free(&r);
    /* an unknown species is refused, saying so, and nothing is stored */
    CHECK_EQ_INT(post(&a, path, "application/x-www-form-urlencoded",
                      "box=0&action=species&species=Dodo", &r), 422);
    CHECK_STR_CONTAINS(r.body, "is not a species this Aviary knows");
    av_http_free(&r);
    CHECK_EQ_INT(post(&a, path, "application/x-www-form-urlencoded", "box=7&action=confirm",
                      &r), 404);
    av_http_free(&r);
    /* the API: confirm bird 1, add a missed blackbird */
    snprintf(path, sizeof path, "/api/v1/images/%s/detections/1", id);
    CHECK_EQ_INT(post(&a, path, "application/json", "{\"confirm\":true}", &r), 201);
    CHECK_STR_CONTAINS(r.body, "\"action\":\"confirm\"");
    CHECK_STR_CONTAINS(r.body, "\"who\":\"guest\"");
    av_http_free(&r);
    CHECK_EQ_INT(post(&a, path, "application/json", "{\"confirm\":true,\"not_bird\":true}", &r),
                 422);
    av_http_free(&r);
    CHECK_EQ_INT(post(&a, path, "application/json", "not json", &r), 400);
    av_http_free(&r);
    snprintf(path, sizeof path, "/api/v1/images/%s/detections", id);
    snprintf(body, sizeof body, "{\"box\":[400,300,500,400],\"species\":\"Turdus merula\"}");
    CHECK_EQ_INT(post(&a, path, "application/json", body, &r), 201);
    CHECK_STR_CONTAINS(r.body, "\"box\":2");
    av_http_free(&r);
    snprintf(body, sizeof body, "{\"box\":[600,300,700,400]}"); /* past the right edge */
    CHECK_EQ_INT(post(&a, path, "application/json", body, &r), 422);
    av_http_free(&r);

    /* the vote is filled in from the reviews; a refused vote keeps what was typed */
    snprintf(path, sizeof path, "/uploads/%s", id);
    CHECK_EQ_INT(get(&a, path, &r), 200);
    CHECK_STR_CONTAINS(r.body, "Filled in from your reviews");
    CHECK_STR_CONTAINS(r.body, "name=\"vote\" value=\"no\" checked");
    CHECK_STR_CONTAINS(r.body, "name=\"ground_truth\" inputmode=\"numeric\" value=\"3\"");
    CHECK_STR_CONTAINS(r.body, "name=\"predicted\" inputmode=\"numeric\" value=\"2\"");
    av_http_free(&r);
    CHECK_EQ_INT(post(&a, path, "application/x-www-form-urlencoded", "vote=no&ground_truth=7",
                      &r), 422);
    CHECK_STR_CONTAINS(r.body, "name=\"ground_truth\" inputmode=\"numeric\" value=\"7\"");
    av_http_free(&r);

    CHECK_EQ_INT(get(&a, "/species", &r), 200);
    CHECK_STR_CONTAINS(r.body, "href=\"/species/Corvus%20corone\">Carrion Crow</a>");
    CHECK_STR_CONTAINS(r.body, "3 species in 3 birds");
    CHECK(!strstr(r.body, "Pica pica")); /* the magpie was corrected */
    av_http_free(&r);
    CHECK_EQ_INT(get(&a, "/species/Corvus%20corone", &r), 200);
    CHECK_STR_CONTAINS(r.body, "<h1>Carrion Crow</h1>");
    CHECK_STR_CONTAINS(r.body, "Birds by hour of the day");
    av_http_free(&r);
    CHECK_EQ_INT(get(&a, "/species/Pica%20pica", &r), 404);
    av_http_free(&r);
    snprintf(path, sizeof path, "/api/v1/images/%s", id);
    CHECK_EQ_INT(get(&a, path, &r), 200);
    CHECK_STR_CONTAINS(r.body, "\"reviews\":[{\"image_id\"");
    CHECK_STR_CONTAINS(r.body, "\"species\":\"Corvus corone\"");
    av_http_free(&r);
    CHECK_EQ_INT(get(&a, "/review", &r), 200);
    CHECK_STR_CONTAINS(r.body, "Nothing to review");
    av_http_free(&r);

    CHECK_EQ_INT(get(&a, "/export/detections.csv", &r), 200);
    CHECK_STR_CONTAINS(r.headers, "text/csv");
    CHECK_STR_CONTAINS(r.body, ",Pica pica,0.4000,Corvus corone,Carrion Crow,species,guest,");
    CHECK_STR_CONTAINS(r.body, ",Erithacus rubecula,0.9000,Erithacus rubecula,European Robin,"
                               "confirm,guest,");
    CHECK_STR_CONTAINS(r.body, ",,,Turdus merula,Eurasian Blackbird,added,guest,");
    av_http_free(&r);
    CHECK_EQ_INT(get(&a, "/export/ebird.csv", &r), 200);
    CHECK_STR_CONTAINS(r.body, "Carrion Crow,Corvus,corone,1,");
    CHECK_STR_CONTAINS(r.body, ",Incidental,1,,N,");
    av_http_free(&r);
    CHECK_EQ_INT(get(&a, "/export/coco.json", &r), 200);
    json_error_t je;
    json_t *j = json_loads(r.body, 0, &je);
    CHECK_MSG(j, "%s", je.text);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "images")), 1);
    json_t *anns = json_object_get(j, "annotations"), *cats = json_object_get(j, "categories");
    CHECK_EQ_INT(json_array_size(anns), 3);
    int crow = 0;
    for (size_t i = 0; i < json_array_size(cats); i++)
        if (!strcmp(json_string_value(json_object_get(json_array_get(cats, i), "name")),
                    "Corvus corone"))
            crow = (int)json_integer_value(json_object_get(json_array_get(cats, i), "id"));
    CHECK(crow > 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(anns, 1), "category_id")),
                 crow);
    json_decref(j);
    av_http_free(&r);
    CHECK_EQ_INT(get(&a, "/export/other.txt", &r), 404);
    av_http_free(&r);
    /* the monitor grades the model by the reviews */
    CHECK_EQ_INT(get(&a, "/monitor", &r), 200);
    CHECK_STR_CONTAINS(r.body, "<i>Pica pica</i></td><td class=\"num\" data-label=\"Reviewed\">"
                               "1</td><td class=\"num\" data-label=\"Confirmed\">0</td>"
                               "<td class=\"num\" data-label=\"Accuracy\">0%</td>");
    CHECK_STR_CONTAINS(r.body, "<i>Erithacus rubecula</i></td><td class=\"num\""
                               " data-label=\"Reviewed\">1</td>");
    CHECK_STR_CONTAINS(r.body, "1 bird the model missed");
    av_http_free(&r);
    stop(&a);
}

TEST(monitor_warns_when_confirmed_accuracy_falls)
{
    struct app a;
    start(&a, 0);
    char err[256];
    for (int i = 0; i < 24; i++) {
        char name[32], id[AV_STORE_ID_LEN + 1];
        snprintf(name, sizeof name, "m%d.jpg", i);
        stored_analysis(&a, name, NULL, id);
        /* the robin: right 14 times, then wrong 10 times */
        av_store_review rv;
        memset(&rv, 0, sizeof rv);
        snprintf(rv.image_id, sizeof rv.image_id, "%s", id);
        snprintf(rv.who, sizeof rv.who, "ann");
        rv.box = 0;
        rv.action = i < 14 ? AV_REVIEW_CONFIRM : AV_REVIEW_SPECIES;
        snprintf(rv.species, sizeof rv.species, "Turdus merula");
        CHECK_MSG(av_store_review_add(a.store, &rv, err, sizeof err) == AV_STORE_OK, "%s", err);
        usleep(2000); /* distinct review times */
    }
    av_http_resp r;
    CHECK_EQ_INT(get(&a, "/monitor", &r), 200);
    CHECK_STR_CONTAINS(r.body, "the confirmed accuracy for <i>Erithacus rubecula</i> fell to 0%"
                               " over its last 10 reviews, from 100% before.");
    CHECK_STR_CONTAINS(r.body, "aria-labelledby=\"acc-t\"");
    CHECK(!strstr(r.body, "style=")); /* the CSP allows no inline style */
    av_http_free(&r);
    stop(&a);
}

/* The queue's order and reasons: without a site list the magpie (40 %) is
 * first for its low confidence and the robin (90 %) merely not reviewed;
 * North America's shipped list has neither, so both are outside it, which
 * ranks above low confidence. */
static void queue_order(struct app *a, const char *first, const char *second, const char *why)
{
    av_http_resp r;
    CHECK_EQ_INT(get(a, "/review", &r), 200);
    const char *p1 = strstr(r.body, first), *p2 = strstr(r.body, second);
    CHECK_MSG(p1 && p2 && p1 < p2, "%s not before %s", first, second);
    CHECK_MSG(strstr(p1, why) && strstr(p1, why) < p2, "%s not marked %s", first, why);
    av_http_free(&r);
}

TEST(review_queue_puts_birds_outside_the_site_list_first)
{
    struct app a;
    char ids[1][AV_STORE_ID_LEN + 1];
    start(&a, 0);
    upload(&a, 1, ids);
    analysed(&a, ids[0]);
    queue_order(&a, "Eurasian Magpie", "European Robin", "low confidence");
    av_http_resp r;
    CHECK_EQ_INT(get(&a, "/review", &r), 200);
    const char *robin = strstr(r.body, "European Robin");
    CHECK(robin && strstr(robin, "not reviewed &middot;"));
    CHECK(!strstr(r.body, "outside the site list &middot;"));
    av_http_free(&r);
    stop(&a);

    char err[512];
    av_detect_open_opts oo = {.threads = 1, .species_list = "north-america"};
    CHECK_MSG(av_detect_pipeline_open("models", &oo, &g_site, err, sizeof err) == AV_DETECT_OK,
              "%s", err);
    CHECK_EQ_INT(av_detect_pipeline_on_site_list(g_site, "Turdus migratorius"), 1);
    CHECK_EQ_INT(av_detect_pipeline_on_site_list(g_site, "Erithacus rubecula"), 0);
    start(&a, 0);
    CHECK_EQ_INT(get(&a, "/review", &r), 200);
    robin = strstr(r.body, "European Robin");
    CHECK(robin && strstr(robin, "outside the site list"));
    const char *magpie = strstr(r.body, "Eurasian Magpie");
    CHECK(magpie && strstr(magpie, "outside the site list"));
    CHECK(!strstr(r.body, "low confidence &middot;") && !strstr(r.body, "not reviewed &middot;"));
    av_http_free(&r);
    stop(&a);
    av_detect_pipeline_close(g_site);
    g_site = NULL;
}

TEST(gallery_filters_and_pages)
{
    struct app a;
    start(&a, 0);
    char ids[4][AV_STORE_ID_LEN + 1];
    for (int k = 0; k < 7; k++) /* 28 uploads: two pages of 24 */
        upload(&a, 4, ids);
    analysed(&a, ids[0]);
    char path[200];
    snprintf(path, sizeof path, "/uploads/%s/review", ids[0]);
    av_http_resp r;
    CHECK_EQ_INT(post(&a, path, "application/x-www-form-urlencoded", "box=0&action=not_bird",
                      &r), 303);
    av_http_free(&r);
    CHECK_EQ_INT(get(&a, "/uploads", &r), 200);
    CHECK_STR_CONTAINS(r.body, "28 uploads &middot; page 1 of 2");
    CHECK_STR_CONTAINS(r.body, "href=\"/uploads?page=2\"");
    av_http_free(&r);
    CHECK_EQ_INT(get(&a, "/uploads?page=2", &r), 200);
    CHECK_STR_CONTAINS(r.body, "page 2 of 2");
    av_http_free(&r);
    CHECK_EQ_INT(get(&a, "/uploads?reviewed=yes", &r), 200);
    CHECK_STR_CONTAINS(r.body, "1 upload<");
    snprintf(path, sizeof path, "href=\"/uploads/%s\"", ids[0]);
    CHECK_STR_CONTAINS(r.body, path);
    av_http_free(&r);
    CHECK_EQ_INT(get(&a, "/uploads?from=yesterday&status=odd", &r), 200);
    CHECK_STR_CONTAINS(r.body, "that part of the filter was left out");
    CHECK_STR_CONTAINS(r.body, "28 uploads");
    av_http_free(&r);
    CHECK_EQ_INT(get(&a, "/uploads?from=2000-01-01&to=2000-12-31", &r), 200);
    CHECK_STR_CONTAINS(r.body, "0 uploads");
    av_http_free(&r);
    CHECK_EQ_INT(get(&a, "/activity", &r), 200);
    CHECK_STR_CONTAINS(r.body, "<svg class=\"bars\"");
    CHECK_STR_CONTAINS(r.body, "The numbers as a table");
    av_http_free(&r);
    stop(&a);
}

/* Camera visits (issue 19) in the birder pages: the life list, a species'
 * page, activity and the gallery's camera kind, after the birds cache was
 * built (the cache's version must notice new visits). */
static int64_t add_visit(struct app *a, const char *camera, int64_t t, const char *sci,
                         const char *common, double score, int with_frame)
{
    av_store_camera_visit v = {0};
    snprintf(v.camera, sizeof v.camera, "%s", camera);
    v.first_ms = t * 1000;
    v.last_ms = v.first_ms + 40000;
    snprintf(v.species, sizeof v.species, "%s", sci);
    snprintf(v.common_name, sizeof v.common_name, "%s", common);
    snprintf(v.label, sizeof v.label, "%s", common);
    v.score = score;
    v.n_frames = 12;
    v.x2 = v.y2 = 100;
    snprintf(v.node, sizeof v.node, "test");
    int64_t id = 0;
    char err[256];
    CHECK_MSG(av_store_camera_visit_add(a->store, &v, with_frame ? JPEG : NULL, sizeof JPEG, &id,
                                        err, sizeof err) == AV_STORE_OK,
              "%s", err);
    return id;
}

TEST(camera_visits_show_in_the_gallery_species_and_activity)
{
    struct app a;
    start(&a, 0);
    char ids[1][AV_STORE_ID_LEN + 1];
    upload(&a, 1, ids);
    analysed(&a, ids[0]);
    av_http_resp r;
    CHECK_EQ_INT(get(&a, "/species", &r), 200); /* the cache, before any visit */
    CHECK(!strstr(r.body, "Eurasian Blackbird"));
    av_http_free(&r);
    int64_t robin = add_visit(&a, "feeder", 1777617000 /* 2026-05-01T06:30:00Z */,
                              "Erithacus rubecula", "European Robin", 0.93, 1);
    int64_t blackbird = add_visit(&a, "garden", 1777706100 /* 2026-05-02T07:15:00Z */,
                                  "Turdus merula", "Eurasian Blackbird", 0.81, 0);

    CHECK_EQ_INT(get(&a, "/species", &r), 200);
    CHECK_STR_CONTAINS(r.body, "Eurasian Blackbird"); /* seen by a camera only */
    CHECK_STR_CONTAINS(r.body, "3 species in 4 birds");
    CHECK_STR_CONTAINS(r.body, "<td class=\"num\" data-label=\"Birds\">2</td>"
                               "<td class=\"num\" data-label=\"Photos\">1</td>"
                               "<td class=\"num\" data-label=\"Camera visits\">1</td>");
    av_http_free(&r);

    char frame[128];
    snprintf(frame, sizeof frame, "/api/v1/visits/%lld/best.jpg", (long long)robin);
    CHECK_EQ_INT(get(&a, "/species/Erithacus%20rubecula", &r), 200);
    CHECK_STR_CONTAINS(r.body, "2 birds in 1 photo and 1 camera visit");
    CHECK_STR_CONTAINS(r.body, "<h2>Camera visits</h2>");
    CHECK_STR_CONTAINS(r.body, frame);
    CHECK_STR_CONTAINS(r.body, "camera feeder");
    av_http_free(&r);
    CHECK_EQ_INT(get(&a, frame, &r), 200);
    CHECK_EQ_INT((long)r.len, (long)sizeof JPEG);
    av_http_free(&r);

    CHECK_EQ_INT(get(&a, "/species/Turdus%20merula", &r), 200);
    CHECK_STR_CONTAINS(r.body, "1 bird in 0 photos and 1 camera visit");
    CHECK_STR_CONTAINS(r.body, "/static/bird.svg"); /* no frame kept */
    av_http_free(&r);

    /* activity counts the visit at its first sighting (UTC) */
    CHECK_EQ_INT(get(&a, "/activity?species=Turdus%20merula", &r), 200);
    CHECK_STR_CONTAINS(r.body, ">1 bird;");
    CHECK_STR_CONTAINS(r.body, "<tr><td>07:00</td><td class=\"num\">1</td></tr>");
    CHECK_STR_CONTAINS(r.body, "<tr><td>2026-05-02</td><td class=\"num\">1</td></tr>");
    av_http_free(&r);

    CHECK_EQ_INT(get(&a, "/uploads?kind=camera", &r), 200);
    CHECK_STR_CONTAINS(r.body, "2 camera visits");
    CHECK_STR_CONTAINS(r.body, "camera garden");
    CHECK_STR_CONTAINS(r.body, "<option value=\"camera\" selected>");
    av_http_free(&r);
    CHECK_EQ_INT(get(&a, "/uploads?camera=feeder", &r), 200);
    CHECK_STR_CONTAINS(r.body, "1 camera visit<");
    CHECK_STR_CONTAINS(r.body, "European Robin");
    CHECK(!strstr(r.body, "camera garden"));
    av_http_free(&r);
    CHECK_EQ_INT(get(&a, "/uploads?kind=camera&species=Eurasian%20Blackbird&from=2026-05-02", &r),
                 200);
    CHECK_STR_CONTAINS(r.body, "1 camera visit<");
    CHECK_STR_CONTAINS(r.body, "camera garden");
    av_http_free(&r);
    CHECK_EQ_INT(get(&a, "/uploads?kind=camera&to=2026-04-30", &r), 200);
    CHECK_STR_CONTAINS(r.body, "0 camera visits");
    av_http_free(&r);
    CHECK_EQ_INT(get(&a, "/uploads?camera=%3Cscript%3E", &r), 200);
    CHECK_STR_CONTAINS(r.body, "that part of the filter was left out");
    CHECK_STR_CONTAINS(r.body, "1 upload<"); /* the uploads, not visits */
    CHECK(!strstr(r.body, "<script>"));
    av_http_free(&r);

    /* a visit reviewed (API): another species, then not a bird */
    char path[128];
    snprintf(path, sizeof path, "/api/v1/visits/%lld/review", (long long)blackbird);
    CHECK_EQ_INT(post(&a, path, "application/json", "{\"species\":\"Carrion Crow\"}", &r), 201);
    CHECK_STR_CONTAINS(r.body, "\"species\":\"Corvus corone\"");
    av_http_free(&r);
    CHECK_EQ_INT(post(&a, path, "application/json", "{\"species\":\"Dodo\"}", &r), 422);
    av_http_free(&r);
    CHECK_EQ_INT(post(&a, path, "application/json", "{\"confirm\":true,\"not_bird\":true}",
                      &r), 422);
    av_http_free(&r);
    CHECK_EQ_INT(post(&a, path, "application/json", "[", &r), 400);
    av_http_free(&r);
    CHECK_EQ_INT(post(&a, "/api/v1/visits/999999/review", "application/json",
                      "{\"confirm\":true}", &r), 404);
    av_http_free(&r);
    CHECK_EQ_INT(get(&a, "/species", &r), 200);
    CHECK_STR_CONTAINS(r.body, "Carrion Crow");
    CHECK(!strstr(r.body, "Eurasian Blackbird"));
    av_http_free(&r);
    CHECK_EQ_INT(get(&a, "/api/v1/visits?camera=garden", &r), 200);
    CHECK_STR_CONTAINS(r.body, "\"review\":\"species\"");
    av_http_free(&r);
    snprintf(path, sizeof path, "/api/v1/visits/%lld/review", (long long)robin);
    CHECK_EQ_INT(post(&a, path, "application/json", "{\"not_bird\":true}", &r), 201);
    av_http_free(&r);
    CHECK_EQ_INT(get(&a, "/species", &r), 200);
    CHECK_STR_CONTAINS(r.body, "<td class=\"num\" data-label=\"Birds\">1</td>"
                               "<td class=\"num\" data-label=\"Photos\">1</td>"
                               "<td class=\"num\" data-label=\"Camera visits\">0</td>");
    av_http_free(&r);
    stop(&a);
}

/* The hour chart's axis labels ("HH:MM", 14 units high: ~42 wide at 0.6 em a
 * digit) do not run into each other on the chart's 360-unit width. */
static void hour_labels_apart(const char *body)
{
    const char *svg = strstr(body, "Birds by hour of the day");
    const char *end = svg ? strstr(svg, "</svg>") : NULL;
    CHECK(svg && end);
    double prev_right = -1e9;
    int n = 0;
    for (const char *p = svg; p && (p = strstr(p, "<text x=\"")) && p < end; p++) {
        double x = atof(p + 9), w = 5 * 14 * 0.6;
        const char *anchor = strstr(p, "text-anchor=\"");
        const char *text = strchr(p, '>');
        CHECK(anchor && text);
        if (text[3] != ':') /* the y axis' counts */
            continue;
        double left = !strncmp(anchor + 13, "start", 5)    ? x
                      : !strncmp(anchor + 13, "middle", 6) ? x - w / 2
                                                           : x - w;
        CHECK_MSG(left >= prev_right, "hour label at %.1f overlaps the one before", x);
        prev_right = left + w;
        n++;
    }
    CHECK(n >= 4);
}

static void genus_magpie(av_store_detection *d)
{
    snprintf(d[1].species, sizeof d[1].species, "Corvus sp.");
    d[1].common_name[0] = '\0';
}

static void unknown_magpie(av_store_detection *d)
{
    d[1].species[0] = '\0';
    snprintf(d[1].common_name, sizeof d[1].common_name, "Unknown bird");
    d[1].score = d[1].detector_score = 0.692;
}

/* A genus answer ("Corvus sp.") is listed on the life list but not counted
 * as a species, and its row does not repeat the name in italics; an unknown
 * bird's score on its photo's page and in the review queue says it is the
 * detector's (a bird). */
TEST(life_list_unknown_birds_and_hour_axis)
{
    struct app a;
    start(&a, 0);
    char id[AV_STORE_ID_LEN + 1];
    stored_analysis(&a, "g.jpg", genus_magpie, id);
    av_http_resp r;
    CHECK_EQ_INT(get(&a, "/species", &r), 200);
    CHECK_STR_CONTAINS(r.body, "Life list: 1 species in 2 birds, after review. 1 more is named"
                               " only to the genus");
    CHECK_STR_CONTAINS(r.body, ">Corvus sp.</a></td>");
    CHECK_STR_CONTAINS(r.body, ">European Robin</a><br><i>Erithacus rubecula</i></td>");
    av_http_free(&r);

    stored_analysis(&a, "u.jpg", unknown_magpie, id);
    char path[160];
    snprintf(path, sizeof path, "/uploads/%s", id);
    CHECK_EQ_INT(get(&a, path, &r), 200);
    CHECK_STR_CONTAINS(r.body, "<td class=\"num\">69.2% <span class=\"meta\">(bird)</span></td>");
    CHECK_STR_CONTAINS(r.body, "<td class=\"num\">90.0%</td>"); /* the robin's species score */
    av_http_free(&r);
    CHECK_EQ_INT(get(&a, "/review", &r), 200); /* the queue names it as the results page does */
    CHECK_STR_CONTAINS(r.body, "Unknown bird 69% (bird)</span>");
    av_http_free(&r);
    CHECK_EQ_INT(get(&a, "/activity", &r), 200);
    hour_labels_apart(r.body);
    av_http_free(&r);
    stop(&a);
}

TEST(guests_without_the_vote_right_cannot_review)
{
    struct app a;
    start(&a, AV_WEB_GUEST_VIEW);
    char id[AV_STORE_ID_LEN + 1]; /* straight into the store: guests may not upload */
    stored_analysis(&a, "x.jpg", NULL, id);
    char path[160];
    av_http_resp r;
    snprintf(path, sizeof path, "/uploads/%s", id);
    CHECK_EQ_INT(get(&a, path, &r), 200);
    CHECK(!strstr(r.body, "id=\"add-bird\""));
    CHECK_STR_CONTAINS(r.body, "Reviewing is open to signed-in users only here.");
    av_http_free(&r);
    snprintf(path, sizeof path, "/uploads/%s/review", id);
    CHECK_EQ_INT(post(&a, path, "application/x-www-form-urlencoded", "box=0&action=confirm", &r),
                 403);
    av_http_free(&r);
    snprintf(path, sizeof path, "/api/v1/images/%s/detections/1", id);
    CHECK_EQ_INT(post(&a, path, "application/json", "{\"confirm\":true}", &r), 401);
    av_http_free(&r);
    av_store_review *v = NULL;
    int n = 1;
    char err[256];
    CHECK(av_store_reviews_list(a.store, id, 0, &v, &n, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(n, 0);
    free(v);
    stop(&a);
}

static long send_as(struct app *a, const char *method, const char *path, const char *cookie,
                    const char *body, av_http_resp *r)
{
    char u[1024];
    snprintf(u, sizeof u, "%s%s", a->base, path);
    const char *hdrs[] = {cookie, NULL};
    CHECK_EQ_INT(av_http_send(method, u, cookie ? hdrs : NULL,
                              body ? "application/x-www-form-urlencoded" : NULL, body,
                              body ? strlen(body) : 0, r),
                 0);
    return r->status;
}

TEST(owner_sets_the_tracked_species_on_the_settings_page)
{
    struct app a;
    start(&a, 0);
    char err[256];
    CHECK_MSG(av_store_user_add(a.store, "ann", "a long password", err, sizeof err) ==
                  AV_STORE_OK, "%s", err);
    av_http_resp r;
    CHECK_EQ_INT(post(&a, "/login", "application/x-www-form-urlencoded",
                      "user=ann&password=a+long+password", &r), 303);
    const char *sc = strstr(r.headers, "Set-Cookie: ");
    CHECK(sc);
    char cookie[300];
    snprintf(cookie, sizeof cookie, "Cookie: %.*s", (int)strcspn(sc + 12, ";\r\n"), sc + 12);
    av_http_free(&r);
    CHECK_EQ_INT(send_as(&a, "GET", "/settings", cookie, NULL, &r), 200);
    const char *p = strstr(r.body, "action=\"/settings\"><input type=\"hidden\" name=\"csrf\" value=\"");
    CHECK_MSG(p, "no tracked form: %.300s", r.body);
    char csrf[AV_STORE_TOKEN_LEN + 1];
    snprintf(csrf, sizeof csrf, "%.64s", strstr(p, "value=\"") + 7);
    av_http_free(&r);
    char body[400];
    snprintf(body, sizeof body, "csrf=%s&tracked=Carrion+Crow%%0APica+pica", csrf);
    CHECK_EQ_INT(send_as(&a, "POST", "/settings", cookie, body, &r), 303);
    av_http_free(&r);
    snprintf(body, sizeof body, "csrf=%s&tracked=Dodo", csrf);
    CHECK_EQ_INT(send_as(&a, "POST", "/settings", cookie, body, &r), 422);
    CHECK_STR_CONTAINS(r.body, "is not a species this Aviary knows");
    av_http_free(&r);
    CHECK_EQ_INT(send_as(&a, "POST", "/settings", NULL, "tracked=Pica+pica", &r), 403);
    av_http_free(&r);
    CHECK_EQ_INT(get(&a, "/monitor", &r), 200);
    CHECK_STR_CONTAINS(r.body, "<tr><td><i>Corvus corone</i></td>");
    CHECK_STR_CONTAINS(r.body, "<tr><td><i>Pica pica</i></td>");
    av_http_free(&r);
    snprintf(body, sizeof body, "csrf=%s&tracked=", csrf); /* empty: back to the flag */
    CHECK_EQ_INT(send_as(&a, "POST", "/settings", cookie, body, &r), 303);
    av_http_free(&r);
    CHECK_EQ_INT(get(&a, "/monitor", &r), 200);
    CHECK(!strstr(r.body, "<tr><td><i>Corvus corone</i></td>"));
    av_http_free(&r);
    stop(&a);
}

TEST_MAIN(T(several_files_redirect_to_their_batch_page),
          T(a_bird_reviewed_into_another_species_shows_everywhere), T(gallery_filters_and_pages),
          T(review_queue_puts_birds_outside_the_site_list_first),
          T(camera_visits_show_in_the_gallery_species_and_activity),
          T(guests_without_the_vote_right_cannot_review),
          T(life_list_unknown_birds_and_hour_axis),
          T(monitor_warns_when_confirmed_accuracy_falls),
          T(owner_sets_the_tracked_species_on_the_settings_page))
