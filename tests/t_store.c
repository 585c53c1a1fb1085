/*
 * t_store.c - the storage interface: migrations, images, atomic analysis,
 * votes and true running means, concurrency, ML Metadata. On SQLite, or on
 * the MySQL/MariaDB server named by $AVIARY_TEST_DB (one fresh database per
 * case); the restart case also needs $AVIARY_TEST_MARIADB (scripts/mariadb).
 */
#include "harness.h"
#include "web_fixture.h"

#include "monitor/monitor.h"
#include "store/driver.h"
#include "store/store.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int on_mysql(void)
{
    const char *env = getenv("AVIARY_TEST_DB");
    return env && strncmp(env, "mysql:", 6) == 0;
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
    av_store *s = av_test_open_store("t.db", 't');
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
    av_store *s = av_test_open_store("t.db", 't');
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
    av_store *s = av_test_open_store("t.db", 't');
    char id[AV_STORE_ID_LEN + 1], err[256];
    add_image(s, id);
    av_store_detection d[2] = {det("Erithacus rubecula", 0.9), det(NULL, 0.5)};
    snprintf(d[1].whole_image_by, sizeof d[1].whole_image_by, "imagenet"); /* schema v10 */
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
    CHECK_STR_EQ(got[0].whole_image_by, "");
    CHECK_STR_EQ(got[1].whole_image_by, "imagenet");
    free(got);
    av_store_image img;
    CHECK(av_store_image_get(s, id, 0, &img, err, sizeof err) == AV_STORE_OK);
    CHECK_STR_EQ(img.status, "done");
    CHECK_EQ_INT(img.width, 640);
    av_store_close(s);
}

/* Each box's top guesses (schema v8) come back with its detections, by
 * box and best first, and go with the image when it is deleted. */
TEST(guesses_are_stored_per_box)
{
    av_store *s = av_test_open_store("t.db", 't');
    char id[AV_STORE_ID_LEN + 1], err[256];
    add_image(s, id);
    av_store_detection d[3] = {det("Pica pica", 0.4), det(NULL, 0.5), det("Corvus corone", 0.7)};
    const char *sp[3] = {"Pica pica", "Corvus corone", "Garrulus glandarius"};
    const char *cn[3] = {"Eurasian Magpie", "", "Eurasian Jay"};
    for (int k = 0; k < 3; k++) {
        d[0].guesses[k].score = 0.4 - 0.1 * k;
        snprintf(d[0].guesses[k].species, sizeof d[0].guesses[k].species, "%s", sp[k]);
        snprintf(d[0].guesses[k].common_name, sizeof d[0].guesses[k].common_name, "%s", cn[k]);
    }
    d[0].n_guesses = 3;
    d[2].guesses[0] = d[0].guesses[1];
    d[2].n_guesses = 1;
    CHECK_MSG(av_store_analysis_put(s, id, 640, 480, d, 3, err, sizeof err) == AV_STORE_OK, "%s",
              err);
    av_store_detection *got;
    int n;
    CHECK_MSG(av_store_detections_get(s, id, &got, &n, err, sizeof err) == AV_STORE_OK, "%s", err);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(got[0].n_guesses, 3);
    CHECK_STR_EQ(got[0].guesses[0].species, "Pica pica");
    CHECK_STR_EQ(got[0].guesses[0].common_name, "Eurasian Magpie");
    CHECK_STR_EQ(got[0].guesses[2].species, "Garrulus glandarius");
    CHECK_NEAR(got[0].guesses[2].score, 0.2, 1e-9);
    CHECK_STR_EQ(got[0].guesses[1].common_name, "");
    CHECK_EQ_INT(got[1].n_guesses, 0);
    CHECK_EQ_INT(got[2].n_guesses, 1);
    CHECK_STR_EQ(got[2].guesses[0].species, "Corvus corone");
    free(got);
    CHECK_MSG(av_store_image_delete(s, id, err, sizeof err) == AV_STORE_OK, "%s", err);
    av_store_close(s);
}

/* Of two nodes claiming one analysis, one wins until the lease runs out. */
TEST(analysis_claim_is_a_lease)
{
    av_store *s = av_test_open_store("t.db", 't');
    av_store *other = av_test_open_store("t.db", 't'); /* a second node: its own connections */
    char id[AV_STORE_ID_LEN + 1], err[256];
    add_image(s, id);
    int a = -1, b = -1;
    CHECK_MSG(av_store_analysis_claim(s, id, 60000, &a, err, sizeof err) == AV_STORE_OK, "%s",
              err);
    CHECK_MSG(av_store_analysis_claim(other, id, 60000, &b, err, sizeof err) == AV_STORE_OK, "%s",
              err);
    CHECK_EQ_INT(a, 1);
    CHECK_EQ_INT(b, 0);
    /* a lease of 1 ms has run out after 20 ms: the other node takes over */
    usleep(20 * 1000);
    CHECK(av_store_analysis_claim(other, id, 1, &b, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(b, 1);
    CHECK(av_store_analysis_claim(s, id, 60000, &a, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(a, 0);
    /* released (a retryable failure): anyone may claim at once */
    CHECK(av_store_analysis_release(other, id, err, sizeof err) == AV_STORE_OK);
    CHECK(av_store_analysis_claim(s, id, 60000, &a, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(a, 1);
    /* the note shows while pending and is cleared by the result */
    CHECK(av_store_analysis_note(s, id, "model server down", err, sizeof err) == AV_STORE_OK);
    av_store_image img;
    CHECK(av_store_image_get(s, id, 0, &img, err, sizeof err) == AV_STORE_OK);
    CHECK_STR_EQ(img.status, "pending");
    CHECK_STR_EQ(img.error, "model server down");
    av_store_detection d[1] = {det("Pica pica", 0.8)};
    CHECK(av_store_analysis_put(s, id, 64, 48, d, 1, err, sizeof err) == AV_STORE_OK);
    CHECK(av_store_image_get(s, id, 0, &img, err, sizeof err) == AV_STORE_OK);
    CHECK_STR_EQ(img.status, "done");
    CHECK_STR_EQ(img.error, "");
    CHECK_EQ_INT(av_store_analysis_claim(s, "nothex", 1000, &a, err, sizeof err), AV_STORE_EARG);
    av_store_close(other);
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
    av_store *s = av_test_open_store("t.db", 't');
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
    av_monitor_vote extra = {.yes = 0, .ground_truth = 2, .predicted = 2};
    CHECK_NEAR(av_monitor_satisfaction(&extra, 4), 0.5, 1e-12); /* two extra boxes */
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
    av_store *s = av_test_open_store("t.db", 't');
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

TEST(mysql_urls_and_secrets)
{
    av_store *s = (av_store *)1;
    char err[512];
    CHECK_EQ_INT(av_store_open("mysql:nohost", &s, err, sizeof err), AV_STORE_EARG);
    CHECK(s == NULL);
    CHECK_EQ_INT(av_store_open("mysql://u@h:99999/db", &s, err, sizeof err), AV_STORE_EARG);
    CHECK_EQ_INT(av_store_open("mysql://u@h/bad-name", &s, err, sizeof err), AV_STORE_EARG);
    CHECK_EQ_INT(av_store_open("mysql://u@h/db?colour=red", &s, err, sizeof err), AV_STORE_EARG);
    CHECK_EQ_INT(av_store_open("mysql://u@h/db?pool=0", &s, err, sizeof err), AV_STORE_EARG);
    CHECK_EQ_INT(av_store_open("mysql://u:p%zz@h/db", &s, err, sizeof err), AV_STORE_EARG);
    /* Nobody listens on port 1: unavailable, and the password stays out. */
    CHECK_EQ_INT(av_store_open("mysql://bob:s3cr%40t-pw@127.0.0.1:1/birdsClassifier?timeout=2",
                               &s, err, sizeof err), AV_STORE_EUNAVAILABLE);
    CHECK_STR_CONTAINS(err, "127.0.0.1:1/birdsClassifier");
    CHECK(!strstr(err, "s3cr"));
    setenv("AVIARY_DB_PASSWORD", "env-s3cret", 1);
    CHECK_EQ_INT(av_store_open("mysql://bob@127.0.0.1:1/x?timeout=2", &s, err, sizeof err),
                 AV_STORE_EUNAVAILABLE);
    CHECK(!strstr(err, "env-s3cret"));
    unsetenv("AVIARY_DB_PASSWORD");
    char path[800];
    snprintf(path, sizeof path, "%s/missing-password-file", av_test_tmpdir());
    setenv("AVIARY_DB_PASSWORD_FILE", path, 1);
    CHECK_EQ_INT(av_store_open("mysql://bob@127.0.0.1:1/x", &s, err, sizeof err), AV_STORE_EARG);
    CHECK_STR_CONTAINS(err, "AVIARY_DB_PASSWORD_FILE");
    unsetenv("AVIARY_DB_PASSWORD_FILE");
    char red[256];
    av_store_redact_url("mysql://root:ROOT@localhost:3306/birdsClassifier", red, sizeof red);
    CHECK_STR_EQ(red, "mysql://root:***@localhost:3306/birdsClassifier");
    av_store_redact_url("mysql://root@localhost/db", red, sizeof red);
    CHECK_STR_EQ(red, "mysql://root@localhost/db");
    av_store_redact_url("sqlite:/a:b@c/x.db", red, sizeof red);
    CHECK_STR_EQ(red, "sqlite:/a:b@c/x.db");
}

/* One text value from the database (first row), through the driver. */
static void db_text(av_store *s, const char *sql, const char *arg, char *out, size_t cap)
{
    av_store__sess *c;
    char err[512];
    CHECK_MSG(s->drv->sess_get(s, &c, err, sizeof err) == AV_STORE_OK, "%s", err);
    av_store__arg a[1] = {AV_ARG_T(arg)};
    av_store__col col = {AV_COL_TEXT, out, cap, 0};
    out[0] = '\0';
    av_store_status st = s->drv->query(c, sql, a, arg ? 1 : 0, &col, 1, NULL, NULL, err, sizeof err);
    s->drv->sess_put(s, c);
    CHECK_MSG(st == AV_STORE_OK, "%s", err);
}

TEST(mlmd_init_is_idempotent_with_v10_schema)
{
    av_store *s = av_test_open_store("t.db", 't');
    char err[512];
    av_store_mlmd_info info;
    CHECK(av_store_mlmd_status(s, &info, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(info.n_tables, 0);
    CHECK_MSG(av_store_mlmd_init(s, err, sizeof err) == AV_STORE_OK, "%s", err);
    CHECK_MSG(av_store_mlmd_init(s, err, sizeof err) == AV_STORE_OK, "%s", err);
    CHECK(av_store_mlmd_status(s, &info, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(info.n_tables, 15);
    CHECK_EQ_INT(info.schema_version, 10);
    CHECK_EQ_INT(info.n_types, 9); /* the simple types, once */
    static const char *const cols[15][2] = {
        {"Type", "id,name,version,type_kind,description,input_type,output_type,external_id"},
        {"ParentType", "type_id,parent_type_id"},
        {"TypeProperty", "type_id,name,data_type"},
        {"Artifact", "id,type_id,uri,state,name,external_id,create_time_since_epoch,"
                     "last_update_time_since_epoch"},
        {"ArtifactProperty", "artifact_id,name,is_custom_property,int_value,double_value,"
                             "string_value,byte_value,proto_value,bool_value"},
        {"Execution", "id,type_id,last_known_state,name,external_id,create_time_since_epoch,"
                      "last_update_time_since_epoch"},
        {"ExecutionProperty", "execution_id,name,is_custom_property,int_value,double_value,"
                              "string_value,byte_value,proto_value,bool_value"},
        {"Context", "id,type_id,name,external_id,create_time_since_epoch,"
                    "last_update_time_since_epoch"},
        {"ContextProperty", "context_id,name,is_custom_property,int_value,double_value,"
                            "string_value,byte_value,proto_value,bool_value"},
        {"ParentContext", "context_id,parent_context_id"},
        {"Event", "id,artifact_id,execution_id,type,milliseconds_since_epoch"},
        {"EventPath", "event_id,is_index_step,step_index,step_key"},
        {"Association", "id,context_id,execution_id"},
        {"Attribution", "id,context_id,artifact_id"},
        {"MLMDEnv", "schema_version"}};
    const char *colq = on_mysql()
                           ? "SELECT GROUP_CONCAT(column_name ORDER BY ordinal_position SEPARATOR"
                             " ',') FROM information_schema.columns WHERE table_schema ="
                             " DATABASE() AND table_name = ?"
                           : "SELECT group_concat(name, ',') FROM (SELECT name FROM"
                             " pragma_table_info(?) ORDER BY cid)";
    for (int i = 0; i < 15; i++) {
        char got[512];
        db_text(s, colq, cols[i][0], got, sizeof got);
        CHECK_MSG(strcmp(got, cols[i][1]) == 0, "%s columns: %s", cols[i][0], got);
    }
    char nidx[32];
    db_text(s,
            on_mysql() ? "SELECT COUNT(DISTINCT table_name, index_name) FROM"
                         " information_schema.statistics WHERE table_schema = DATABASE() AND"
                         " index_name LIKE 'idx\\_%'"
                       : "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name LIKE"
                         " 'idx\\_%' ESCAPE '\\'",
            NULL, nidx, sizeof nidx);
    CHECK_STR_EQ(nidx, "24");
    char ver[32];
    db_text(s, "SELECT COUNT(*) FROM `MLMDEnv` WHERE schema_version = 10", NULL, ver, sizeof ver);
    CHECK_STR_EQ(ver, "1");
    av_store_close(s);
}

struct reg {
    av_store *s;
    int64_t id;
    int created;
};

static const char *const k_metric_names[] = {"test_accuracy", "test_map50"};
static const double k_metric_values[] = {0.91, 0.42};

static void *reg_model(void *arg)
{
    struct reg *r = arg;
    av_store_model_info m = {.name = "nanodet", .version = "human-models-3.0.4",
                             .uri = "models/human/nanodet.json", .sha256 = "abc123", .role = "detector",
                             .n_metrics = 2, .metric_names = k_metric_names,
                             .metric_values = k_metric_values};
    char err[512];
    if (av_store_mlmd_register_model(r->s, &m, &r->id, &r->created, err, sizeof err) != AV_STORE_OK)
        r->id = -1;
    return NULL;
}

TEST(mlmd_model_registered_once_by_many)
{
    av_store *s = av_test_open_store("t.db", 't');
    char url[1200], err[512];
    av_test_db_url(url, sizeof url, "t.db", 't');
    /* Four processes and eight threads register the same model at once. */
    pid_t kids[4];
    for (int k = 0; k < 4; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            av_store *cs = NULL;
            if (av_store_open(url, &cs, err, sizeof err) != AV_STORE_OK)
                _exit(3);
            struct reg r = {.s = cs};
            reg_model(&r);
            av_store_close(cs);
            _exit(r.id > 0 ? 0 : 4);
        }
    }
    struct reg r[8];
    pthread_t t[8];
    for (int i = 0; i < 8; i++) {
        r[i] = (struct reg){.s = s};
        pthread_create(&t[i], NULL, reg_model, &r[i]);
    }
    int created = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        CHECK(r[i].id > 0);
        CHECK_EQ_INT(r[i].id, r[0].id);
        created += r[i].created;
    }
    for (int k = 0; k < 4; k++) {
        int status = 0;
        CHECK(waitpid(kids[k], &status, 0) == kids[k]);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d: %d", k, status);
    }
    CHECK(created <= 1);
    av_store_mlmd_info info;
    CHECK(av_store_mlmd_status(s, &info, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(info.n_models, 1);
    CHECK_EQ_INT(info.n_types, 10); /* + aviary.Model */

    int64_t ctx = 0, exe = 0, ctx2 = 0, exe2 = 0;
    CHECK_MSG(av_store_mlmd_deployment(s, "serve@test", &r[0].id, 1, &ctx, &exe, err, sizeof err) ==
                  AV_STORE_OK, "%s", err);
    CHECK(av_store_mlmd_deployment(s, "serve@test", &r[0].id, 1, &ctx2, &exe2, err, sizeof err) ==
          AV_STORE_OK);
    CHECK_EQ_INT(ctx2, ctx); /* one context per deployment */
    CHECK(exe2 != exe);      /* one execution per run */
    CHECK(av_store_mlmd_execution_end(s, exe, 1, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(av_store_mlmd_execution_end(s, 999999, 1, err, sizeof err), AV_STORE_NOT_FOUND);
    CHECK(av_store_mlmd_status(s, &info, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(info.n_contexts, 1);
    CHECK_EQ_INT(info.n_executions, 2);
    CHECK_EQ_INT(info.n_events, 2);
    av_store_model_version *mv;
    int n;
    CHECK(av_store_mlmd_models(s, &mv, &n, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_STR_EQ(mv[0].name, "nanodet");
    CHECK_STR_EQ(mv[0].version, "human-models-3.0.4");
    CHECK_STR_EQ(mv[0].sha256, "abc123");
    CHECK_EQ_INT(mv[0].n_runs, 2);
    free(mv);
    char metric[64];
    db_text(s,
            "SELECT CAST(double_value AS CHAR) FROM `ArtifactProperty` WHERE name ="
            " 'test_accuracy' AND is_custom_property = 1",
            NULL, metric, sizeof metric);
    CHECK_STR_EQ(metric, "0.91");
    av_store_close(s);
}

TEST(mlmd_registers_manifests_with_sha256)
{
    av_store *s = av_test_open_store("t.db", 't');
    char dir[800], path[900], err[512];
    snprintf(dir, sizeof dir, "%s", av_test_tmpdir());
    snprintf(path, sizeof path, "%s/pipeline.json", dir);
    FILE *f = fopen(path, "w");
    CHECK(f);
    fputs("{\"detector\": \"det\", \"species\": \"gone\"}", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/det.json", dir);
    f = fopen(path, "w");
    fputs("{\"name\": \"det\", \"version\": \"v1\", \"role\": \"detector\", \"file\": \"det.bin\","
          " \"test_metrics\": {\"map\": 0.5}}", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/gone.json", dir);
    f = fopen(path, "w");
    fputs("{\"name\": \"gone\", \"version\": \"v1\", \"file\": \"missing.bin\"}", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/det.bin", dir);
    f = fopen(path, "w");
    fputs("abc", f);
    fclose(f);
    int n = 0;
    int64_t exe = 0;
    CHECK_MSG(av_store_mlmd_register_manifests(s, dir, "serve@t", &n, &exe, err, sizeof err) ==
                  AV_STORE_OK, "%s", err);
    CHECK_EQ_INT(n, 1); /* the model whose file is missing is skipped */
    CHECK(exe > 0);
    CHECK(av_store_mlmd_register_manifests(s, dir, "serve@t", &n, NULL, err, sizeof err) ==
          AV_STORE_OK);
    av_store_model_version *mv;
    CHECK(av_store_mlmd_models(s, &mv, &n, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_STR_EQ(mv[0].sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK_EQ_INT(mv[0].n_runs, 2);
    free(mv);
    av_store_close(s);
}

struct uploader {
    av_store *s;
    int ok, fail;
};

static void *upload_many(void *arg)
{
    struct uploader *u = arg;
    for (int i = 0; i < 10; i++) {
        av_store_image img;
        memset(&img, 0, sizeof img);
        av_store_new_id(img.id);
        snprintf(img.name, sizeof img.name, "bird-%d.jpg", i);
        snprintf(img.ext, sizeof img.ext, "jpg");
        snprintf(img.content_type, sizeof img.content_type, "image/jpeg");
        img.size_bytes = 4;
        av_store_detection d = det("Pica pica", 0.5);
        char err[512];
        if (av_store_image_insert(u->s, &img, "\xff\xd8\xff\xe0", 4, err, sizeof err) ==
                AV_STORE_OK &&
            av_store_analysis_put(u->s, img.id, 10, 10, &d, 1, err, sizeof err) == AV_STORE_OK)
            u->ok++;
        else
            u->fail++;
    }
    return NULL;
}

TEST(concurrent_uploads_from_32_clients)
{
    av_store *s = av_test_open_store("t.db", 't');
    struct uploader u[32];
    pthread_t t[32];
    for (int i = 0; i < 32; i++) {
        u[i] = (struct uploader){.s = s};
        pthread_create(&t[i], NULL, upload_many, &u[i]);
    }
    int ok = 0;
    for (int i = 0; i < 32; i++) {
        pthread_join(t[i], NULL);
        ok += u[i].ok;
        CHECK_EQ_INT(u[i].fail, 0);
    }
    CHECK_EQ_INT(ok, 320);
    int64_t n = 0;
    char err[512], cnt[32];
    CHECK(av_store_image_count(s, &n, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(n, 320);
    db_text(s, "SELECT COUNT(*) FROM inferences", NULL, cnt, sizeof cnt);
    CHECK_STR_EQ(cnt, "320");
    av_store_close(s);
}

static int ctl(const char *what)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "%s %s >/dev/null", getenv("AVIARY_TEST_MARIADB"), what);
    return system(cmd);
}

TEST(server_restart_mid_run)
{
    if (!on_mysql() || !getenv("AVIARY_TEST_MARIADB"))
        SKIP("needs AVIARY_TEST_DB=mysql://... and AVIARY_TEST_MARIADB=scripts/mariadb");
    av_store *s = av_test_open_store("t.db", 't');
    char a[AV_STORE_ID_LEN + 1], b[AV_STORE_ID_LEN + 1], err[512];
    add_image(s, a);
    add_image(s, b);
    av_store_detection d[2] = {det("Pica pica", 0.9), det("Pica pica", 0.8)};
    CHECK(av_store_analysis_put(s, a, 100, 100, d, 2, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(ctl("halt"), 0);
    /* During the outage: clean failures, no crash (checked once it is back
     * up, so a failing check never leaves the server down). */
    int64_t n = 0;
    char err1[512] = "";
    av_store_status st1 = av_store_image_count(s, &n, err1, sizeof err1);
    av_store_status st2 = av_store_analysis_put(s, b, 100, 100, d, 2, err, sizeof err);
    av_store_feedback fb = {.vote_yes = 1, .ground_truth = -1, .predicted = -1, .satisfaction = 1};
    static const char *const classes[] = {"Pica pica"};
    av_store_status st3 = av_store_feedback_add(s, a, &fb, classes, 1, NULL, err, sizeof err);
    CHECK_EQ_INT(ctl("start"), 0);
    CHECK_EQ_INT(st1, AV_STORE_EUNAVAILABLE);
    CHECK_STR_CONTAINS(err1, "unavailable");
    CHECK(!strstr(err1, "aviary-test-pw"));
    CHECK(st2 != AV_STORE_OK);
    CHECK(st3 != AV_STORE_OK);
    /* Back: the next calls succeed, and nothing of the failed ones was written. */
    CHECK_MSG(av_store_image_count(s, &n, err, sizeof err) == AV_STORE_OK, "%s", err);
    CHECK_EQ_INT(n, 2);
    av_store_image img;
    CHECK(av_store_image_get(s, b, 0, &img, err, sizeof err) == AV_STORE_OK);
    CHECK_STR_EQ(img.status, "pending");
    CHECK(av_store_image_get(s, a, 0, &img, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(img.voted, 0);
    int64_t nf = -1;
    CHECK(av_store_feedback_count(s, &nf, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(nf, 0);
    av_store_detection *got;
    int nd;
    CHECK(av_store_detections_get(s, b, &got, &nd, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(nd, 0);
    free(got);
    CHECK_MSG(av_store_analysis_put(s, b, 100, 100, d, 2, err, sizeof err) == AV_STORE_OK, "%s",
              err);
    CHECK_MSG(av_store_feedback_add(s, a, &fb, classes, 1, NULL, err, sizeof err) == AV_STORE_OK,
              "%s", err);
    CHECK(av_store_detections_get(s, b, &got, &nd, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(nd, 2);
    free(got);
    av_store_close(s);
}

/* Kept in the database by default: a 70 MiB upload (a video) fits SQLite's
 * 256 MiB default; MySQL keeps its 64 MiB default and refuses it. */
TEST(default_blob_limit_per_driver)
{
    av_store *s = av_test_open_store("t.db", 't');
    size_t n = 70u << 20;
    unsigned char *big = malloc(n);
    CHECK(big);
    for (size_t i = 0; i < n; i += 4096)
        big[i] = (unsigned char)(i >> 12);
    av_store_image img;
    memset(&img, 0, sizeof img);
    CHECK(av_store_new_id(img.id) == 0);
    snprintf(img.name, sizeof img.name, "clip.mp4");
    snprintf(img.ext, sizeof img.ext, "mp4");
    snprintf(img.content_type, sizeof img.content_type, "video/mp4");
    img.size_bytes = (int64_t)n;
    char err[256];
    av_store_status st = av_store_image_insert(s, &img, big, n, err, sizeof err);
    if (on_mysql()) {
        CHECK_EQ_INT(st, AV_STORE_EARG);
        CHECK_STR_CONTAINS(err, "blob store");
    } else {
        CHECK_MSG(st == AV_STORE_OK, "%s", err);
        av_store_image got;
        CHECK(av_store_image_get(s, img.id, 1, &got, err, sizeof err) == AV_STORE_OK);
        CHECK(got.blob_len == n && !memcmp(got.blob, big, n));
        av_store_image_clear(&got);
    }
    free(big);
    av_store_close(s);
}

TEST(blob_store_and_size_limit)
{
    av_store *s = av_test_open_store("t.db", 't');
    char err[512], dir[800], id[AV_STORE_ID_LEN + 1];
    /* In the table (default), with a limit. */
    CHECK(av_store_set_blob_store(s, NULL, 3, err, sizeof err) == AV_STORE_OK);
    av_store_image img;
    memset(&img, 0, sizeof img);
    av_store_new_id(img.id);
    snprintf(img.name, sizeof img.name, "big.jpg");
    snprintf(img.ext, sizeof img.ext, "jpg");
    snprintf(img.content_type, sizeof img.content_type, "image/jpeg");
    img.size_bytes = 4;
    CHECK_EQ_INT(av_store_image_insert(s, &img, "\xff\xd8\xff\xe0", 4, err, sizeof err),
                 AV_STORE_EARG);
    CHECK_STR_CONTAINS(err, "blob store");
    /* In files. */
    snprintf(dir, sizeof dir, "%s/blobs", av_test_tmpdir());
    CHECK(av_store_set_blob_store(s, dir, 0, err, sizeof err) == AV_STORE_OK);
    add_image(s, id);
    av_store_image got;
    CHECK_MSG(av_store_image_get(s, id, 1, &got, err, sizeof err) == AV_STORE_OK, "%s", err);
    CHECK_EQ_INT(got.blob_len, 4);
    CHECK(memcmp(got.blob, "\xff\xd8\xff\xe0", 4) == 0);
    av_store_image_clear(&got);
    char path[900], cnt[32];
    snprintf(path, sizeof path, "%s/%s.blob", dir, id);
    CHECK(access(path, R_OK) == 0);
    db_text(s, "SELECT COUNT(*) FROM images WHERE image_blob IS NULL", NULL, cnt, sizeof cnt);
    CHECK_STR_EQ(cnt, "1");
    /* Same ID again: refused, the first file intact. */
    snprintf(img.id, sizeof img.id, "%s", id);
    CHECK_EQ_INT(av_store_image_insert(s, &img, "XXXX", 4, err, sizeof err), AV_STORE_CONFLICT);
    CHECK(av_store_image_get(s, id, 1, &got, err, sizeof err) == AV_STORE_OK);
    CHECK(memcmp(got.blob, "\xff\xd8\xff\xe0", 4) == 0);
    av_store_image_clear(&got);
    av_store_close(s);
}

TEST(killed_connection_fails_once_then_recovers)
{
    if (!on_mysql())
        SKIP("needs AVIARY_TEST_DB=mysql://...");
    av_store *s = av_test_open_store("t.db", 't');
    char id[AV_STORE_ID_LEN + 1], err[512], cid[32], q[96];
    add_image(s, id);
    db_text(s, "SELECT CAST(CONNECTION_ID() AS CHAR)", NULL, cid, sizeof cid);
    /* Another client kills our (only, pooled) connection under us. */
    av_store *admin = av_test_open_store("t.db", 't');
    av_store__sess *c;
    CHECK(admin->drv->sess_get(admin, &c, err, sizeof err) == AV_STORE_OK);
    snprintf(q, sizeof q, "KILL CONNECTION %lld", atoll(cid));
    CHECK_MSG(admin->drv->script(c, q, err, sizeof err) == AV_STORE_OK, "%s", err);
    admin->drv->sess_put(admin, c);
    av_store_close(admin);
    av_store_detection d = det("Pica pica", 0.5);
    av_store_status st = av_store_analysis_put(s, id, 10, 10, &d, 1, err, sizeof err);
    CHECK_MSG(st == AV_STORE_EUNAVAILABLE || st == AV_STORE_OK, "status %d: %s", st, err);
    if (st != AV_STORE_OK) /* failed cleanly: nothing written, and the retry works */
        CHECK_MSG(av_store_analysis_put(s, id, 10, 10, &d, 1, err, sizeof err) == AV_STORE_OK,
                  "%s", err);
    av_store_detection *got;
    int n;
    CHECK(av_store_detections_get(s, id, &got, &n, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(n, 1);
    free(got);
    av_store_close(s);
}

TEST_MAIN(T(guesses_are_stored_per_box), T(migrate_is_idempotent), T(default_blob_limit_per_driver), T(analysis_claim_is_a_lease), T(bad_urls), T(image_round_trip_and_ids),
          T(analysis_is_stored_once), T(running_means_are_true_means), T(vote_validation),
          T(concurrent_analysis_stores_one_result), T(mysql_urls_and_secrets),
          T(mlmd_init_is_idempotent_with_v10_schema), T(mlmd_model_registered_once_by_many),
          T(mlmd_registers_manifests_with_sha256), T(concurrent_uploads_from_32_clients),
          T(server_restart_mid_run), T(blob_store_and_size_limit),
          T(killed_connection_fails_once_then_recovers))
