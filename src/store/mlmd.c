/*
 * mlmd.c - ML Metadata (schema v10) on either driver, through the generic
 * statement primitives of driver.h, so SQLite and MySQL share one body.
 *
 * Layout: the serialised session (mx_*), small query helpers, types, then
 * the public calls in store.h's order. Ids are MLMD's own auto-increment
 * ids; times are milliseconds since the epoch, as MLMD writes them.
 */
#include "store/driver.h"
#include "base/base.h"
#include "store/sha256.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

extern const char *const av_store__mlmd_sql[]; /* [0] SQLite, [1] MySQL */

#define MLMD_SCHEMA_VERSION 10
#define MLMD_TABLES                                                                          \
    "('Type','ParentType','TypeProperty','Artifact','ArtifactProperty','Execution',"         \
    "'ExecutionProperty','Context','ContextProperty','ParentContext','Event','EventPath',"   \
    "'Association','Attribution','MLMDEnv')"

enum { KIND_EXECUTION = 0, KIND_ARTIFACT = 1, KIND_CONTEXT = 2 };
enum { PT_INT = 1, PT_DOUBLE = 2, PT_STRING = 3 };
enum { ART_LIVE = 2 };
enum { EXE_RUNNING = 2, EXE_COMPLETE = 3, EXE_FAILED = 4 };
enum { EV_INPUT = 3 };

typedef struct mx {
    av_store *s;
    const av_store_driver *d;
    av_store__sess *c;
    int locked, in_tx;
} mx;

static av_store_status q_int(mx *x, const char *sql, const av_store__arg *a, int n, int64_t *v,
                             int *found, char *err, size_t errlen);

/* A session that holds the database's MLMD lock and a transaction. */
static av_store_status mx_open(av_store *s, mx *x, char *err, size_t errlen)
{
    memset(x, 0, sizeof *x);
    x->s = s;
    x->d = s->drv;
    av_store_status st = x->d->sess_get(s, &x->c, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    /* MySQL DDL commits implicitly: serialise on a named lock */
    st = x->d->lock(x->c, "aviary_mlmd", 30, err, errlen);
    x->locked = st == AV_STORE_OK;
    if (st == AV_STORE_OK)
        st = x->d->begin(x->c, err, errlen);
    x->in_tx = st == AV_STORE_OK;
    if (st != AV_STORE_OK) {
        if (x->locked)
            x->d->unlock(x->c, "aviary_mlmd");
        x->d->sess_put(s, x->c);
    }
    return st;
}

/* Commit when st is OK (else roll back), unlock, release; returns the outcome. */
static av_store_status mx_close(mx *x, av_store_status st, char *err, size_t errlen)
{
    if (x->in_tx) {
        if (st == AV_STORE_OK)
            st = x->d->end(x->c, 1, err, errlen);
        else
            x->d->end(x->c, 0, NULL, 0);
    }
    if (x->locked)
        x->d->unlock(x->c, "aviary_mlmd");
    x->d->sess_put(x->s, x->c);
    return st;
}

struct first_ud {
    int found;
};

static int first_fn(void *ud)
{
    ((struct first_ud *)ud)->found = 1;
    return 1;
}

static av_store_status q_int(mx *x, const char *sql, const av_store__arg *a, int n, int64_t *v,
                             int *found, char *err, size_t errlen)
{
    struct first_ud f = {0};
    *v = 0;
    av_store__col col = {AV_COL_INT, v, 0, 0};
    av_store_status st = x->d->query(x->c, sql, a, n, &col, 1, first_fn, &f, err, errlen);
    if (found)
        *found = f.found;
    return st;
}

static av_store_status q_exec(mx *x, const char *sql, const av_store__arg *a, int n,
                              int64_t *last_id, char *err, size_t errlen)
{
    return x->d->exec(x->c, sql, a, n, NULL, last_id, err, errlen);
}

static av_store_status tables_present(mx *x, int *n, char *err, size_t errlen)
{
    int64_t v = 0;
    char sql[512];
    av_store_status st = q_int(x, av_store__sql_wrap(x->d->count_tables, MLMD_TABLES, sql, sizeof sql), NULL, 0, &v,
                               NULL, err, errlen);
    *n = (int)v;
    return st;
}

/* ---- types ---- */

typedef struct prop_decl {
    const char *name;
    int data_type;
} prop_decl;

/* Id of the unversioned type (name, kind), created with its declared
 * properties (and base type parent, if given) when missing. */
static av_store_status ensure_type(mx *x, const char *name, int kind, const prop_decl *props,
                                   int nprops, const char *parent, int64_t *id, char *err,
                                   size_t errlen)
{
    int found = 0;
    av_store__arg a[3] = {AV_ARG_T(name), AV_ARG_I(kind)};
    av_store_status st = q_int(x,
                               "SELECT id FROM `Type` WHERE name = ? AND version IS NULL AND"
                               " type_kind = ? ORDER BY id LIMIT 1",
                               a, 2, id, &found, err, errlen);
    if (st == AV_STORE_OK && !found)
        st = q_exec(x, "INSERT INTO `Type` (name, type_kind) VALUES (?, ?)", a, 2, id, err,
                    errlen);
    for (int i = 0; st == AV_STORE_OK && i < nprops; i++) {
        av_store__arg p[3] = {AV_ARG_I(*id), AV_ARG_T(props[i].name), AV_ARG_I(props[i].data_type)};
        int64_t n = 0;
        st = q_int(x, "SELECT COUNT(*) FROM `TypeProperty` WHERE type_id = ? AND name = ?", p, 2,
                   &n, NULL, err, errlen);
        if (st == AV_STORE_OK && n == 0)
            st = q_exec(x, "INSERT INTO `TypeProperty` (type_id, name, data_type) VALUES (?, ?, ?)",
                        p, 3, NULL, err, errlen);
    }
    if (st == AV_STORE_OK && parent) {
        int64_t pid = 0;
        int pf = 0;
        av_store__arg b[2] = {AV_ARG_T(parent), AV_ARG_I(kind)};
        st = q_int(x,
                   "SELECT id FROM `Type` WHERE name = ? AND version IS NULL AND type_kind = ?"
                   " ORDER BY id LIMIT 1",
                   b, 2, &pid, &pf, err, errlen);
        if (st == AV_STORE_OK && pf) {
            av_store__arg c[2] = {AV_ARG_I(*id), AV_ARG_I(pid)};
            int64_t n = 0;
            st = q_int(x,
                       "SELECT COUNT(*) FROM `ParentType` WHERE type_id = ? AND parent_type_id = ?",
                       c, 2, &n, NULL, err, errlen);
            if (st == AV_STORE_OK && n == 0)
                st = q_exec(x, "INSERT INTO `ParentType` (type_id, parent_type_id) VALUES (?, ?)",
                            c, 2, NULL, err, errlen);
        }
    }
    return st;
}

static av_store_status init_locked(mx *x, char *err, size_t errlen)
{
    int n = 0;
    av_store_status st = tables_present(x, &n, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    if (n == 0) {
        int mysql = strcmp(x->d->dialect, "mysql") == 0; /* the schema, one per dialect */
        st = x->d->script(x->c, av_store__mlmd_sql[mysql], err, errlen);
        if (st != AV_STORE_OK)
            return st;
    } else if (n != 15) {
        return av_store__fail(err, errlen, AV_STORE_EDB,
                              "mlmd: only %d of the 15 MLMD tables exist (a subset: refusing to"
                              " guess; drop them or finish by hand)", n);
    }
    int64_t v = 0;
    int found = 0;
    st = q_int(x, "SELECT schema_version FROM `MLMDEnv` ORDER BY schema_version DESC LIMIT 1",
               NULL, 0, &v, &found, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    if (!found || v != MLMD_SCHEMA_VERSION)
        return av_store__fail(err, errlen, AV_STORE_EDB,
                              "mlmd: schema version %lld in MLMDEnv, this build speaks %d",
                              (long long)v, MLMD_SCHEMA_VERSION);
    static const struct {
        const char *name;
        int kind;
    } simple[] = {{"mlmd.Dataset", KIND_ARTIFACT},  {"mlmd.Model", KIND_ARTIFACT},
                  {"mlmd.Metrics", KIND_ARTIFACT},  {"mlmd.Statistics", KIND_ARTIFACT},
                  {"mlmd.Train", KIND_EXECUTION},   {"mlmd.Transform", KIND_EXECUTION},
                  {"mlmd.Process", KIND_EXECUTION}, {"mlmd.Evaluate", KIND_EXECUTION},
                  {"mlmd.Deploy", KIND_EXECUTION}};
    for (size_t i = 0; st == AV_STORE_OK && i < sizeof simple / sizeof simple[0]; i++) {
        int64_t id;
        st = ensure_type(x, simple[i].name, simple[i].kind, NULL, 0, NULL, &id, err, errlen);
    }
    return st;
}

av_store_status av_store_mlmd_init(av_store *s, char *err, size_t errlen)
{
    mx x;
    av_store_status st = mx_open(s, &x, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    st = init_locked(&x, err, errlen);
    return mx_close(&x, st, err, errlen);
}

av_store_status av_store_mlmd_status(av_store *s, av_store_mlmd_info *out, char *err,
                                     size_t errlen)
{
    memset(out, 0, sizeof *out);
    mx x;
    av_store_status st = mx_open(s, &x, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    st = tables_present(&x, &out->n_tables, err, errlen);
    if (st == AV_STORE_OK && out->n_tables == 15) {
        int64_t v = 0;
        st = q_int(&x, "SELECT COALESCE(MAX(schema_version), 0) FROM `MLMDEnv`", NULL, 0, &v,
                   NULL, err, errlen);
        out->schema_version = (int)v;
        static const char *const q[6] = {
            "SELECT COUNT(*) FROM `Type`",
            "SELECT COUNT(*) FROM `Artifact`",
            ("SELECT COUNT(*) FROM `Artifact` a JOIN `Type` t ON t.id = a.type_id"
             " WHERE t.name = 'aviary.Model'"),
            "SELECT COUNT(*) FROM `Execution`",
            "SELECT COUNT(*) FROM `Context`",
            "SELECT COUNT(*) FROM `Event`"};
        int64_t *dst[6] = {&out->n_types,      &out->n_artifacts, &out->n_models,
                           &out->n_executions, &out->n_contexts,  &out->n_events};
        for (int i = 0; i < 6 && st == AV_STORE_OK; i++)
            st = q_int(&x, q[i], NULL, 0, dst[i], NULL, err, errlen);
    }
    return mx_close(&x, st, err, errlen);
}

/* ---- models ---- */

static const prop_decl k_model_props[] = {{"name", PT_STRING},   {"version", PT_STRING},
                                          {"uri", PT_STRING},    {"sha256", PT_STRING},
                                          {"role", PT_STRING}};

static const char *nz(const char *s)
{
    return s ? s : "";
}

static av_store_status register_locked(mx *x, const av_store_model_info *m, int64_t *id,
                                       int *created, char *err, size_t errlen)
{
    int64_t type_id = 0;
    av_store_status st = init_locked(x, err, errlen);
    if (st == AV_STORE_OK)
        st = ensure_type(x, "aviary.Model", KIND_ARTIFACT, k_model_props,
                         (int)(sizeof k_model_props / sizeof k_model_props[0]), "mlmd.Model",
                         &type_id, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    char name[256];
    const char *sha = nz(m->sha256);
    snprintf(name, sizeof name, "%s@%s%s%.12s", nz(m->name), nz(m->version), *sha ? ":" : "",
             sha);
    int found = 0;
    av_store__arg a[6] = {AV_ARG_I(type_id), AV_ARG_T(name)};
    st = q_int(x, "SELECT id FROM `Artifact` WHERE type_id = ? AND name = ?", a, 2, id, &found,
               err, errlen);
    if (st != AV_STORE_OK || found) {
        if (created)
            *created = 0;
        return st;
    }
    int64_t now = av_base_wall_ms();
    av_store__arg ins[5] = {AV_ARG_I(type_id), AV_ARG_T(nz(m->uri)), AV_ARG_I(ART_LIVE),
                            AV_ARG_T(name), AV_ARG_I(now)};
    st = q_exec(x,
                "INSERT INTO `Artifact` (type_id, uri, state, name, create_time_since_epoch,"
                " last_update_time_since_epoch) VALUES (?, ?, ?, ?, ?, ?)",
                (av_store__arg[6]){ins[0], ins[1], ins[2], ins[3], ins[4], ins[4]}, 6, id, err,
                errlen);
    const char *vals[5] = {nz(m->name), nz(m->version), nz(m->uri), sha, nz(m->role)};
    for (int i = 0; st == AV_STORE_OK && i < 5; i++) {
        av_store__arg p[3] = {AV_ARG_I(*id), AV_ARG_T(k_model_props[i].name), AV_ARG_T(vals[i])};
        st = q_exec(x,
                    "INSERT INTO `ArtifactProperty` (artifact_id, name, is_custom_property,"
                    " string_value) VALUES (?, ?, 0, ?)",
                    p, 3, NULL, err, errlen);
    }
    for (int i = 0; st == AV_STORE_OK && i < m->n_metrics; i++) {
        av_store__arg p[3] = {AV_ARG_I(*id), AV_ARG_T(m->metric_names[i]),
                              AV_ARG_D(m->metric_values[i])};
        st = q_exec(x,
                    "INSERT INTO `ArtifactProperty` (artifact_id, name, is_custom_property,"
                    " double_value) VALUES (?, ?, 1, ?)",
                    p, 3, NULL, err, errlen);
    }
    if (created)
        *created = st == AV_STORE_OK;
    return st;
}

av_store_status av_store_mlmd_register_model(av_store *s, const av_store_model_info *m,
                                             int64_t *artifact_id, int *created, char *err,
                                             size_t errlen)
{
    if (!m || !m->name || !*m->name || m->n_metrics < 0 || (m->n_metrics && (!m->metric_names ||
                                                                            !m->metric_values)))
        return av_store__fail(err, errlen, AV_STORE_EARG, "mlmd: a model needs a name");
    mx x;
    int64_t id = 0;
    av_store_status st = mx_open(s, &x, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    st = register_locked(&x, m, &id, created, err, errlen);
    st = mx_close(&x, st, err, errlen);
    if (st == AV_STORE_OK && artifact_id)
        *artifact_id = id;
    return st;
}

static av_store_status deployment_locked(mx *x, const char *name, const int64_t *arts, int n,
                                         int64_t *ctx, int64_t *exe, char *err, size_t errlen)
{
    int64_t ctype = 0, etype = 0;
    av_store_status st = init_locked(x, err, errlen);
    if (st == AV_STORE_OK)
        st = ensure_type(x, "aviary.Deployment", KIND_CONTEXT, NULL, 0, NULL, &ctype, err,
                         errlen);
    if (st == AV_STORE_OK)
        st = ensure_type(x, "aviary.Serving", KIND_EXECUTION, NULL, 0, "mlmd.Deploy", &etype,
                         err, errlen);
    if (st != AV_STORE_OK)
        return st;
    int64_t now = av_base_wall_ms();
    int found = 0;
    av_store__arg a[4] = {AV_ARG_I(ctype), AV_ARG_T(name), AV_ARG_I(now), AV_ARG_I(now)};
    st = q_int(x, "SELECT id FROM `Context` WHERE type_id = ? AND name = ?", a, 2, ctx, &found,
               err, errlen);
    if (st == AV_STORE_OK && !found)
        st = q_exec(x,
                    "INSERT INTO `Context` (type_id, name, create_time_since_epoch,"
                    " last_update_time_since_epoch) VALUES (?, ?, ?, ?)",
                    a, 4, ctx, err, errlen);
    for (int i = 0; st == AV_STORE_OK && i < n; i++) {
        av_store__arg b[2] = {AV_ARG_I(*ctx), AV_ARG_I(arts[i])};
        int64_t k = 0;
        st = q_int(x, "SELECT COUNT(*) FROM `Attribution` WHERE context_id = ? AND artifact_id = ?",
                   b, 2, &k, NULL, err, errlen);
        if (st == AV_STORE_OK && k == 0)
            st = q_exec(x, "INSERT INTO `Attribution` (context_id, artifact_id) VALUES (?, ?)", b,
                        2, NULL, err, errlen);
    }
    av_store__arg e[4] = {AV_ARG_I(etype), AV_ARG_I(EXE_RUNNING), AV_ARG_I(now), AV_ARG_I(now)};
    if (st == AV_STORE_OK)
        st = q_exec(x,
                    "INSERT INTO `Execution` (type_id, last_known_state, create_time_since_epoch,"
                    " last_update_time_since_epoch) VALUES (?, ?, ?, ?)",
                    e, 4, exe, err, errlen);
    av_store__arg as[2] = {AV_ARG_I(*ctx), AV_ARG_I(*exe)};
    if (st == AV_STORE_OK)
        st = q_exec(x, "INSERT INTO `Association` (context_id, execution_id) VALUES (?, ?)", as,
                    2, NULL, err, errlen);
    for (int i = 0; st == AV_STORE_OK && i < n; i++) {
        av_store__arg ev[4] = {AV_ARG_I(arts[i]), AV_ARG_I(*exe), AV_ARG_I(EV_INPUT),
                               AV_ARG_I(now)};
        st = q_exec(x,
                    "INSERT INTO `Event` (artifact_id, execution_id, type,"
                    " milliseconds_since_epoch) VALUES (?, ?, ?, ?)",
                    ev, 4, NULL, err, errlen);
        if (st == AV_STORE_CONFLICT) /* the same artifact twice in the list */
            st = AV_STORE_OK;
    }
    return st;
}

av_store_status av_store_mlmd_deployment(av_store *s, const char *name, const int64_t *artifacts,
                                         int n, int64_t *context_id, int64_t *execution_id,
                                         char *err, size_t errlen)
{
    if (!name || !*name || n < 0 || (n && !artifacts))
        return av_store__fail(err, errlen, AV_STORE_EARG, "mlmd: a deployment needs a name");
    mx x;
    int64_t ctx = 0, exe = 0;
    av_store_status st = mx_open(s, &x, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    st = deployment_locked(&x, name, artifacts, n, &ctx, &exe, err, errlen);
    st = mx_close(&x, st, err, errlen);
    if (st == AV_STORE_OK) {
        if (context_id)
            *context_id = ctx;
        if (execution_id)
            *execution_id = exe;
    }
    return st;
}

av_store_status av_store_mlmd_execution_end(av_store *s, int64_t execution_id, int ok, char *err,
                                            size_t errlen)
{
    av_store__sess *c;
    av_store_status st = s->drv->sess_get(s, &c, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    av_store__arg a[3] = {AV_ARG_I(ok ? EXE_COMPLETE : EXE_FAILED), AV_ARG_I(av_base_wall_ms()),
                          AV_ARG_I(execution_id)};
    int64_t changed = 0;
    st = s->drv->exec(c,
                      "UPDATE `Execution` SET last_known_state = ?,"
                      " last_update_time_since_epoch = ? WHERE id = ?",
                      a, 3, &changed, NULL, err, errlen);
    s->drv->sess_put(s, c);
    if (st == AV_STORE_OK && changed != 1)
        return av_store__fail(err, errlen, AV_STORE_NOT_FOUND, "mlmd: no execution %lld",
                              (long long)execution_id);
    return st;
}

/* ---- manifests ---- */

#define MAX_MODELS 16
#define MAX_METRICS 16

static json_t *load_json(const char *dir, const char *file)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >= sizeof path)
        return NULL;
    return json_load_file(path, 0, NULL);
}

/* Register one manifest (models_dir/<name>.json) if its model file exists:
 * 1 registered, 0 skipped, -1 error (err set). */
static int register_manifest(av_store *s, const char *dir, const char *file, int64_t *id,
                             char *err, size_t errlen)
{
    json_t *j = load_json(dir, file);
    if (!j)
        return 0;
    const char *name = json_string_value(json_object_get(j, "name"));
    const char *version = json_string_value(json_object_get(j, "version"));
    const char *mfile = json_string_value(json_object_get(j, "file"));
    const char *role = json_string_value(json_object_get(j, "role"));
    int rc = 0;
    char path[4096], sha[65] = "";
    struct stat sb;
    if (name && mfile && !strstr(mfile, "..") &&
        (size_t)snprintf(path, sizeof path, "%s/%s", dir, mfile) < sizeof path) {
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && av_store_sha256_file(path, sha) == 0) {
            const char *mn[MAX_METRICS];
            double mv[MAX_METRICS];
            int nm = 0;
            json_t *metrics = json_object_get(j, "test_metrics");
            const char *k;
            json_t *v;
            json_object_foreach(metrics, k, v)
            {
                if (nm < MAX_METRICS && json_is_number(v)) {
                    mn[nm] = k;
                    mv[nm++] = json_number_value(v);
                }
            }
            av_store_model_info m = {.name = name, .version = version, .uri = path, .sha256 = sha,
                                     .role = role, .n_metrics = nm, .metric_names = mn,
                                     .metric_values = mv};
            rc = av_store_mlmd_register_model(s, &m, id, NULL, err, errlen) == AV_STORE_OK ? 1 : -1;
        }
    }
    json_decref(j);
    return rc;
}

av_store_status av_store_mlmd_register_manifests(av_store *s, const char *models_dir,
                                                 const char *deployment, int *n_models,
                                                 int64_t *execution_id, char *err,
                                                 size_t errlen)
{
    int64_t ids[MAX_MODELS];
    int n = 0;
    char files[MAX_MODELS][300];
    int nf = 0;
    json_t *pipe = load_json(models_dir, "pipeline.json");
    if (pipe) {
        const char *keys[2] = {"detector", "species"};
        for (int i = 0; i < 2; i++) {
            const char *v = json_string_value(json_object_get(pipe, keys[i]));
            if (v && !strchr(v, '/') && nf < MAX_MODELS)
                snprintf(files[nf++], sizeof files[0], "%s.json", v);
        }
        json_decref(pipe);
    } else {
        DIR *d = opendir(models_dir);
        struct dirent *e;
        while (d && (e = readdir(d)) && nf < MAX_MODELS) {
            size_t l = strlen(e->d_name);
            if (l > 5 && l < sizeof files[0] && strcmp(e->d_name + l - 5, ".json") == 0)
                snprintf(files[nf++], sizeof files[0], "%s", e->d_name);
        }
        if (d)
            closedir(d);
    }
    for (int i = 0; i < nf; i++) {
        int r = register_manifest(s, models_dir, files[i], &ids[n], err, errlen);
        if (r < 0)
            return AV_STORE_EDB;
        n += r;
    }
    if (n_models)
        *n_models = n;
    av_store_status st = av_store_mlmd_init(s, err, errlen);
    if (st == AV_STORE_OK && deployment)
        st = av_store_mlmd_deployment(s, deployment, ids, n, NULL, execution_id, err, errlen);
    return st;
}

/* ---- listing ---- */

struct models_ud {
    av_store_model_version *v, row;
    int64_t created_ms;
    int n, cap, oom;
};

static int models_fn(void *ud)
{
    struct models_ud *u = ud;
    if (u->n == u->cap) {
        int cap = u->cap ? u->cap * 2 : 8;
        av_store_model_version *nv = realloc(u->v, (size_t)cap * sizeof *nv);
        if (!nv) {
            u->oom = 1;
            return 1;
        }
        u->v = nv;
        u->cap = cap;
    }
    time_t t = (time_t)(u->created_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(u->row.registered_at, sizeof u->row.registered_at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    u->v[u->n++] = u->row;
    return 0;
}

av_store_status av_store_mlmd_models(av_store *s, av_store_model_version **out, int *n,
                                     char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    av_store__sess *c;
    av_store_status st = s->drv->sess_get(s, &c, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    mx x = {.s = s, .d = s->drv, .c = c};
    int nt = 0;
    st = tables_present(&x, &nt, err, errlen);
    struct models_ud u;
    memset(&u, 0, sizeof u);
    if (st == AV_STORE_OK && nt == 15) {
        av_store_model_version *r = &u.row;
        av_store__col cols[8] = {
            {AV_COL_INT, &r->artifact_id, 0, 0},
            {AV_COL_TEXT, r->name, sizeof r->name, 0},
            {AV_COL_TEXT, r->version, sizeof r->version, 0},
            {AV_COL_TEXT, r->sha256, sizeof r->sha256, 0},
            {AV_COL_TEXT, r->role, sizeof r->role, 0},
            {AV_COL_TEXT, r->uri, sizeof r->uri, 0},
            {AV_COL_INT, &u.created_ms, 0, 0},
            {AV_COL_INT, &r->n_runs, 0, 0},
        };
#define PROP(p)                                                                                \
    "COALESCE((SELECT string_value FROM `ArtifactProperty` p WHERE p.artifact_id = a.id AND"   \
    " p.name = '" p "' AND p.is_custom_property = 0), '')"
        st = s->drv->query(c,
                           "SELECT a.id, " PROP("name") ", " PROP("version") ", " PROP(
                               "sha256") ", " PROP("role") ", COALESCE(a.uri, ''),"
                                                           " a.create_time_since_epoch,"
                                                           " (SELECT COUNT(*) FROM `Event` e"
                                                           " WHERE e.artifact_id = a.id AND e.type = 3)"
                                                           " FROM `Artifact` a JOIN `Type` t ON"
                                                           " t.id = a.type_id WHERE t.name ="
                                                           " 'aviary.Model' ORDER BY a.id",
                           NULL, 0, cols, 8, models_fn, &u, err, errlen);
#undef PROP
        if (st == AV_STORE_OK && u.oom)
            st = av_store__fail(err, errlen, AV_STORE_ENOMEM, "out of memory");
    }
    s->drv->sess_put(s, c);
    if (st != AV_STORE_OK) {
        free(u.v);
        return st;
    }
    *out = u.v;
    *n = u.n;
    return AV_STORE_OK;
}

/* ---- training lineage ---- */

enum { EV_OUTPUT = 4 };

/* A new artifact of type type_id with custom properties: ints then doubles. */
static av_store_status artifact_locked(mx *x, int64_t type_id, const char *name, const char *uri,
                                       const char *const *inames, const int64_t *ivals, int ni,
                                       const char *const *dnames, const double *dvals, int nd,
                                       int64_t *id, char *err, size_t errlen)
{
    int found = 0;
    av_store__arg a[2] = {AV_ARG_I(type_id), AV_ARG_T(name)};
    av_store_status st = q_int(x, "SELECT id FROM `Artifact` WHERE type_id = ? AND name = ?", a,
                               2, id, &found, err, errlen);
    if (st != AV_STORE_OK || found)
        return st; /* the same snapshot again: one artifact */
    int64_t now = av_base_wall_ms();
    av_store__arg ins[6] = {AV_ARG_I(type_id), AV_ARG_T(uri),  AV_ARG_I(ART_LIVE),
                            AV_ARG_T(name),    AV_ARG_I(now), AV_ARG_I(now)};
    st = q_exec(x,
                "INSERT INTO `Artifact` (type_id, uri, state, name, create_time_since_epoch,"
                " last_update_time_since_epoch) VALUES (?, ?, ?, ?, ?, ?)",
                ins, 6, id, err, errlen);
    for (int i = 0; st == AV_STORE_OK && i < ni; i++) {
        av_store__arg p[3] = {AV_ARG_I(*id), AV_ARG_T(inames[i]), AV_ARG_I(ivals[i])};
        st = q_exec(x,
                    "INSERT INTO `ArtifactProperty` (artifact_id, name, is_custom_property,"
                    " int_value) VALUES (?, ?, 1, ?)",
                    p, 3, NULL, err, errlen);
    }
    for (int i = 0; st == AV_STORE_OK && i < nd; i++) {
        av_store__arg p[3] = {AV_ARG_I(*id), AV_ARG_T(dnames[i]), AV_ARG_D(dvals[i])};
        st = q_exec(x,
                    "INSERT INTO `ArtifactProperty` (artifact_id, name, is_custom_property,"
                    " double_value) VALUES (?, ?, 1, ?)",
                    p, 3, NULL, err, errlen);
    }
    return st;
}

static av_store_status event_locked(mx *x, int64_t artifact, int64_t execution, int type,
                                    char *err, size_t errlen)
{
    av_store__arg ev[4] = {AV_ARG_I(artifact), AV_ARG_I(execution), AV_ARG_I(type),
                           AV_ARG_I(av_base_wall_ms())};
    return q_exec(x,
                  "INSERT INTO `Event` (artifact_id, execution_id, type, milliseconds_since_epoch)"
                  " VALUES (?, ?, ?, ?)",
                  ev, 4, NULL, err, errlen);
}

av_store_status av_store_mlmd_record_training(av_store *s, const av_store_training_info *t,
                                              int64_t *model_id, char *err, size_t errlen)
{
    if (!t || !t->dataset_sha256 || !t->model_version || t->n_metrics < 0)
        return av_store__fail(err, errlen, AV_STORE_EARG, "mlmd: incomplete training record");
    mx x;
    av_store_status st = mx_open(s, &x, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    int64_t dtype = 0, etype = 0, vtype = 0, ds = 0, exe = 0, model = 0, ev = 0;
    st = init_locked(&x, err, errlen);
    if (st == AV_STORE_OK)
        st = ensure_type(&x, "aviary.Dataset", KIND_ARTIFACT, NULL, 0, "mlmd.Dataset", &dtype,
                         err, errlen);
    if (st == AV_STORE_OK)
        st = ensure_type(&x, "aviary.Training", KIND_EXECUTION, NULL, 0, "mlmd.Train", &etype,
                         err, errlen);
    if (st == AV_STORE_OK)
        st = ensure_type(&x, "aviary.Evaluation", KIND_ARTIFACT, NULL, 0, "mlmd.Metrics", &vtype,
                         err, errlen);
    char name[160];
    snprintf(name, sizeof name, "reviews@%.16s", t->dataset_sha256);
    static const char *const counts[4] = {"samples", "images", "classes", "new_classes"};
    int64_t cv[4] = {t->n_samples, t->n_images, t->n_classes, t->n_new_classes};
    if (st == AV_STORE_OK)
        st = artifact_locked(&x, dtype, name, t->dataset_sha256, counts, cv, 4, NULL, NULL, 0,
                             &ds, err, errlen);
    int64_t now = av_base_wall_ms();
    av_store__arg e[4] = {AV_ARG_I(etype), AV_ARG_I(EXE_COMPLETE), AV_ARG_I(now), AV_ARG_I(now)};
    if (st == AV_STORE_OK)
        st = q_exec(&x,
                    "INSERT INTO `Execution` (type_id, last_known_state, create_time_since_epoch,"
                    " last_update_time_since_epoch) VALUES (?, ?, ?, ?)",
                    e, 4, &exe, err, errlen);
    const char *pn[3] = {"params", "promoted", "forced"};
    av_store__arg pv[3][3] = {{AV_ARG_I(exe), AV_ARG_T(pn[0]), AV_ARG_T(nz(t->params_json))},
                              {AV_ARG_I(exe), AV_ARG_T(pn[1]), AV_ARG_I(t->promoted)},
                              {AV_ARG_I(exe), AV_ARG_T(pn[2]), AV_ARG_I(t->forced)}};
    if (st == AV_STORE_OK)
        st = q_exec(&x,
                    "INSERT INTO `ExecutionProperty` (execution_id, name, is_custom_property,"
                    " string_value) VALUES (?, ?, 1, ?)",
                    pv[0], 3, NULL, err, errlen);
    for (int i = 1; st == AV_STORE_OK && i < 3; i++)
        st = q_exec(&x,
                    "INSERT INTO `ExecutionProperty` (execution_id, name, is_custom_property,"
                    " int_value) VALUES (?, ?, 1, ?)",
                    pv[i], 3, NULL, err, errlen);
    av_store_model_info mi = {.name = "species-head", .version = t->model_version,
                              .uri = t->model_uri, .sha256 = t->head_sha256, .role = "species",
                              .n_metrics = t->n_metrics, .metric_names = t->metric_names,
                              .metric_values = t->metric_values};
    if (st == AV_STORE_OK)
        st = register_locked(&x, &mi, &model, NULL, err, errlen);
    snprintf(name, sizeof name, "evaluation@species-head@%.60s", t->model_version);
    if (st == AV_STORE_OK)
        st = artifact_locked(&x, vtype, name, nz(t->model_uri), NULL, NULL, 0, t->metric_names,
                             t->metric_values, t->n_metrics, &ev, err, errlen);
    if (st == AV_STORE_OK)
        st = event_locked(&x, ds, exe, EV_INPUT, err, errlen);
    if (st == AV_STORE_OK)
        st = event_locked(&x, model, exe, EV_OUTPUT, err, errlen);
    if (st == AV_STORE_OK)
        st = event_locked(&x, ev, exe, EV_OUTPUT, err, errlen);
    st = mx_close(&x, st, err, errlen);
    if (st == AV_STORE_OK && model_id)
        *model_id = model;
    return st;
}

av_store_status av_store_mlmd_training_of(av_store *s, int64_t model_id,
                                          av_store_training_view *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    av_store__sess *c;
    av_store_status st = s->drv->sess_get(s, &c, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    mx x = {.s = s, .d = s->drv, .c = c};
    int found = 0;
    av_store__arg a[2] = {AV_ARG_I(model_id), AV_ARG_I(EV_OUTPUT)};
    st = q_int(&x,
               "SELECT e.execution_id FROM `Event` e JOIN `Execution` x ON x.id = e.execution_id"
               " JOIN `Type` t ON t.id = x.type_id WHERE e.artifact_id = ? AND e.type = ? AND"
               " t.name = 'aviary.Training' ORDER BY e.id LIMIT 1",
               a, 2, &out->execution_id, &found, err, errlen);
    if (st == AV_STORE_OK && found) {
        out->found = 1;
        av_store__arg b[2] = {AV_ARG_I(out->execution_id), AV_ARG_I(EV_INPUT)};
        av_store__col cols[3] = {{AV_COL_TEXT, out->dataset, sizeof out->dataset, 0},
                                 {AV_COL_INT, &out->dataset_id, 0, 0},
                                 {AV_COL_INT, &out->samples, 0, 0}};
        struct first_ud f = {0};
        st = s->drv->query(c,
                           "SELECT a.name, a.id, COALESCE((SELECT p.int_value FROM"
                           " `ArtifactProperty` p WHERE p.artifact_id = a.id AND p.name ="
                           " 'samples'), 0) FROM `Event` e JOIN `Artifact` a ON a.id ="
                           " e.artifact_id WHERE e.execution_id = ? AND e.type = ? ORDER BY"
                           " e.id LIMIT 1",
                           b, 2, cols, 3, first_fn, &f, err, errlen);
        av_store__col pc = {AV_COL_TEXT, out->params, sizeof out->params, 0};
        av_store__arg e1[1] = {AV_ARG_I(out->execution_id)};
        if (st == AV_STORE_OK)
            st = s->drv->query(c,
                               "SELECT string_value FROM `ExecutionProperty` WHERE execution_id"
                               " = ? AND name = 'params'",
                               e1, 1, &pc, 1, first_fn, &f, err, errlen);
        if (st == AV_STORE_OK)
            st = q_int(&x,
                       "SELECT COALESCE(MAX(int_value), 0) FROM `ExecutionProperty` WHERE"
                       " execution_id = ? AND name = 'forced'",
                       e1, 1, &out->forced, NULL, err, errlen);
        static const char *const names[5] = {"new_top1", "base_top1", "new_top5", "base_top5",
                                             "held_back"};
        double *dst[5] = {&out->new_top1, &out->base_top1, &out->new_top5, &out->base_top5,
                          &out->held_back};
        for (int i = 0; st == AV_STORE_OK && i < 5; i++) {
            av_store__arg m[2] = {AV_ARG_I(model_id), AV_ARG_T(names[i])};
            av_store__col dc = {AV_COL_DOUBLE, dst[i], 0, 0};
            st = s->drv->query(c,
                               "SELECT double_value FROM `ArtifactProperty` WHERE artifact_id ="
                               " ? AND name = ?",
                               m, 2, &dc, 1, first_fn, &f, err, errlen);
        }
    }
    s->drv->sess_put(s, c);
    return st;
}
