/*
 * t_accounts.c - the store's accounts (users, passwords, sessions, API
 * tokens, failed-login counts), deleting an upload, and backup/restore, on
 * SQLite (or the MySQL/MariaDB server named by $AVIARY_TEST_DB).
 */
#include "harness.h"
#include "web_fixture.h"

#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

TEST(users_passwords_and_owner_count)
{
    av_store *s = av_test_open_store("a.db", 'u');
    char err[512];
    int64_t n = -1;
    CHECK_EQ_INT(av_store_owner_count(s, &n, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(av_store_user_add(s, "alice", "correct horse", err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(av_store_user_add(s, "alice", "another one", err, sizeof err),
                 AV_STORE_CONFLICT);
    CHECK_EQ_INT(av_store_user_add(s, "bob", "short", err, sizeof err), AV_STORE_EARG);
    CHECK_STR_CONTAINS(err, "too short");
    CHECK_EQ_INT(av_store_user_add(s, "b o b", "long enough", err, sizeof err), AV_STORE_EARG);
    CHECK_EQ_INT(av_store_user_add(s, "'; DROP TABLE users; --", "long enough", err, sizeof err),
                 AV_STORE_EARG);
    CHECK_EQ_INT(av_store_owner_count(s, &n, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(n, 1);

    av_store_user u;
    CHECK_EQ_INT(av_store_user_verify(s, "alice", "correct horse", &u, err, sizeof err),
                 AV_STORE_OK);
    CHECK_STR_EQ(u.name, "alice");
    CHECK_STR_EQ(u.role, "owner");
    CHECK_EQ_INT(av_store_user_verify(s, "alice", "correct hors", &u, err, sizeof err),
                 AV_STORE_NOT_FOUND);
    CHECK_EQ_INT(av_store_user_verify(s, "nobody", "correct horse", &u, err, sizeof err),
                 AV_STORE_NOT_FOUND);

    /* a new password works, the old one no longer, and sessions end */
    char tok[AV_STORE_TOKEN_LEN + 1], csrf[AV_STORE_TOKEN_LEN + 1], c2[AV_STORE_TOKEN_LEN + 1];
    CHECK_EQ_INT(av_store_user_verify(s, "alice", "correct horse", &u, err, sizeof err),
                 AV_STORE_OK);
    CHECK_EQ_INT(av_store_session_new(s, u.id, 60, tok, csrf, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(av_store_user_passwd(s, "alice", "battery staple", err, sizeof err),
                 AV_STORE_OK);
    CHECK_EQ_INT(av_store_session_get(s, tok, &u, c2, err, sizeof err), AV_STORE_NOT_FOUND);
    CHECK_EQ_INT(av_store_user_verify(s, "alice", "correct horse", &u, err, sizeof err),
                 AV_STORE_NOT_FOUND);
    CHECK_EQ_INT(av_store_user_verify(s, "alice", "battery staple", &u, err, sizeof err),
                 AV_STORE_OK);
    CHECK_EQ_INT(av_store_user_passwd(s, "nobody", "battery staple", err, sizeof err),
                 AV_STORE_NOT_FOUND);

    /* the stored hash is Argon2id, never the password */
    av_store_user *list = NULL;
    int count = 0;
    CHECK_EQ_INT(av_store_user_add(s, "carol", "carol's password", err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(av_store_user_list(s, &list, &count, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(count, 2);
    CHECK_STR_EQ(list[0].name, "alice");
    CHECK_STR_EQ(list[1].name, "carol");
    free(list);
    CHECK_EQ_INT(av_store_user_delete(s, "carol", err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(av_store_user_delete(s, "carol", err, sizeof err), AV_STORE_NOT_FOUND);
    CHECK_EQ_INT(av_store_owner_count(s, &n, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(n, 1);
    av_store_close(s);
}

TEST(sessions_and_api_tokens)
{
    av_store *s = av_test_open_store("a.db", 's');
    char err[512];
    CHECK_EQ_INT(av_store_user_add(s, "alice", "correct horse", err, sizeof err), AV_STORE_OK);
    av_store_user u, v;
    CHECK_EQ_INT(av_store_user_verify(s, "alice", "correct horse", &u, err, sizeof err),
                 AV_STORE_OK);
    char tok[AV_STORE_TOKEN_LEN + 1], csrf[AV_STORE_TOKEN_LEN + 1], got[AV_STORE_TOKEN_LEN + 1];
    CHECK_EQ_INT(av_store_session_new(s, u.id, 60, tok, csrf, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(strlen(tok), AV_STORE_TOKEN_LEN);
    CHECK(strcmp(tok, csrf) != 0);
    CHECK_EQ_INT(av_store_session_get(s, tok, &v, got, err, sizeof err), AV_STORE_OK);
    CHECK_STR_EQ(v.name, "alice");
    CHECK_STR_EQ(got, csrf);
    /* a token one digit off, or not hex, is no session */
    char bad[AV_STORE_TOKEN_LEN + 1];
    memcpy(bad, tok, sizeof bad);
    bad[0] = bad[0] == '0' ? '1' : '0';
    CHECK_EQ_INT(av_store_session_get(s, bad, &v, got, err, sizeof err), AV_STORE_NOT_FOUND);
    CHECK_EQ_INT(av_store_session_get(s, "' OR 1=1 --", &v, got, err, sizeof err),
                 AV_STORE_NOT_FOUND);
    CHECK_EQ_INT(av_store_session_end(s, tok, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(av_store_session_get(s, tok, &v, got, err, sizeof err), AV_STORE_NOT_FOUND);
    /* expiry: a 1 s session is gone after 1.2 s */
    CHECK_EQ_INT(av_store_session_new(s, u.id, 1, tok, csrf, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(av_store_session_get(s, tok, &v, got, err, sizeof err), AV_STORE_OK);
    usleep(1200 * 1000);
    CHECK_EQ_INT(av_store_session_get(s, tok, &v, got, err, sizeof err), AV_STORE_NOT_FOUND);

    char api[AV_STORE_TOKEN_LEN + 1], api2[AV_STORE_TOKEN_LEN + 1];
    CHECK_EQ_INT(av_store_user_api_token(s, "alice", api, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(av_store_user_by_api_token(s, api, &v, err, sizeof err), AV_STORE_OK);
    CHECK_STR_EQ(v.name, "alice");
    CHECK(v.has_api_token);
    CHECK_EQ_INT(av_store_user_api_token(s, "alice", api2, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(av_store_user_by_api_token(s, api, &v, err, sizeof err), AV_STORE_NOT_FOUND);
    CHECK_EQ_INT(av_store_user_by_api_token(s, api2, &v, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(av_store_user_api_token(s, "nobody", api, err, sizeof err), AV_STORE_NOT_FOUND);
    /* deleting the account ends its sessions and token */
    CHECK_EQ_INT(av_store_session_new(s, u.id, 60, tok, csrf, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(av_store_user_delete(s, "alice", err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(av_store_session_get(s, tok, &v, got, err, sizeof err), AV_STORE_NOT_FOUND);
    CHECK_EQ_INT(av_store_user_by_api_token(s, api2, &v, err, sizeof err), AV_STORE_NOT_FOUND);
    av_store_close(s);
}

TEST(failed_login_counts)
{
    av_store *s = av_test_open_store("a.db", 'l');
    char err[512];
    int retry = -1;
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(av_store_login_blocked(s, "user:a", 3, 60, &retry, err, sizeof err),
                     AV_STORE_OK);
        CHECK_EQ_INT(retry, 0);
        CHECK_EQ_INT(av_store_login_failed(s, "user:a", 60, err, sizeof err), AV_STORE_OK);
    }
    CHECK_EQ_INT(av_store_login_blocked(s, "user:a", 3, 60, &retry, err, sizeof err),
                 AV_STORE_OK);
    CHECK(retry > 55 && retry <= 60);
    CHECK_EQ_INT(av_store_login_blocked(s, "user:b", 3, 60, &retry, err, sizeof err),
                 AV_STORE_OK);
    CHECK_EQ_INT(retry, 0);
    CHECK_EQ_INT(av_store_login_reset(s, "user:a", err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(av_store_login_blocked(s, "user:a", 3, 60, &retry, err, sizeof err),
                 AV_STORE_OK);
    CHECK_EQ_INT(retry, 0);
    /* a window that ran out starts over at the next failure */
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(av_store_login_failed(s, "addr:x", 1, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(av_store_login_blocked(s, "addr:x", 3, 1, &retry, err, sizeof err),
                 AV_STORE_OK);
    CHECK(retry > 0);
    usleep(1100 * 1000);
    CHECK_EQ_INT(av_store_login_blocked(s, "addr:x", 3, 1, &retry, err, sizeof err),
                 AV_STORE_OK);
    CHECK_EQ_INT(retry, 0);
    CHECK_EQ_INT(av_store_login_failed(s, "addr:x", 1, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(av_store_login_failed(s, "addr:x", 1, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(av_store_login_blocked(s, "addr:x", 3, 1, &retry, err, sizeof err),
                 AV_STORE_OK);
    CHECK_EQ_INT(retry, 0); /* 2 in the new window */
    av_store_close(s);
}

static const unsigned char JPEG[] = {0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1};

static void add_image(av_store *s, char *id, int video)
{
    char err[512];
    av_store_image img;
    memset(&img, 0, sizeof img);
    CHECK_EQ_INT(av_store_new_id(id), 0);
    snprintf(img.id, sizeof img.id, "%s", id);
    snprintf(img.name, sizeof img.name, video ? "clip.mp4" : "bird.jpg");
    snprintf(img.ext, sizeof img.ext, video ? "mp4" : "jpg");
    snprintf(img.content_type, sizeof img.content_type, video ? "video/mp4" : "image/jpeg");
    img.size_bytes = sizeof JPEG;
    CHECK_MSG(av_store_image_insert(s, &img, JPEG, sizeof JPEG, err, sizeof err) == AV_STORE_OK,
              "%s", err);
    if (video) {
        CHECK_EQ_INT(av_store_video_add(s, id, "mp4", err, sizeof err), AV_STORE_OK);
        av_store_video info;
        memset(&info, 0, sizeof info);
        snprintf(info.codec, sizeof info.codec, "h264");
        info.width = 64, info.height = 48, info.duration_s = 1, info.sample_fps = 2;
        av_store_visit visit;
        memset(&visit, 0, sizeof visit);
        visit.track = 1, visit.n_frames = 1;
        snprintf(visit.det.label, sizeof visit.det.label, "bird");
        av_store_video_det det;
        memset(&det, 0, sizeof det);
        det.track = 1;
        av_store_media m = {"poster", "image/jpeg", JPEG, sizeof JPEG};
        CHECK_MSG(av_store_video_put(s, id, &info, &visit, 1, &det, 1, &m, 1, err, sizeof err) ==
                      AV_STORE_OK,
                  "%s", err);
    } else {
        av_store_detection d;
        memset(&d, 0, sizeof d);
        d.x2 = d.y2 = 10, d.score = 0.9, d.species_score = -1;
        snprintf(d.label, sizeof d.label, "bird");
        CHECK_EQ_INT(av_store_analysis_put(s, id, 64, 48, &d, 1, err, sizeof err), AV_STORE_OK);
        av_store_feedback fb = {.vote_yes = 1, .ground_truth = -1, .predicted = -1,
                                .satisfaction = 1};
        const char *cls[] = {"Pica pica"};
        CHECK_EQ_INT(av_store_feedback_add(s, id, &fb, cls, 1, NULL, err, sizeof err),
                     AV_STORE_OK);
    }
}

TEST(delete_removes_every_row_and_blob)
{
    av_store *s = av_test_open_store("a.db", 'd');
    char err[512], keep[AV_STORE_ID_LEN + 1], img_id[AV_STORE_ID_LEN + 1],
        vid_id[AV_STORE_ID_LEN + 1];
    char blobs[800];
    snprintf(blobs, sizeof blobs, "%s/blobs", av_test_tmpdir());
    mkdir(blobs, 0755);
    CHECK_EQ_INT(av_store_set_blob_store(s, blobs, 0, err, sizeof err), AV_STORE_OK);
    add_image(s, keep, 0);
    add_image(s, img_id, 0);
    add_image(s, vid_id, 1);
    int claimed = 0;
    CHECK_EQ_INT(av_store_analysis_claim(s, img_id, 1000, &claimed, err, sizeof err),
                 AV_STORE_OK);
    char path[1000];
    snprintf(path, sizeof path, "%s/%s.blob", blobs, img_id);
    CHECK(access(path, F_OK) == 0);

    CHECK_MSG(av_store_image_delete(s, img_id, err, sizeof err) == AV_STORE_OK, "%s", err);
    CHECK_MSG(av_store_image_delete(s, vid_id, err, sizeof err) == AV_STORE_OK, "%s", err);
    CHECK_EQ_INT(av_store_image_delete(s, img_id, err, sizeof err), AV_STORE_NOT_FOUND);
    CHECK_EQ_INT(av_store_image_delete(s, "not-an-id", err, sizeof err), AV_STORE_EARG);
    CHECK(access(path, F_OK) != 0);
    av_store_image img;
    CHECK_EQ_INT(av_store_image_get(s, img_id, 0, &img, err, sizeof err), AV_STORE_NOT_FOUND);
    CHECK_EQ_INT(av_store_image_get(s, vid_id, 0, &img, err, sizeof err), AV_STORE_NOT_FOUND);
    av_store_detection *d = NULL;
    int n = -1;
    CHECK_EQ_INT(av_store_detections_get(s, img_id, &d, &n, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(n, 0);
    free(d);
    av_store_video v;
    CHECK_EQ_INT(av_store_video_get(s, vid_id, &v, err, sizeof err), AV_STORE_NOT_FOUND);
    char ctype[32];
    void *data = NULL;
    size_t len = 0;
    CHECK_EQ_INT(av_store_video_media_get(s, vid_id, "poster", ctype, sizeof ctype, &data, &len,
                                          err, sizeof err),
                 AV_STORE_NOT_FOUND);
    /* the other image is untouched; the vote history stays */
    CHECK_EQ_INT(av_store_image_get(s, keep, 1, &img, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(img.blob_len, sizeof JPEG);
    av_store_image_clear(&img);
    int64_t count = 0;
    CHECK_EQ_INT(av_store_image_count(s, &count, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(count, 1);
    CHECK_EQ_INT(av_store_feedback_count(s, &count, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(count, 1);
    av_store_close(s);
}

TEST(backup_restore_round_trip)
{
    if (getenv("AVIARY_TEST_DB")) { /* MySQL/MariaDB: refused, pointing at mariadb-dump */
        char url[1200], err[512];
        av_test_db_url(url, sizeof url, "a.db", 'b');
        CHECK_EQ_INT(av_store_backup(url, "/nonexistent/x.db", err, sizeof err),
                     AV_STORE_EUNAVAILABLE);
        CHECK_STR_CONTAINS(err, "mariadb-dump");
        return;
    }
    const char *dir = av_test_tmpdir();
    char src_url[800], dst_url[800], backup[800], err[512];
    snprintf(src_url, sizeof src_url, "sqlite:%s/a.db", dir);
    snprintf(backup, sizeof backup, "%s/backup.db", dir);
    av_store *s = NULL;
    CHECK_EQ_INT(av_store_open(src_url, &s, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(av_store_migrate(s, NULL, err, sizeof err), AV_STORE_OK);
    char id[AV_STORE_ID_LEN + 1], vid[AV_STORE_ID_LEN + 1];
    add_image(s, id, 0);
    add_image(s, vid, 1);
    CHECK_EQ_INT(av_store_user_add(s, "alice", "correct horse", err, sizeof err), AV_STORE_OK);
    /* backed up while the store is open (a server running) */
    CHECK_MSG(av_store_backup(src_url, backup, err, sizeof err) == AV_STORE_OK, "%s", err);
    /* a second backup replaces the first */
    CHECK_MSG(av_store_backup(src_url, backup, err, sizeof err) == AV_STORE_OK, "%s", err);
    av_store_close(s);

    snprintf(dst_url, sizeof dst_url, "sqlite:%s/fresh/aviary.db", dir);
    char fresh[800];
    snprintf(fresh, sizeof fresh, "%s/fresh", dir);
    mkdir(fresh, 0755);
    CHECK_MSG(av_store_restore(backup, dst_url, err, sizeof err) == AV_STORE_OK, "%s", err);
    CHECK_EQ_INT(av_store_restore(backup, dst_url, err, sizeof err), AV_STORE_CONFLICT);
    CHECK_STR_CONTAINS(err, "fresh data folder");
    CHECK_EQ_INT(av_store_open(dst_url, &s, err, sizeof err), AV_STORE_OK);
    av_store_image img;
    CHECK_EQ_INT(av_store_image_get(s, id, 1, &img, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(img.blob_len, sizeof JPEG);
    CHECK(memcmp(img.blob, JPEG, sizeof JPEG) == 0);
    CHECK_STR_EQ(img.status, "done");
    CHECK_EQ_INT(img.voted, 1);
    av_store_image_clear(&img);
    av_store_detection *d = NULL;
    int n = 0;
    CHECK_EQ_INT(av_store_detections_get(s, id, &d, &n, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_NEAR(d[0].score, 0.9, 1e-9);
    free(d);
    char ctype[32];
    void *data = NULL;
    size_t len = 0;
    CHECK_EQ_INT(av_store_video_media_get(s, vid, "poster", ctype, sizeof ctype, &data, &len, err,
                                          sizeof err),
                 AV_STORE_OK);
    CHECK_EQ_INT(len, sizeof JPEG);
    free(data);
    av_store_user u;
    CHECK_EQ_INT(av_store_user_verify(s, "alice", "correct horse", &u, err, sizeof err),
                 AV_STORE_OK);
    int version = 0;
    CHECK_EQ_INT(av_store_schema_version(s, &version, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(version, av_store_migration_count(s));
    av_store_close(s);

    /* what is not an Aviary database is refused */
    char junk[800], other[800];
    snprintf(junk, sizeof junk, "%s/junk.db", dir);
    FILE *f = fopen(junk, "w");
    CHECK(f);
    fputs("not a database at all, just text\n", f);
    fclose(f);
    snprintf(other, sizeof other, "sqlite:%s/fresh/other.db", dir);
    CHECK_EQ_INT(av_store_restore(junk, other, err, sizeof err), AV_STORE_EARG);
    snprintf(junk, sizeof junk, "%s/fresh/other.db", dir);
    CHECK(access(junk, F_OK) != 0);
}

TEST_MAIN(T(users_passwords_and_owner_count), T(sessions_and_api_tokens), T(failed_login_counts),
          T(delete_removes_every_row_and_blob), T(backup_restore_round_trip))
