/*
 * t_store.c - the storage interface on SQLite: migrations, images,
 * atomic analysis, votes and true running means, concurrency.
 */
#include "harness.h"

#include "monitor/monitor.h"
#include "store/store.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static av_store *open_store(void)
{
    char url[700], err[512];
    snprintf(url, sizeof url, "sqlite:%s/t.db", av_test_tmpdir());
    av_store *s = NULL;
    CHECK_MSG(av_store_open(url, &s, err, sizeof err) == AV_STORE_OK, "%s", err);
    int v = 0;
    CHECK_MSG(av_store_migrate(s, &v, err, sizeof err) == AV_STORE_OK, "%s", err);
    CHECK(v >= 1);
    return s;
}

static void add_image(av_store *s, char *id)
{
    av_store_image img;
    memset(&img, 0, sizeof img);
    CHECK(av_store_new_id(id) == 0);
    snprintf(img.id, sizeof img.id, "%s", id);
    snprintf(img.name, sizeof img.name, "robin'); DROP TABLE images;--.jpg");
    snprintf(img.ext, sizeof img.ext, "jpg");
    snprintf(img.content_type, sizeof img.content_type, "image/jpeg");
    img.size_bytes = 4;
    char err[256];
    CHECK_MSG(av_store_image_insert(s, &img, "\xff\xd8\xff\xe0", 4, err, sizeof err) ==
                  AV_STORE_OK, "%s", err);
}

static av_store_detection det(const char *species, double score)
{
    av_store_detection d;
    memset(&d, 0, sizeof d);
    d.x1 = 10, d.y1 = 20, d.x2 = 110, d.y2 = 220;
    d.score = score;
    d.detector_score = 0.6;
    d.species_score = species ? score : -1;
    d.class_id = species ? 7 : 0;
    snprintf(d.label, sizeof d.label, "bird");
    snprintf(d.species, sizeof d.species, "%s", species ? species : "");
    snprintf(d.model_version, sizeof d.model_version, "nanodet@1");
    return d;
}

TEST(migrate_is_idempotent)
{
    av_store *s = open_store();
    int v1 = 0, v2 = 0;
    char err[256];
    CHECK(av_store_migrate(s, &v1, err, sizeof err) == AV_STORE_OK);
    CHECK(av_store_migrate(s, &v2, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(v1, v2);
    int v3 = 0;
    CHECK(av_store_schema_version(s, &v3, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(v3, v1);
    av_store_close(s);
}

TEST(bad_urls)
{
    av_store *s = (av_store *)1;
    char err[256];
    CHECK_EQ_INT(av_store_open("nonsense", &s, err, sizeof err), AV_STORE_EARG);
    CHECK(s == NULL);
    CHECK_EQ_INT(av_store_open("postgres://x", &s, err, sizeof err), AV_STORE_EARG);
    CHECK_EQ_INT(av_store_open("sqlite:/nonexistent/dir/x.db", &s, err, sizeof err), AV_STORE_EDB);
    CHECK_STR_CONTAINS(err, "cannot open");
}

TEST(image_round_trip_and_ids)
{
    av_store *s = open_store();
    char id[AV_STORE_ID_LEN + 1], id2[AV_STORE_ID_LEN + 1];
    add_image(s, id);
    add_image(s, id2);
    CHECK(strcmp(id, id2) != 0);
    CHECK(av_store_valid_id(id));
    CHECK(!av_store_valid_id("../../etc/passwd"));
    CHECK(!av_store_valid_id("ABCDEF"));
    av_store_image img;
    char err[256];
    CHECK(av_store_image_get(s, id, 1, &img, err, sizeof err) == AV_STORE_OK);
    CHECK_STR_EQ(img.name, "robin'); DROP TABLE images;--.jpg");
    CHECK_EQ_INT(img.blob_len, 4);
    CHECK(memcmp(img.blob, "\xff\xd8\xff\xe0", 4) == 0);
    CHECK_STR_EQ(img.status, "pending");
    CHECK_EQ_INT(img.voted, 0);
    av_store_image_clear(&img);
    int64_t n = 0;
    CHECK(av_store_image_count(s, &n, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(av_store_image_get(s, "0123456789abcdef0123456789abcdef", 0, &img, err,
                                    sizeof err), AV_STORE_NOT_FOUND);
    av_store_close(s);
}

TEST(analysis_is_stored_once)
{
    av_store *s = open_store();
    char id[AV_STORE_ID_LEN + 1], err[256];
    add_image(s, id);
    av_store_detection d[2] = {det("Erithacus rubecula", 0.9), det(NULL, 0.5)};
    CHECK(av_store_analysis_put(s, id, 640, 480, d, 2, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(av_store_analysis_put(s, id, 640, 480, d, 1, err, sizeof err),
                 AV_STORE_CONFLICT);
    av_store_detection *got;
    int n;
    CHECK(av_store_detections_get(s, id, &got, &n, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_STR_EQ(got[0].species, "Erithacus rubecula");
    CHECK_NEAR(got[0].score, 0.9, 1e-12);
    CHECK_NEAR(got[1].species_score, -1, 0);
    CHECK_NEAR(got[0].x2, 110, 1e-12);
    free(got);
    av_store_image img;
    CHECK(av_store_image_get(s, id, 0, &img, err, sizeof err) == AV_STORE_OK);
    CHECK_STR_EQ(img.status, "done");
    CHECK_EQ_INT(img.width, 640);
    av_store_close(s);
}

static void vote(av_store *s, const char *id, int yes, int gt, int pred, int ndet,
                 av_store_monitor_point *pt)
{
    static const char *const classes[] = {"Erithacus rubecula", "Periparus ater", "Pica pica"};
    av_monitor_vote v = {.yes = yes, .ground_truth = gt, .predicted = pred};
    av_store_feedback fb = {.vote_yes = yes, .ground_truth = gt, .predicted = pred,
                            .satisfaction = av_monitor_satisfaction(&v, ndet)};
    char err[256];
    CHECK_MSG(av_store_feedback_add(s, id, &fb, classes, 3, pt, err, sizeof err) == AV_STORE_OK,
              "%s", err);
}

TEST(running_means_are_true_means)
{
    av_store *s = open_store();
    char a[AV_STORE_ID_LEN + 1], b[AV_STORE_ID_LEN + 1], c[AV_STORE_ID_LEN + 1], err[256];
    add_image(s, a);
    add_image(s, b);
    add_image(s, c);
    av_store_detection da[2] = {det("Erithacus rubecula", 0.9), det("Erithacus rubecula", 0.7)};
    av_store_detection db[1] = {det("Pica pica", 0.6)};
    CHECK(av_store_analysis_put(s, a, 100, 100, da, 2, err, sizeof err) == AV_STORE_OK);
    CHECK(av_store_analysis_put(s, b, 100, 100, db, 1, err, sizeof err) == AV_STORE_OK);
    CHECK(av_store_analysis_put(s, c, 100, 100, NULL, 0, err, sizeof err) == AV_STORE_OK);
    av_store_monitor_point p;
    vote(s, a, 1, -1, -1, 2, &p);
    CHECK_NEAR(p.user_satisfaction, 1.0, 1e-12);
    CHECK_NEAR(p.class_avg[0], 0.8, 1e-12);
    CHECK(isnan(p.class_avg[1])); /* never seen: no made-up 1.0 */
    vote(s, b, 0, 4, 1, 1, &p);
    CHECK_NEAR(p.user_satisfaction, (1.0 + 0.25) / 2, 1e-12);
    CHECK_NEAR(p.class_avg[0], 0.8, 1e-12); /* robin mean unchanged by a magpie photo */
    CHECK_NEAR(p.class_avg[2], 0.6, 1e-12);
    vote(s, c, 0, 2, 0, 0, &p);
    CHECK_NEAR(p.user_satisfaction, 1.25 / 3, 1e-12);
    CHECK_EQ_INT(p.seq, 3);

    /* A second vote is refused and changes nothing. */
    av_store_feedback fb = {.vote_yes = 1, .satisfaction = 1};
    static const char *const classes[] = {"Erithacus rubecula"};
    CHECK_EQ_INT(av_store_feedback_add(s, a, &fb, classes, 1, NULL, err, sizeof err),
                 AV_STORE_CONFLICT);
    int64_t nf = 0;
    CHECK(av_store_feedback_count(s, &nf, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(nf, 3);

    av_store_monitor_point *pts;
    int n;
    static const char *const tracked[] = {"Pica pica", "Erithacus rubecula"};
    CHECK(av_store_monitoring_list(s, tracked, 2, &pts, &n, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(n, 3);
    CHECK(isnan(pts[0].class_avg[0]));
    CHECK_NEAR(pts[1].class_avg[0], 0.6, 1e-12);
    CHECK_NEAR(pts[2].class_avg[1], 0.8, 1e-12);
    CHECK_NEAR(pts[2].user_satisfaction, 1.25 / 3, 1e-12);
    CHECK(strcmp(pts[0].timestamp, "") != 0);
    free(pts);
    av_store_close(s);
}

TEST(vote_validation)
{
    av_monitor_vote v;
    char msg[256];
    CHECK_EQ_INT(av_monitor_parse_vote("yes", NULL, NULL, &v, msg, sizeof msg), 0);
    CHECK(v.yes);
    CHECK_EQ_INT(av_monitor_parse_vote("no", "3", "2", &v, msg, sizeof msg), 0);
    CHECK_NEAR(av_monitor_satisfaction(&v, 2), 2.0 / 3, 1e-12);
    CHECK_EQ_INT(av_monitor_parse_vote(NULL, "3", "2", &v, msg, sizeof msg), -1);
    CHECK_EQ_INT(av_monitor_parse_vote("maybe", "3", "2", &v, msg, sizeof msg), -1);
    CHECK_EQ_INT(av_monitor_parse_vote("no", "abc", "2", &v, msg, sizeof msg), -1);
    CHECK_EQ_INT(av_monitor_parse_vote("no", "-1", "0", &v, msg, sizeof msg), -1);
    CHECK_EQ_INT(av_monitor_parse_vote("no", "3", NULL, &v, msg, sizeof msg), -1);
    CHECK_EQ_INT(av_monitor_parse_vote("no", "2", "3", &v, msg, sizeof msg), -1);
    CHECK_STR_CONTAINS(msg, "cannot be more");
    CHECK_EQ_INT(av_monitor_parse_vote("no", "1e3", "0", &v, msg, sizeof msg), -1);
    CHECK_EQ_INT(av_monitor_parse_vote("no", "0", "0", &v, msg, sizeof msg), 0);
    CHECK_NEAR(av_monitor_satisfaction(&v, 1), 0.0, 0);
    CHECK_NEAR(av_monitor_satisfaction(&v, 0), 1.0, 0);
}

struct race {
    av_store *s;
    const char *id;
    int ok, conflict;
};

static void *race_put(void *arg)
{
    struct race *r = arg;
    av_store_detection d = det("Pica pica", 0.5);
    char err[256];
    av_store_status st = av_store_analysis_put(r->s, r->id, 10, 10, &d, 1, err, sizeof err);
    if (st == AV_STORE_OK)
        __atomic_add_fetch(&r->ok, 1, __ATOMIC_SEQ_CST);
    else if (st == AV_STORE_CONFLICT)
        __atomic_add_fetch(&r->conflict, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

TEST(concurrent_analysis_stores_one_result)
{
    av_store *s = open_store();
    char id[AV_STORE_ID_LEN + 1];
    add_image(s, id);
    struct race r = {.s = s, .id = id};
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, race_put, &r);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ_INT(r.ok, 1);
    CHECK_EQ_INT(r.conflict, 7);
    av_store_detection *got;
    int n;
    char err[256];
    CHECK(av_store_detections_get(s, id, &got, &n, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(n, 1);
    free(got);
    av_store_close(s);
}

TEST_MAIN(T(migrate_is_idempotent), T(bad_urls), T(image_round_trip_and_ids),
          T(analysis_is_stored_once), T(running_means_are_true_means), T(vote_validation),
          T(concurrent_analysis_stores_one_result))
