/*
 * t_reviews.c - per-bird reviews and capture metadata in the store
 * (schema v6): the latest review of a box wins, added boxes get their own
 * numbers even when added at once, the export iterator pages through every
 * image, and bad input is refused with a reason. SQLite, or the server of
 * $AVIARY_TEST_DB.
 */
#include "harness.h"
#include "web_fixture.h"

#include "store/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An analysed 640x480 image with n detections (Erithacus rubecula, then Pica pica). */
static void add_analysed(av_store *s, char *id, int n)
{
    av_store_image img;
    memset(&img, 0, sizeof img);
    CHECK(av_store_new_id(id) == 0);
    snprintf(img.id, sizeof img.id, "%s", id);
    snprintf(img.name, sizeof img.name, "garden.jpg");
    snprintf(img.ext, sizeof img.ext, "jpg");
    snprintf(img.content_type, sizeof img.content_type, "image/jpeg");
    img.size_bytes = 4;
    char err[256];
    CHECK_MSG(av_store_image_insert(s, &img, "\xff\xd8\xff\xe0", 4, err, sizeof err) ==
                  AV_STORE_OK, "%s", err);
    av_store_detection d[4];
    memset(d, 0, sizeof d);
    for (int i = 0; i < n && i < 4; i++) {
        d[i].x1 = 10 + 100 * i, d[i].y1 = 20, d[i].x2 = 90 + 100 * i, d[i].y2 = 120;
        d[i].score = d[i].species_score = 0.8;
        d[i].detector_score = 0.9;
        d[i].class_id = 3 + i;
        snprintf(d[i].label, sizeof d[i].label, "bird");
        snprintf(d[i].species, sizeof d[i].species, i ? "Pica pica" : "Erithacus rubecula");
        snprintf(d[i].common_name, sizeof d[i].common_name, i ? "Magpie" : "European Robin");
        snprintf(d[i].model_version, sizeof d[i].model_version, "t@1");
    }
    CHECK_MSG(av_store_analysis_put(s, id, 640, 480, d, n, err, sizeof err) == AV_STORE_OK, "%s",
              err);
}

static av_store_status review(av_store *s, const char *id, int box, av_store_review_action a,
                              const char *species, av_store_review *out, char *err, size_t n)
{
    av_store_review r;
    memset(&r, 0, sizeof r);
    snprintf(r.image_id, sizeof r.image_id, "%s", id);
    r.box = box;
    r.action = a;
    snprintf(r.who, sizeof r.who, "ann");
    if (species)
        snprintf(r.species, sizeof r.species, "%s", species);
    av_store_status st = av_store_review_add(s, &r, err, n);
    if (out)
        *out = r;
    return st;
}

TEST(latest_review_of_a_box_wins)
{
    av_store *s = av_test_open_store("t.db", 'r');
    char id[33], err[256];
    add_analysed(s, id, 2);
    av_store_review r;
    CHECK_MSG(review(s, id, 0, AV_REVIEW_CONFIRM, "ignored", &r, err, sizeof err) == AV_STORE_OK,
              "%s", err);
    CHECK_EQ_INT(r.rev, 1);
    CHECK_STR_EQ(r.species, "Erithacus rubecula"); /* confirm takes the model's */
    CHECK_STR_EQ(r.common_name, "European Robin");
    CHECK(r.x1 == 10 && r.y1 == 20 && r.x2 == 90 && r.y2 == 120);
    CHECK(strlen(r.created_at) == 24 && r.created_at[23] == 'Z');
    CHECK(review(s, id, 1, AV_REVIEW_SPECIES, "Corvus corone", &r, err, sizeof err) ==
          AV_STORE_OK);
    CHECK(review(s, id, 1, AV_REVIEW_SPECIES, "Garrulus glandarius", &r, err, sizeof err) ==
          AV_STORE_OK);
    CHECK_EQ_INT(r.rev, 2);
    CHECK_STR_EQ(r.model_species, "Pica pica");

    av_store_review *v = NULL;
    int n = 0;
    CHECK(av_store_reviews_list(s, id, 1, &v, &n, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(v[1].box, 1);
    CHECK_STR_EQ(v[1].species, "Garrulus glandarius");
    CHECK(v[1].action == AV_REVIEW_SPECIES);
    CHECK_STR_EQ(v[1].who, "ann");
    CHECK(v[1].image_width == 640 && v[1].image_height == 480 && !v[1].is_video);
    free(v);
    CHECK(av_store_reviews_list(s, id, 0, &v, &n, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(n, 3); /* history kept */
    CHECK_STR_EQ(v[1].species, "Corvus corone");
    free(v);

    /* A bird the model missed, then withdrawn; its model species stays none. */
    av_store_review a;
    memset(&a, 0, sizeof a);
    snprintf(a.image_id, sizeof a.image_id, "%s", id);
    a.action = AV_REVIEW_ADDED;
    a.x1 = 300, a.y1 = 300, a.x2 = 400, a.y2 = 380;
    snprintf(a.who, sizeof a.who, "guest");
    snprintf(a.species, sizeof a.species, "Turdus merula");
    CHECK_MSG(av_store_review_add(s, &a, err, sizeof err) == AV_STORE_OK, "%s", err);
    CHECK_EQ_INT(a.box, 2);
    CHECK(review(s, id, 2, AV_REVIEW_CONFIRM, NULL, &r, err, sizeof err) == AV_STORE_OK);
    CHECK_STR_EQ(r.species, "Turdus merula");
    CHECK_STR_EQ(r.model_species, "");
    CHECK(r.x1 == 300 && r.y2 == 380);
    CHECK(review(s, id, 2, AV_REVIEW_NOT_BIRD, NULL, &r, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(r.rev, 3);
    CHECK_STR_EQ(r.species, "");
    CHECK(av_store_reviews_list(s, id, 1, &v, &n, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(n, 3);
    CHECK(v[2].action == AV_REVIEW_NOT_BIRD);
    free(v);
    av_store_close(s);
}

TEST(bad_reviews_are_refused_with_a_reason)
{
    av_store *s = av_test_open_store("t.db", 'r');
    char id[33], err[256] = "";
    add_analysed(s, id, 1);
    CHECK(review(s, id, 5, AV_REVIEW_CONFIRM, NULL, NULL, err, sizeof err) ==
          AV_STORE_NOT_FOUND);
    CHECK_MSG(strstr(err, "no box 5"), "%s", err);
    CHECK(review(s, id, 0, AV_REVIEW_SPECIES, "", NULL, err, sizeof err) == AV_STORE_EARG);
    CHECK(review(s, id, 0, AV_REVIEW_SPECIES, "Pica\npica", NULL, err, sizeof err) ==
          AV_STORE_EARG);
    CHECK(review(s, id, -1, AV_REVIEW_CONFIRM, NULL, NULL, err, sizeof err) == AV_STORE_EARG);
    CHECK(review(s, id, 0, (av_store_review_action)99, NULL, NULL, err, sizeof err) ==
          AV_STORE_EARG);
    CHECK(review(s, "0123456789abcdef0123456789abcdef", 0, AV_REVIEW_CONFIRM, NULL, NULL, err,
                 sizeof err) == AV_STORE_NOT_FOUND);
    av_store_review a;
    memset(&a, 0, sizeof a);
    snprintf(a.image_id, sizeof a.image_id, "%s", id);
    snprintf(a.who, sizeof a.who, "ann");
    a.action = AV_REVIEW_ADDED;
    a.x1 = 600, a.y1 = 10, a.x2 = 700, a.y2 = 50; /* past the right edge */
    CHECK(av_store_review_add(s, &a, err, sizeof err) == AV_STORE_EARG);
    CHECK_MSG(strstr(err, "640x480"), "%s", err);
    a.who[0] = '\0';
    a.x2 = 620;
    CHECK(av_store_review_add(s, &a, err, sizeof err) == AV_STORE_EARG);

    /* Not analysed yet: nothing to review. */
    av_store_image img;
    memset(&img, 0, sizeof img);
    CHECK(av_store_new_id(img.id) == 0);
    snprintf(img.name, sizeof img.name, "p.jpg");
    snprintf(img.ext, sizeof img.ext, "jpg");
    snprintf(img.content_type, sizeof img.content_type, "image/jpeg");
    CHECK(av_store_image_insert(s, &img, "x", 1, err, sizeof err) == AV_STORE_OK);
    CHECK(review(s, img.id, 0, AV_REVIEW_CONFIRM, NULL, NULL, err, sizeof err) == AV_STORE_EARG);
    CHECK_MSG(strstr(err, "not analysed"), "%s", err);
    CHECK(av_store_review_action_parse("not_bird") == AV_REVIEW_NOT_BIRD);
    CHECK(av_store_review_action_parse("delete") == 0);
    av_store_close(s);
}

typedef struct adder {
    av_store *s;
    const char *id;
    int box;
    av_store_status st;
} adder;

static void *add_box(void *p)
{
    adder *a = p;
    av_store_review r;
    memset(&r, 0, sizeof r);
    snprintf(r.image_id, sizeof r.image_id, "%s", a->id);
    snprintf(r.who, sizeof r.who, "guest");
    r.action = AV_REVIEW_ADDED;
    r.x1 = 1, r.y1 = 1, r.x2 = 50, r.y2 = 50;
    char err[256];
    a->st = av_store_review_add(a->s, &r, err, sizeof err);
    a->box = r.box;
    return NULL;
}

TEST(boxes_added_at_once_get_distinct_numbers)
{
    av_store *s = av_test_open_store("t.db", 'r');
    char id[33];
    add_analysed(s, id, 2);
    enum { N = 6 };
    adder a[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        a[i] = (adder){s, id, -1, AV_STORE_EDB};
        CHECK(pthread_create(&t[i], NULL, add_box, &a[i]) == 0);
    }
    int seen[2 + N] = {0};
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ_INT(a[i].st, AV_STORE_OK);
        CHECK(a[i].box >= 2 && a[i].box < 2 + N);
        CHECK_MSG(!seen[a[i].box]++, "box %d twice", a[i].box);
    }
    av_store_close(s);
}

typedef struct walk {
    av_store *s;
    int n, stop_at, out_of_order, inner_ok;
    char last[33];
    int last_box;
} walk;

static int walk_fn(void *ud, const av_store_review *r)
{
    walk *w = ud;
    int c = strcmp(r->image_id, w->last);
    if (c < 0 || (c == 0 && r->box <= w->last_box))
        w->out_of_order++;
    snprintf(w->last, sizeof w->last, "%s", r->image_id);
    w->last_box = r->box;
    /* The store is usable from inside the callback (no session held). */
    av_store_review *v = NULL;
    int n = 0;
    char err[256];
    if (w->n % 97 == 0 &&
        av_store_reviews_list(w->s, r->image_id, 1, &v, &n, err, sizeof err) == AV_STORE_OK &&
        n >= 1)
        w->inner_ok++;
    free(v);
    return ++w->n == w->stop_at;
}

TEST(each_pages_through_every_current_box)
{
    av_store *s = av_test_open_store("t.db", 'r');
    char err[256];
    enum { IMAGES = 150 };
    for (int i = 0; i < IMAGES; i++) {
        char id[33];
        add_analysed(s, id, 2);
        CHECK(review(s, id, 0, AV_REVIEW_CONFIRM, NULL, NULL, err, sizeof err) == AV_STORE_OK);
        CHECK(review(s, id, 1, AV_REVIEW_DUPLICATE, NULL, NULL, err, sizeof err) == AV_STORE_OK);
        CHECK(review(s, id, 1, AV_REVIEW_SPECIES, "Pica pica", NULL, err, sizeof err) ==
              AV_STORE_OK);
    }
    walk w = {s, 0, -1, 0, 0, "", -1};
    CHECK_MSG(av_store_reviews_each(s, walk_fn, &w, err, sizeof err) == AV_STORE_OK, "%s", err);
    CHECK_EQ_INT(w.n, 2 * IMAGES); /* current reviews only, past a 256-row page */
    CHECK_EQ_INT(w.out_of_order, 0);
    CHECK(w.inner_ok >= 3);
    walk w2 = {s, 0, 7, 0, 0, "", -1};
    CHECK(av_store_reviews_each(s, walk_fn, &w2, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(w2.n, 7);
    av_store_close(s);
}

TEST(meta_round_trip_and_delete_takes_reviews)
{
    av_store *s = av_test_open_store("t.db", 'r');
    char id[33], err[256];
    add_analysed(s, id, 1);
    av_store_image_meta m = {"2026-05-01T06:12:09", 1, 51.5, -0.12}, got;
    CHECK_MSG(av_store_image_meta_put(s, id, &m, err, sizeof err) == AV_STORE_OK, "%s", err);
    CHECK(av_store_image_meta_get(s, id, &got, err, sizeof err) == AV_STORE_OK);
    CHECK_STR_EQ(got.taken_at, "2026-05-01T06:12:09");
    CHECK(got.has_gps && got.latitude == 51.5 && got.longitude == -0.12);
    av_store_image_meta none = {"", 0, 0, 0};
    CHECK(av_store_image_meta_put(s, id, &none, err, sizeof err) == AV_STORE_OK);
    CHECK(av_store_image_meta_get(s, id, &got, err, sizeof err) == AV_STORE_OK);
    CHECK(!got.has_gps && !got.taken_at[0]);
    CHECK(review(s, id, 0, AV_REVIEW_CONFIRM, NULL, NULL, err, sizeof err) == AV_STORE_OK);
    CHECK_MSG(av_store_image_delete(s, id, err, sizeof err) == AV_STORE_OK, "%s", err);
    av_store_review *v = NULL;
    int n = 1;
    CHECK(av_store_reviews_list(s, id, 0, &v, &n, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(n, 0);
    free(v);
    av_store_close(s);
}

typedef struct collect {
    av_store_bird b[16];
    int n;
} collect;

static int collect_fn(void *ud, const av_store_bird *b)
{
    collect *c = ud;
    if (c->n < 16)
        c->b[c->n++] = *b;
    return 0;
}

TEST(birds_and_gallery_follow_the_reviews)
{
    av_store *s = av_test_open_store("t.db", 'r');
    char a[33], b[33], err[256];
    add_analysed(s, a, 2);
    add_analysed(s, b, 1);
    CHECK(review(s, a, 1, AV_REVIEW_SPECIES, "Corvus corone", NULL, err, sizeof err) ==
          AV_STORE_OK);
    av_store_review ad;
    memset(&ad, 0, sizeof ad);
    snprintf(ad.image_id, sizeof ad.image_id, "%s", a);
    snprintf(ad.who, sizeof ad.who, "ann");
    snprintf(ad.species, sizeof ad.species, "Turdus merula");
    ad.action = AV_REVIEW_ADDED;
    ad.x1 = 5, ad.y1 = 5, ad.x2 = 55, ad.y2 = 45;
    CHECK(av_store_review_add(s, &ad, err, sizeof err) == AV_STORE_OK);
    av_store_image_meta m = {"2020-01-02T03:04:05", 1, 48.1, 11.5};
    CHECK(av_store_image_meta_put(s, a, &m, err, sizeof err) == AV_STORE_OK);

    collect c = {.n = 0};
    av_store_filter one = AV_STORE_FILTER_NONE;
    one.image_id = a;
    CHECK_MSG(av_store_birds_each(s, &one, collect_fn, &c, err, sizeof err) == AV_STORE_OK, "%s",
              err);
    CHECK_EQ_INT(c.n, 3);
    CHECK_STR_EQ(c.b[0].species, "Erithacus rubecula");
    CHECK(c.b[0].action == 0 && c.b[0].score > 0.79);
    CHECK_STR_EQ(c.b[1].species, "Corvus corone");
    CHECK_STR_EQ(c.b[1].model_species, "Pica pica");
    CHECK(c.b[1].action == AV_REVIEW_SPECIES);
    CHECK_STR_EQ(c.b[2].species, "Turdus merula");
    CHECK(c.b[2].action == AV_REVIEW_ADDED && c.b[2].x2 == 55);
    CHECK_STR_EQ(c.b[2].seen_at, "2020-01-02T03:04:05");
    CHECK(c.b[2].from_exif && c.b[2].has_gps && c.b[2].latitude == 48.1);

    av_store_filter sp = AV_STORE_FILTER_NONE;
    sp.species = "Corvus corone";
    c.n = 0;
    CHECK(av_store_birds_each(s, &sp, collect_fn, &c, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(c.n, 1);
    sp.species = "Pica pica"; /* a's magpie was corrected */
    c.n = 0;
    CHECK(av_store_birds_each(s, &sp, collect_fn, &c, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(c.n, 0);
    sp.species = "Erithacus rubecula";
    CHECK(av_store_birds_each(s, &sp, collect_fn, &c, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(c.n, 2);
    CHECK_STR_EQ(c.b[1].image_id, strcmp(a, b) < 0 ? b : a);
    CHECK(!c.b[strcmp(a, b) < 0 ? 1 : 0].from_exif);
    CHECK_EQ_INT(strlen(c.b[0].seen_at), 19);

    av_store_gallery_item *g = NULL;
    int n = 0;
    int64_t total = 0;
    CHECK(av_store_gallery(s, NULL, 0, 10, &g, &n, &total, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(total, 2);
    CHECK_EQ_INT(n, 2);
    free(g);
    av_store_filter f = AV_STORE_FILTER_NONE;
    f.reviewed = 0;
    CHECK_MSG(av_store_gallery(s, &f, 0, 10, &g, &n, &total, err, sizeof err) == AV_STORE_OK, "%s", err);
    CHECK_EQ_INT(n, 1);
    CHECK_STR_EQ(g[0].img.id, b);
    free(g);
    f = (av_store_filter)AV_STORE_FILTER_NONE;
    f.species = "Turdus merula";
    CHECK_MSG(av_store_gallery(s, &f, 0, 10, &g, &n, &total, err, sizeof err) == AV_STORE_OK, "%s", err);
    CHECK_EQ_INT(n, 1);
    CHECK_STR_EQ(g[0].img.id, a);
    CHECK_EQ_INT(g[0].n_reviews, 2);
    CHECK_STR_EQ(g[0].seen_at, "2020-01-02T03:04:05");
    free(g);
    f = (av_store_filter)AV_STORE_FILTER_NONE;
    f.to = "2020-12-31";
    CHECK_MSG(av_store_gallery(s, &f, 0, 10, &g, &n, &total, err, sizeof err) == AV_STORE_OK, "%s", err);
    CHECK_EQ_INT(total, 1);
    free(g);
    f.to = "2020-12-31'; --";
    CHECK(av_store_gallery(s, &f, 0, 10, &g, &n, &total, err, sizeof err) == AV_STORE_EARG);
    f = (av_store_filter)AV_STORE_FILTER_NONE;
    f.status = "done";
    CHECK(av_store_gallery(s, &f, 1, 1, &g, &n, &total, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(total, 2);
    CHECK_EQ_INT(n, 1); /* the second page of one */
    free(g);
    av_store_close(s);
}

TEST_MAIN(T(birds_and_gallery_follow_the_reviews), T(latest_review_of_a_box_wins), T(bad_reviews_are_refused_with_a_reason),
          T(boxes_added_at_once_get_distinct_numbers), T(each_pages_through_every_current_box),
          T(meta_round_trip_and_delete_takes_reviews))
