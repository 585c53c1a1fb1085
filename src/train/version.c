/*
 * version.c - model versions under the model server's base path.
 *
 * A version folder N/ is a models folder the pipeline loads as is: the
 * base models folder's files (hard-linked when on the same file system,
 * else copied) with the species manifest rewritten to apply the retrained
 * head, plus
 *   retrain/head.bin      the head (format in src/detect/head.c)
 *   retrain/labels.txt    its classes, "Scientific (Common)", base first
 *   retrain/prior.json    the site's species prior (src/detect/prior.c)
 *   retrain/version.json  the training record: dataset, parameters, evaluation
 * It is built under a hidden name and renamed into place, so a watching
 * model server never loads half of it. A candidate is written as
 * candidate-N (not a number: never served) until promoted.
 */
#include "train/train.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_number(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

static long long latest(const char *base_dir, int candidates)
{
    DIR *d = opendir(base_dir);
    long long best = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        const char *n = e->d_name;
        if (candidates && !strncmp(n, "candidate-", 10))
            n += 10; /* a candidate's number is taken too */
        if (is_number(n) && strlen(n) < 18 && atoll(n) > best)
            best = atoll(n);
    }
    if (d)
        closedir(d);
    return best;
}

long long av_train_latest_version(const char *base_dir)
{
    return latest(base_dir, 1);
}

long long av_train_latest_served(const char *base_dir)
{
    return latest(base_dir, 0);
}

static int copy_file(const char *src, const char *dst)
{
    if (link(src, dst) == 0)
        return 0;
    FILE *in = fopen(src, "rb"), *out = in ? fopen(dst, "wb") : NULL;
    char buf[65536];
    size_t n;
    int bad = !in || !out;
    while (!bad && (n = fread(buf, 1, sizeof buf, in)) > 0)
        bad = fwrite(buf, 1, n, out) != n;
    if (in)
        fclose(in);
    if (out)
        bad |= fclose(out) != 0;
    return bad ? -1 : 0;
}

/* Copy folder src into dst (created), two levels deep, skipping `skip`. */
static int copy_tree(const char *src, const char *dst, const char *skip, int depth)
{
    if (mkdir(dst, 0755) && errno != EEXIST)
        return -1;
    DIR *d = opendir(src);
    if (!d)
        return -1;
    struct dirent *e;
    int bad = 0;
    while (!bad && (e = readdir(d))) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || !strcmp(e->d_name, "..")))
            continue;
        if (skip && !strcmp(e->d_name, skip))
            continue;
        char s[2048], t[2048];
        snprintf(s, sizeof s, "%s/%s", src, e->d_name);
        snprintf(t, sizeof t, "%s/%s", dst, e->d_name);
        struct stat st;
        if (stat(s, &st))
            bad = 1;
        else if (S_ISDIR(st.st_mode))
            bad = depth > 0 ? copy_tree(s, t, NULL, depth - 1) : 0;
        else if (S_ISREG(st.st_mode))
            bad = copy_file(s, t);
    }
    closedir(d);
    return bad ? -1 : 0;
}

static void remove_tree(const char *path, int depth)
{
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        struct stat st;
        if (!lstat(p, &st) && S_ISDIR(st.st_mode) && depth > 0)
            remove_tree(p, depth - 1);
        else
            unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(path);
}

/* Rewrite the species manifest of folder dir to apply retrain/head.bin. */
static int rewrite_manifest(const char *dir, const char *features, const char *background,
                            int with_prior, char *err, size_t errlen)
{
    char p[2048];
    snprintf(p, sizeof p, "%s/pipeline.json", dir);
    json_t *pj = json_load_file(p, 0, NULL);
    const char *sp = json_string_value(json_object_get(pj, "species"));
    if (!sp || strchr(sp, '/')) {
        json_decref(pj);
        snprintf(err, errlen, "%s: no species manifest named", p);
        return -1;
    }
    snprintf(p, sizeof p, "%s/%s.json", dir, sp);
    json_decref(pj);
    json_t *m = json_load_file(p, 0, NULL);
    int bad = !json_is_object(m);
    bad = bad || json_object_set_new(m, "labels",
                                     json_pack("{s:s, s:s}", "file", "retrain/labels.txt",
                                               "background", background));
    bad = bad || json_object_set_new(m, "head",
                                     json_pack("{s:s, s:s}", "file", "retrain/head.bin",
                                               "features", features));
    bad = bad || (with_prior && json_object_set_new(json_object_get(m, "head"), "prior",
                                                    json_string("retrain/prior.json")));
    unlink(p); /* a hard link to the base manifest: never write through it */
    bad = bad || json_dump_file(m, p, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(m);
    if (bad)
        snprintf(err, errlen, "%s: cannot rewrite the species manifest", p);
    return bad ? -1 : 0;
}

/* retrain/prior.json (format in src/detect/detect.h) over the dataset's classes. */
static int write_prior(const char *path, const av_train_dataset *d, const av_train_prior *pr,
                       char *err, size_t errlen)
{
    const char **names = malloc((size_t)d->n_classes * sizeof *names);
    if (!names) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    for (int c = 0; c < d->n_classes; c++)
        names[c] = d->names[c];
    av_detect_status st = av_detect_prior_save(path, pr->counts, names, d->n_classes,
                                               d->background, pr->alpha, pr->pseudo, err, errlen);
    free(names);
    return st ? -1 : 0;
}

av_train_status av_train_write_version(const char *base_dir, const char *models_dir,
                                       const av_train_dataset *d, const av_detect_head *h,
                                       const av_train_prior *prior, const char *json_info,
                                       int promote, long long *version, char *path, size_t cap,
                                       char *err, size_t errlen)
{
    if (mkdir(base_dir, 0755) && errno != EEXIST) {
        snprintf(err, errlen, "%s: cannot create (%s)", base_dir, strerror(errno));
        return AV_TRAIN_E_IO;
    }
    long long n = av_train_latest_version(base_dir) + 1;
    char tmp[1200], p[1300];
    snprintf(tmp, sizeof tmp, "%s/.building-%lld-%ld", base_dir, n, (long)getpid());
    remove_tree(tmp, 3);
    av_train_status st = AV_TRAIN_OK;
    if (copy_tree(models_dir, tmp, "retrain", 2)) {
        snprintf(err, errlen, "copying %s into %s failed", models_dir, tmp);
        st = AV_TRAIN_E_IO;
    }
    snprintf(p, sizeof p, "%s/retrain", tmp);
    if (!st && mkdir(p, 0755) && errno != EEXIST)
        st = AV_TRAIN_E_IO;
    snprintf(p, sizeof p, "%s/retrain/head.bin", tmp);
    if (!st && av_detect_head_save(p, h, err, errlen))
        st = AV_TRAIN_E_IO;
    snprintf(p, sizeof p, "%s/retrain/prior.json", tmp);
    if (!st && prior && write_prior(p, d, prior, err, errlen))
        st = AV_TRAIN_E_IO;
    snprintf(p, sizeof p, "%s/retrain/labels.txt", tmp);
    FILE *f = st ? NULL : fopen(p, "w");
    if (!st && !f)
        st = AV_TRAIN_E_IO;
    for (int c = 0; f && c < d->n_classes; c++) {
        if (c == d->background)
            fprintf(f, "background\n");
        else if (d->commons[c][0])
            fprintf(f, "%s (%s)\n", d->names[c], d->commons[c]);
        else
            fprintf(f, "%s\n", d->names[c]);
    }
    if (f && fclose(f))
        st = AV_TRAIN_E_IO;
    snprintf(p, sizeof p, "%s/retrain/version.json", tmp);
    f = st ? NULL : fopen(p, "w");
    if (!st && (!f || fputs(json_info, f) < 0))
        st = AV_TRAIN_E_IO;
    if (f && fclose(f))
        st = AV_TRAIN_E_IO;
    if (st == AV_TRAIN_E_IO && !err[0])
        snprintf(err, errlen, "writing %s failed (%s)", p, strerror(errno));
    if (!st && rewrite_manifest(tmp, d->feature_name, "background", prior != NULL, err, errlen))
        st = AV_TRAIN_E_IO;
    if (promote)
        snprintf(p, sizeof p, "%s/%lld", base_dir, n);
    else
        snprintf(p, sizeof p, "%s/candidate-%lld", base_dir, n);
    if (!st && rename(tmp, p)) {
        snprintf(err, errlen, "renaming %s to %s: %s", tmp, p, strerror(errno));
        st = AV_TRAIN_E_IO;
    }
    if (st) {
        remove_tree(tmp, 3);
        return st;
    }
    *version = n;
    snprintf(path, cap, "%s", p);
    return AV_TRAIN_OK;
}

av_train_status av_train_promote(const char *base_dir, const char *which, long long *version,
                                 char *err, size_t errlen)
{
    const char *num = !strncmp(which, "candidate-", 10) ? which + 10 : which;
    if (!is_number(num) || strchr(which, '/')) {
        snprintf(err, errlen, "'%s' is not a version (N or candidate-N)", which);
        return AV_TRAIN_E_ARG;
    }
    char src[1200], tmp[1200], dst[1200];
    snprintf(src, sizeof src, "%s/%s", base_dir, which);
    struct stat sb;
    if (stat(src, &sb) || !S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "%s: no such version folder", src);
        return AV_TRAIN_E_ARG;
    }
    long long n = av_train_latest_version(base_dir) + 1;
    snprintf(tmp, sizeof tmp, "%s/.building-%lld-%ld", base_dir, n, (long)getpid());
    snprintf(dst, sizeof dst, "%s/%lld", base_dir, n);
    remove_tree(tmp, 3);
    if (copy_tree(src, tmp, NULL, 2) || rename(tmp, dst)) {
        snprintf(err, errlen, "copying %s to %s failed (%s)", src, dst, strerror(errno));
        remove_tree(tmp, 3);
        return AV_TRAIN_E_IO;
    }
    *version = n;
    return AV_TRAIN_OK;
}
