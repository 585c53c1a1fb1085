/*
 * bench_store.c - storage throughput, SQLite vs MySQL/MariaDB: uploads/s
 * (image_insert of a 64 KiB image) and results reads/s (what the results
 * page reads: image_get without bytes + detections_get), at concurrency 1
 * and 16, each for a fixed time. Figures, not assertions.
 *
 *   build/bench/bench_store [URL...]
 *
 * Without URLs: a fresh SQLite file under /tmp, plus $AVIARY_BENCH_DB when
 * set (e.g. the URL scripts/mariadb prints, with &pool=16). Each URL gets
 * fresh rows; the databases are left behind.
 */
#include "store/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOB_BYTES (64 * 1024)
#define SECONDS 2.0
#define READ_SET 256

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

struct job {
    av_store *s;
    int reads;
    char (*ids)[AV_STORE_ID_LEN + 1];
    unsigned seed;
    double stop;
    long ops, errors;
};

static int make_image(av_store *s, const void *blob, char *id)
{
    av_store_image img;
    memset(&img, 0, sizeof img);
    if (av_store_new_id(img.id))
        return -1;
    snprintf(img.name, sizeof img.name, "bench.jpg");
    snprintf(img.ext, sizeof img.ext, "jpg");
    snprintf(img.content_type, sizeof img.content_type, "image/jpeg");
    img.size_bytes = BLOB_BYTES;
    char err[512];
    if (av_store_image_insert(s, &img, blob, BLOB_BYTES, err, sizeof err) != AV_STORE_OK)
        return -1;
    if (id)
        snprintf(id, AV_STORE_ID_LEN + 1, "%s", img.id);
    return 0;
}

static void *worker(void *arg)
{
    struct job *j = arg;
    static unsigned char blob[BLOB_BYTES];
    char err[512];
    while (now_s() < j->stop) {
        int ok;
        if (j->reads) {
            const char *id = j->ids[rand_r(&j->seed) % READ_SET];
            av_store_image img;
            av_store_detection *d = NULL;
            int n = 0;
            ok = av_store_image_get(j->s, id, 0, &img, err, sizeof err) == AV_STORE_OK &&
                 av_store_detections_get(j->s, id, &d, &n, err, sizeof err) == AV_STORE_OK;
            free(d);
        } else {
            ok = make_image(j->s, blob, NULL) == 0;
        }
        if (ok)
            j->ops++;
        else
            j->errors++;
    }
    return NULL;
}

static double run(av_store *s, int reads, int conc, char (*ids)[AV_STORE_ID_LEN + 1],
                  long *errors)
{
    struct job j[16];
    pthread_t t[16];
    double t0 = now_s();
    for (int i = 0; i < conc; i++) {
        j[i] = (struct job){.s = s, .reads = reads, .ids = ids, .seed = 7u + (unsigned)i,
                            .stop = t0 + SECONDS};
        pthread_create(&t[i], NULL, worker, &j[i]);
    }
    long ops = 0;
    *errors = 0;
    for (int i = 0; i < conc; i++) {
        pthread_join(t[i], NULL);
        ops += j[i].ops;
        *errors += j[i].errors;
    }
    return (double)ops / (now_s() - t0);
}

static int bench(const char *url)
{
    char err[512], shown[1200];
    av_store_redact_url(url, shown, sizeof shown);
    av_store *s = NULL;
    if (av_store_open(url, &s, err, sizeof err) != AV_STORE_OK ||
        av_store_migrate(s, NULL, err, sizeof err) != AV_STORE_OK) {
        fprintf(stderr, "bench_store: %s: %s\n", shown, err);
        av_store_close(s);
        return 1;
    }
    static char ids[READ_SET][AV_STORE_ID_LEN + 1];
    static unsigned char blob[BLOB_BYTES];
    av_store_detection d[3];
    memset(d, 0, sizeof d);
    for (int k = 0; k < 3; k++) {
        d[k].x2 = d[k].y2 = 100;
        d[k].score = d[k].detector_score = d[k].species_score = 0.8;
        snprintf(d[k].label, sizeof d[k].label, "bird");
        snprintf(d[k].species, sizeof d[k].species, "Pica pica");
        snprintf(d[k].model_version, sizeof d[k].model_version, "bench@1");
    }
    for (int i = 0; i < READ_SET; i++)
        if (make_image(s, blob, ids[i]) ||
            av_store_analysis_put(s, ids[i], 640, 480, d, 3, err, sizeof err) != AV_STORE_OK) {
            fprintf(stderr, "bench_store: %s: seeding failed: %s\n", shown, err);
            av_store_close(s);
            return 1;
        }
    printf("%s\n", shown);
    static const int concs[2] = {1, 16};
    for (int c = 0; c < 2; c++) {
        long e1 = 0, e2 = 0;
        double up = run(s, 0, concs[c], ids, &e1);
        double rd = run(s, 1, concs[c], ids, &e2);
        printf("  concurrency %2d: %8.0f uploads/s (64 KiB)  %8.0f results reads/s%s\n",
               concs[c], up, rd, e1 || e2 ? "  (errors!)" : "");
    }
    av_store_close(s);
    return 0;
}

int main(int argc, char **argv)
{
    int rc = 0;
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            rc |= bench(argv[i]);
        return rc;
    }
    char url[128];
    snprintf(url, sizeof url, "sqlite:/tmp/bench-store-%d.db", (int)getpid());
    rc |= bench(url);
    const char *my = getenv("AVIARY_BENCH_DB");
    if (my && *my)
        rc |= bench(my);
    return rc;
}
