/*
 * t_onnx_conf.c - ONNX operator conformance, against the backend test suite
 * of Debian's libonnx-testdata (/usr/share/libonnx-testdata/data/<suite>/
 * test_* / model.onnx + test_data_set_N / input_K.pb, output_K.pb).
 *
 * Each case runs in its own process (a crash or hang fails that case only):
 * load the model; an AV_NN_E_UNSUPPORTED load counts as "unsupported" with
 * its reason; otherwise every data set runs on the reference and on the
 * XNNPACK backend and each output is compared with the expected tensor
 * (floats: |got - want| <= 1e-5 + 1e-3 |want|, as ONNX's backend test; ints
 * and bools exact; shapes and dtypes exact). Anything else that goes wrong
 * on a model the loader accepted is a failure, and one failure fails the
 * test: the loader must reject what it cannot lower exactly.
 *
 * Many cases pass parameters (Reshape's shape, Resize's scales, Slice's
 * starts, ...) as graph inputs. The engine is static and needs them
 * constant, as they are in exported models; when a load fails for that
 * reason the case is retried with every input but the first (then every
 * input) frozen into an initializer holding the data set's values, and
 * counted as passed only if that model matches too.
 *
 * Prints a table per op type (single-node models; others count as
 * "(graph)") and "onnx conformance: P passed, F failed, U unsupported (of N
 * cases)". AVIARY_ONNX_VERBOSE=1 prints every case with its reason;
 * AVIARY_ONNX_TESTDATA overrides the data folder; AVIARY_ONNX_FILTER=substr
 * runs only the matching cases.
 */
#include "harness.h"

#include "nn/nn.h"
#include "nn/load/onnx.h"
#include "nn/load/pb.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_ROOT "/usr/share/libonnx-testdata/data"
#define RTOL 1e-3
#define ATOL 1e-5
#define CASE_TIMEOUT_S 60

enum { R_PASS = 0, R_FAIL = 1, R_UNSUP = 2 };

typedef struct case_result {
    int res;
    bool frozen; /* passed with parameter inputs frozen into constants */
    char op[64];
    char why[512];
} case_result;

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
            fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        *len = (size_t)(n < 0 ? 0 : n);
    }
    fclose(f);
    return buf;
}

/* Op type of a single-node model, "(graph)" otherwise. */
static void op_key(const uint8_t *buf, size_t len, char *key, size_t keylen)
{
    av_nn__onnx_model m;
    snprintf(key, keylen, "(unparsed)");
    if (av_nn__onnx_parse(buf, len, &m, NULL, 0) == AV_NN_OK) {
        if (m.n_nodes == 1)
            snprintf(key, keylen, "%.*s", (int)m.nodes[0].op_type.n, m.nodes[0].op_type.p);
        else
            snprintf(key, keylen, "(graph)");
    }
    av_nn__onnx_model_free(&m);
}

static double elem(const void *p, av_nn_dtype t, int64_t i)
{
    switch (t) {
    case AV_NN_F32: return ((const float *)p)[i];
    case AV_NN_F16: return av_nn__f16_to_f32(((const uint16_t *)p)[i]);
    case AV_NN_U8: return ((const uint8_t *)p)[i];
    case AV_NN_I8: return ((const int8_t *)p)[i];
    case AV_NN_I32: return ((const int32_t *)p)[i];
    case AV_NN_I64: return (double)((const int64_t *)p)[i];
    case AV_NN_BOOL: return ((const uint8_t *)p)[i] != 0;
    default: return NAN;
    }
}

static bool compare(const av_nn_tensor_info *info, const void *got, const av_nn__onnx_tensor *want,
                    char *why, size_t whylen)
{
    if (info->dtype != want->dtype) {
        snprintf(why, whylen, "output '%s' dtype %s, expected %s", info->name,
                 av_nn_dtype_name(info->dtype), av_nn_dtype_name(want->dtype));
        return false;
    }
    bool same = info->rank == want->rank;
    for (int i = 0; same && i < info->rank; i++)
        same = info->dims[i] == want->dims[i];
    if (!same) {
        char a[160] = "", b[160] = "";
        for (int i = 0; i < info->rank && i < 8; i++)
            snprintf(a + strlen(a), sizeof a - strlen(a), "%s%lld", i ? "," : "",
                     (long long)info->dims[i]);
        for (int i = 0; i < want->rank && i < 8; i++)
            snprintf(b + strlen(b), sizeof b - strlen(b), "%s%lld", i ? "," : "",
                     (long long)want->dims[i]);
        snprintf(why, whylen, "output '%s' shape [%s], expected [%s]", info->name, a, b);
        return false;
    }
    bool is_float = want->dtype == AV_NN_F32 || want->dtype == AV_NN_F16;
    for (int64_t i = 0; i < want->numel; i++) {
        if (!is_float && want->dtype == AV_NN_I64) {
            int64_t g = ((const int64_t *)got)[i], w = ((const int64_t *)want->data)[i];
            if (g != w) {
                snprintf(why, whylen, "output '%s'[%lld] = %lld, expected %lld", info->name,
                         (long long)i, (long long)g, (long long)w);
                return false;
            }
            continue;
        }
        double g = elem(got, want->dtype, i), w = elem(want->data, want->dtype, i);
        bool ok;
        if (!is_float)
            ok = g == w;
        else if (isnan(w))
            ok = isnan(g);
        else if (isinf(w))
            ok = g == w;
        else
            ok = fabs(g - w) <= ATOL + RTOL * fabs(w);
        if (!ok) {
            snprintf(why, whylen, "output '%s'[%lld] = %.9g, expected %.9g", info->name,
                     (long long)i, g, w);
            return false;
        }
    }
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}


/* ---- freezing parameter inputs into initializers ---- */

typedef struct wbuf {
    uint8_t *b;
    size_t n, cap;
    bool oom;
} wbuf;

static void w_raw(wbuf *w, const void *p, size_t n)
{
    if (w->oom)
        return;
    if (w->n + n > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->n + n)
            cap *= 2;
        uint8_t *nb = realloc(w->b, cap);
        if (!nb) {
            w->oom = true;
            return;
        }
        w->b = nb;
        w->cap = cap;
    }
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void w_varint(wbuf *w, uint64_t v)
{
    uint8_t buf[10];
    int k = 0;
    do {
        buf[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    w_raw(w, buf, (size_t)k);
}

static void w_len(wbuf *w, uint32_t num, const void *p, size_t n)
{
    w_varint(w, (uint64_t)num << 3 | 2);
    w_varint(w, n);
    w_raw(w, p, n);
}

/* Copy field f of message r verbatim. */
static void w_field(wbuf *w, const av_nn__pb *r, const av_nn__pb_field *f, const uint8_t *end)
{
    w_raw(w, r->base + f->off, (size_t)(end - (r->base + f->off)));
}

/* Name (field 1) of a ValueInfoProto field. */
static av_nn__onnx_str vi_name(const av_nn__pb_field *f)
{
    av_nn__pb r;
    av_nn__pb_field g;
    av_nn__onnx_str s = {"", 0};
    av_nn__pb_init(&r, f->data, f->len);
    while (av_nn__pb_next(&r, &g, NULL, 0) == 1)
        if (g.num == 1 && g.wire == AV_NN_PB_LEN)
            s = (av_nn__onnx_str){(const char *)g.data, g.len};
    return s;
}

/*
 * A copy of the model in which every graph input from index `keep` on becomes an
 * initializer holding that input's data from data set `set`: what a model
 * exported with those values constant looks like. Returns NULL when there
 * is nothing to freeze or on error. Caller frees.
 */
static uint8_t *freeze_inputs(const uint8_t *buf, size_t len, const char *set, int keep,
                              size_t *out_len)
{
    av_nn__pb r, gr;
    av_nn__pb_field f, g;
    wbuf model = {0}, graph = {0};
    int real = 0, frozen = 0;
    av_nn__pb_init(&r, buf, len);
    while (av_nn__pb_next(&r, &f, NULL, 0) == 1) {
        if (f.num != 7 || f.wire != AV_NN_PB_LEN) {
            w_field(&model, &r, &f, r.p);
            continue;
        }
        av_nn__pb_init(&gr, f.data, f.len);
        while (av_nn__pb_next(&gr, &g, NULL, 0) == 1) {
            if (g.num == 11 && g.wire == AV_NN_PB_LEN && real++ >= keep) {
                av_nn__onnx_str name = vi_name(&g);
                char path[1200];
                size_t n;
                snprintf(path, sizeof path, "%.1000s/input_%d.pb", set, real - 1);
                uint8_t *t = read_file(path, &n);
                if (!t)
                    goto fail;
                wbuf tp = {0};
                w_raw(&tp, t, n);
                w_len(&tp, 8, name.p, name.n); /* the last name field wins */
                free(t);
                w_len(&graph, 5, tp.b, tp.n);
                free(tp.b);
                frozen++;
                continue;
            }
            w_field(&graph, &gr, &g, gr.p);
        }
        w_len(&model, 7, graph.b, graph.n);
    }
    if (!frozen || model.oom || graph.oom)
        goto fail;
    free(graph.b);
    *out_len = model.n;
    return model.b;
fail:
    free(graph.b);
    free(model.b);
    return NULL;
}

/* Run one data set folder on one backend; R_PASS / R_FAIL / R_UNSUP. */
static int run_set(const av_nn_model *m, const char *set, av_nn_backend be, case_result *r)
{
    int ni = av_nn_num_inputs(m), no = av_nn_num_outputs(m);
    void **in = calloc((size_t)ni + 1, sizeof *in), **out = calloc((size_t)no + 1, sizeof *out);
    av_nn__onnx_tensor *want = calloc((size_t)no + 1, sizeof *want);
    av_nn_ctx *ctx = NULL;
    int res = R_FAIL;
    char path[1200], err[512];
    if (!in || !out || !want) {
        snprintf(r->why, sizeof r->why, "out of memory");
        goto done;
    }
    for (int i = 0; i < ni; i++) {
        size_t len;
        snprintf(path, sizeof path, "%.1000s/input_%d.pb", set, i);
        uint8_t *buf = read_file(path, &len);
        av_nn__onnx_tensor t;
        if (!buf) {
            snprintf(r->why, sizeof r->why, "missing %.400s", path);
            goto done;
        }
        av_nn_status st = av_nn__onnx_tensor_decode_buf(buf, len, false, &t, err, sizeof err);
        free(buf);
        if (st) {
            res = st == AV_NN_E_UNSUPPORTED ? R_UNSUP : R_FAIL;
            snprintf(r->why, sizeof r->why, "input %d: %.400s", i, err);
            goto done;
        }
        in[i] = t.data;
        const av_nn_tensor_info *info = av_nn_input(m, i);
        bool same = info->dtype == t.dtype && info->rank == t.rank;
        for (int k = 0; same && k < t.rank; k++)
            same = info->dims[k] == t.dims[k];
        if (!same) {
            res = R_UNSUP; /* symbolic dims were fixed to 1 at load */
            snprintf(r->why, sizeof r->why, "input '%s' data does not match the static shape",
                     info->name);
            goto done;
        }
    }
    for (int i = 0; i < no; i++) {
        size_t len;
        snprintf(path, sizeof path, "%.1000s/output_%d.pb", set, i);
        uint8_t *buf = read_file(path, &len);
        if (!buf) {
            snprintf(r->why, sizeof r->why, "missing %.400s", path);
            goto done;
        }
        av_nn_status st = av_nn__onnx_tensor_decode_buf(buf, len, false, &want[i], err,
                                                        sizeof err);
        free(buf);
        if (st) {
            snprintf(r->why, sizeof r->why, "expected output %d: %.400s", i, err);
            goto done;
        }
        int64_t nb = (want[i].numel ? want[i].numel : 1) * 8;
        const av_nn_tensor_info *info = av_nn_output(m, i);
        int64_t have = 1;
        for (int k = 0; k < info->rank; k++)
            have *= info->dims[k];
        if (have * 8 > nb)
            nb = have * 8;
        if (!(out[i] = calloc(1, (size_t)nb))) {
            snprintf(r->why, sizeof r->why, "out of memory");
            goto done;
        }
    }
    av_nn_ctx_opts opts = {.threads = 1, .backend = be};
    const char *bname = be == AV_NN_BACKEND_REFERENCE ? "reference" : "xnnpack";
    av_nn_status st = av_nn_ctx_new(m, &opts, &ctx, err, sizeof err);
    if (!st)
        st = av_nn_run(ctx, (const void *const *)in, out, err, sizeof err);
    if (st) {
        snprintf(r->why, sizeof r->why, "%s run: %.400s", bname, err);
        goto done;
    }
    res = R_PASS;
    for (int i = 0; i < no && res == R_PASS; i++) {
        char why[400];
        if (!compare(av_nn_output(m, i), out[i], &want[i], why, sizeof why)) {
            res = R_FAIL;
            snprintf(r->why, sizeof r->why, "%s: %.400s", bname, why);
        }
    }
done:
    av_nn_ctx_free(ctx);
    for (int i = 0; in && i < ni; i++)
        free(in[i]);
    for (int i = 0; out && i < no; i++)
        free(out[i]);
    for (int i = 0; want && i < no; i++)
        free(want[i].data);
    free(in);
    free(out);
    free(want);
    return res;
}

static void run_case(const char *dir, case_result *r)
{
    char path[1200], err[512];
    size_t len;
    snprintf(path, sizeof path, "%.1000s/model.onnx", dir);
    uint8_t *buf = read_file(path, &len);
    r->res = R_FAIL;
    if (!buf) {
        snprintf(r->why, sizeof r->why, "cannot read %.400s", path);
        return;
    }
    op_key(buf, len, r->op, sizeof r->op);
    av_nn_model *m = NULL;
    av_nn_status st = av_nn_load_mem(buf, len, &m, err, sizeof err);
    /* parameters given as graph inputs (shapes, scales, axes...): a static
     * engine sees them as constants, so retry with them frozen */
    bool freeze = st == AV_NN_E_UNSUPPORTED && strstr(err, "must be a constant");
    if (st && !freeze) {
        free(buf);
        r->res = st == AV_NN_E_UNSUPPORTED ? R_UNSUP : R_FAIL;
        snprintf(r->why, sizeof r->why, "%s%.400s", r->res == R_FAIL ? "load: " : "", err);
        return;
    }
    DIR *d = opendir(dir);
    char *sets[64];
    int n_sets = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) && n_sets < 64)
        if (strncmp(e->d_name, "test_data_set_", 14) == 0)
            sets[n_sets++] = strdup(e->d_name);
    if (d)
        closedir(d);
    qsort(sets, (size_t)n_sets, sizeof sets[0], cmp_str);
    r->res = n_sets ? R_PASS : R_FAIL;
    if (!n_sets)
        snprintf(r->why, sizeof r->why, "no test data sets");
    for (int i = 0; i < n_sets; i++) {
        snprintf(path, sizeof path, "%.900s/%.256s", dir, sets[i] ? sets[i] : "");
        av_nn_model *mi = m;
        if (freeze && r->res == R_PASS) {
            size_t flen;
            /* first all inputs but the data, then (Range, ConstantOfShape) all */
            for (int keep = 1; keep >= 0; keep--) {
                uint8_t *fb = freeze_inputs(buf, len, path, keep, &flen);
                st = fb ? av_nn_load_mem(fb, flen, &mi, err, sizeof err) : AV_NN_E_UNSUPPORTED;
                free(fb);
                if (!(st == AV_NN_E_UNSUPPORTED && strstr(err, "must be a constant")))
                    break;
            }
            if (st) {
                r->res = st == AV_NN_E_UNSUPPORTED ? R_UNSUP : R_FAIL;
                snprintf(r->why, sizeof r->why, "%s%.400s", r->res == R_FAIL ? "frozen load: " : "",
                         err);
            }
            r->frozen = true;
        }
        for (int b = 0; b < 2 && r->res == R_PASS; b++)
            r->res = run_set(mi, path, b ? AV_NN_BACKEND_XNNPACK : AV_NN_BACKEND_REFERENCE, r);
        if (mi != m)
            av_nn_model_free(mi);
        free(sets[i]);
    }
    free(buf);
    av_nn_model_free(m);
}

/* Run a case in a child: crashes and hangs fail that case only. */
static void run_isolated(const char *dir, case_result *r)
{
    int fd[2];
    memset(r, 0, sizeof *r);
    r->res = R_FAIL;
    snprintf(r->op, sizeof r->op, "?");
    if (pipe(fd) != 0) {
        snprintf(r->why, sizeof r->why, "pipe: %s", strerror(errno));
        return;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        alarm(CASE_TIMEOUT_S);
        case_result cr;
        memset(&cr, 0, sizeof cr);
        run_case(dir, &cr);
        ssize_t w = write(fd[1], &cr, sizeof cr);
        /* exit(), not _exit(): a leak checker reports at exit, and a
         * non-zero status then fails the case */
        exit(w == (ssize_t)sizeof cr ? 0 : 1);
    }
    close(fd[1]);
    case_result cr;
    size_t got = 0;
    while (pid > 0 && got < sizeof cr) {
        ssize_t k = read(fd[0], (char *)&cr + got, sizeof cr - got);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd[0]);
    int status = 0;
    if (pid > 0)
        waitpid(pid, &status, 0);
    if (got == sizeof cr && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        *r = cr;
    } else if (got == sizeof cr) {
        *r = cr;
        r->res = R_FAIL;
        snprintf(r->why, sizeof r->why, "case process ended badly (%s %d) after its result",
                 WIFSIGNALED(status) ? "signal" : "status",
                 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    } else if (pid < 0) {
        snprintf(r->why, sizeof r->why, "fork: %s", strerror(errno));
    } else {
        snprintf(r->why, sizeof r->why, "case process died (%s)",
                 WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "no result");
    }
}

typedef struct op_count {
    char op[64];
    int n[3];
} op_count;

static void suite(const char *const *suites, int n_suites)
{
    const char *root = getenv("AVIARY_ONNX_TESTDATA");
    const char *filter = getenv("AVIARY_ONNX_FILTER");
    const char *verbose = getenv("AVIARY_ONNX_VERBOSE");
    bool vb = verbose && *verbose && *verbose != '0';
    if (!root || !*root)
        root = DEFAULT_ROOT;
    static op_count ops[1024];
    int n_ops = 0, tot[3] = {0, 0, 0}, cases = 0, n_frozen = 0;
    for (int s = 0; s < n_suites; s++) {
        char sdir[600];
        snprintf(sdir, sizeof sdir, "%.500s/%.64s", root, suites[s]);
        DIR *d = opendir(sdir);
        if (!d)
            continue;
        /* static: the case children inherit it, and a leak checker must
         * see it as reachable from a global */
        static char **names;
        names = NULL;
        int nn = 0, cap = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strncmp(e->d_name, "test_", 5) != 0 || (filter && !strstr(e->d_name, filter)))
                continue;
            if (nn == cap) {
                cap = cap ? cap * 2 : 256;
                char **nw = realloc(names, sizeof *names * (size_t)cap);
                CHECK(nw != NULL);
                names = nw;
            }
            names[nn++] = strdup(e->d_name);
        }
        closedir(d);
        qsort(names, (size_t)nn, sizeof names[0], cmp_str);
        for (int i = 0; i < nn; i++) {
            char dir[1200], model[1300];
            struct stat sb;
            snprintf(dir, sizeof dir, "%.600s/%.500s", sdir, names[i]);
            snprintf(model, sizeof model, "%.1200s/model.onnx", dir);
            if (stat(model, &sb) != 0) { /* "real" cases only list a download URL */
                free(names[i]);
                continue;
            }
            case_result r;
            run_isolated(dir, &r);
            cases++;
            tot[r.res]++;
            n_frozen += r.res == R_PASS && r.frozen;
            int k = 0;
            while (k < n_ops && strcmp(ops[k].op, r.op) != 0)
                k++;
            if (k == n_ops && n_ops < 1024)
                snprintf(ops[n_ops++].op, sizeof ops[0].op, "%s", r.op);
            if (k < 1024)
                ops[k].n[r.res]++;
            if (r.res == R_FAIL || vb)
                printf("  %-5s %s/%s [%s]%s: %s\n",
                       r.res == R_PASS ? "pass" : r.res == R_FAIL ? "FAIL" : "unsup", suites[s],
                       names[i], r.op, r.frozen ? " (frozen)" : "", r.why);
            free(names[i]);
        }
        free(names);
    }
    if (!cases)
        SKIP("no ONNX test data (install libonnx-testdata or set AVIARY_ONNX_TESTDATA)");
    printf("  %-28s %6s %6s %6s\n", "op type", "pass", "fail", "unsup");
    for (int k = 0; k < n_ops; k++)
        printf("  %-28s %6d %6d %6d\n", ops[k].op, ops[k].n[R_PASS], ops[k].n[R_FAIL],
               ops[k].n[R_UNSUP]);
    printf("  (%d of the passes ran with parameter inputs frozen into constants)\n", n_frozen);
    printf("onnx conformance: %d passed, %d failed, %d unsupported (of %d cases)\n", tot[R_PASS],
           tot[R_FAIL], tot[R_UNSUP], cases);
    fflush(stdout);
    CHECK_MSG(tot[R_FAIL] == 0, "%d conformance cases failed", tot[R_FAIL]);
}

TEST(node_ops)
{
    static const char *const s[] = {"node"};
    suite(s, 1);
}

TEST(pytorch_and_simple_models)
{
    static const char *const s[] = {"pytorch-converted", "pytorch-operator", "simple", "real"};
    suite(s, 4);
}

TEST_MAIN(T(node_ops), T(pytorch_and_simple_models))
