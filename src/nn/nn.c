/*
 * nn.c - the model half of the public API (nn.h): read a model file, tell
 * its format from the bytes, hand it to the matching loader, finalize the
 * graph and describe its inputs and outputs. Run contexts are in runtime.c.
 */
#include "nn/core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MODEL_FILE_CAP ((int64_t)2 << 30) /* 2 GiB */

static void fill_info(const av_nn__graph *g, av_nn__tid t, av_nn_tensor_info *info)
{
    const av_nn__tensor *x = &g->tensors[t];
    memset(info, 0, sizeof *info);
    info->name = x->name;
    info->dtype = x->dtype;
    info->rank = x->rank;
    for (int i = 0; i < x->rank; i++)
        info->dims[i] = x->dims[i];
    info->scale = x->quant.scale;
    info->zero_point = x->quant.zero_point;
}

av_nn_status av_nn__model_from_graph(av_nn__graph *g, av_nn_format format, void *bytes,
                                     av_nn_model **out, char *err, size_t errlen)
{
    *out = NULL;
    av_nn_model *m = calloc(1, sizeof *m);
    if (m) {
        m->g = g;
        m->format = format;
        pthread_mutex_init(&m->mu, NULL);
        m->bytes = bytes;
        m->in_info = calloc((size_t)(g->n_inputs ? g->n_inputs : 1), sizeof *m->in_info);
        m->out_info = calloc((size_t)(g->n_outputs ? g->n_outputs : 1), sizeof *m->out_info);
    }
    if (!m || !m->in_info || !m->out_info) {
        if (m)
            av_nn_model_free(m);
        else {
            av_nn__graph_free(g);
            free(bytes);
        }
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "model description");
    }
    for (int i = 0; i < g->n_inputs; i++)
        fill_info(g, g->inputs[i], &m->in_info[i]);
    for (int i = 0; i < g->n_outputs; i++)
        fill_info(g, g->outputs[i], &m->out_info[i]);
    *out = m;
    return AV_NN_OK;
}

/* TF.js model.json: a JSON object whose text names "modelTopology" or "format". */
static bool looks_tfjs(const char *s, size_t len)
{
    size_t i = 0;
    if (len >= 3 && (unsigned char)s[0] == 0xef && (unsigned char)s[1] == 0xbb &&
        (unsigned char)s[2] == 0xbf)
        i = 3; /* UTF-8 byte order mark */
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    if (i >= len || s[i] != '{' || memchr(s, '\0', len))
        return false;
    return strstr(s, "\"modelTopology\"") || strstr(s, "\"format\"");
}

/*
 * Detect, load, finalize. bytes (len + 1 with a NUL appended) becomes the
 * model's on success and is freed on failure. dir is NULL for in-memory loads.
 */
static av_nn_status load_bytes(uint8_t *bytes, size_t len, const char *dir, av_nn_model **out,
                               char *err, size_t errlen)
{
    av_nn__graph *g = NULL;
    av_nn_format fmt;
    av_nn_status st;
    if (len >= 8 && memcmp(bytes + 4, "TFL3", 4) == 0) {
        fmt = AV_NN_FORMAT_TFLITE;
        st = av_nn__load_tflite(bytes, len, &g, err, errlen);
    } else if (looks_tfjs((const char *)bytes, len)) {
        fmt = AV_NN_FORMAT_TFJS;
        st = dir ? av_nn__load_tfjs((const char *)bytes, len, dir, &g, err, errlen)
                 : av_nn__fail(err, errlen, AV_NN_E_ARG,
                               "a TF.js model needs its weight shards: load it from a file");
    } else {
        fmt = AV_NN_FORMAT_ONNX;
        st = av_nn__load_onnx(bytes, len, &g, err, errlen);
        if (st && (len == 0 || bytes[0] != 0x08))
            st = av_nn__fail(err, errlen, AV_NN_E_FORMAT, "unrecognised model format");
    }
    if (!st && !g)
        st = av_nn__fail(err, errlen, AV_NN_E_FORMAT, "loader returned no graph");
    if (!st)
        st = av_nn__graph_finalize(g, err, errlen);
    if (st) {
        av_nn__graph_free(g);
        free(bytes);
        return st;
    }
    return av_nn__model_from_graph(g, fmt, bytes, out, err, errlen);
}

av_nn_status av_nn_load(const char *path, av_nn_model **out, char *err, size_t errlen)
{
    if (!out)
        return av_nn__fail(err, errlen, AV_NN_E_ARG, "out is NULL");
    *out = NULL;
    if (!path)
        return av_nn__fail(err, errlen, AV_NN_E_ARG, "path is NULL");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return av_nn__fail(err, errlen, AV_NN_E_IO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return av_nn__fail(err, errlen, AV_NN_E_IO, "%s: not a regular file", path);
    }
    if (sb.st_size > MODEL_FILE_CAP) {
        close(fd);
        return av_nn__fail(err, errlen, AV_NN_E_LIMIT, "%s: %lld bytes exceeds the %lld cap", path,
                           (long long)sb.st_size, (long long)MODEL_FILE_CAP);
    }
    size_t len = (size_t)sb.st_size;
    uint8_t *bytes = malloc(len + 1);
    if (!bytes) {
        close(fd);
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "%s: %zu bytes", path, len);
    }
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, bytes + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : 0;
            close(fd);
            free(bytes);
            return av_nn__fail(err, errlen, AV_NN_E_IO, "%s: read failed at byte %zu: %s", path,
                               got, e ? strerror(e) : "file shrank");
        }
        got += (size_t)r;
    }
    close(fd);
    bytes[len] = '\0';
    /* folder of the file, for TF.js weight shards */
    const char *slash = strrchr(path, '/');
    size_t dl = slash ? (size_t)(slash - path) : 1;
    char *dir = malloc(dl + 2);
    if (!dir) {
        free(bytes);
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "path");
    }
    if (slash)
        memcpy(dir, path, dl);
    else
        dir[0] = '.';
    dir[dl] = '\0';
    if (slash && dl == 0) { /* file in "/" */
        dir[0] = '/';
        dir[1] = '\0';
    }
    av_nn_status st = load_bytes(bytes, len, dir, out, err, errlen);
    free(dir);
    return st;
}

av_nn_status av_nn_load_mem(const void *buf, size_t len, av_nn_model **out, char *err,
                            size_t errlen)
{
    if (!out)
        return av_nn__fail(err, errlen, AV_NN_E_ARG, "out is NULL");
    *out = NULL;
    if (!buf && len)
        return av_nn__fail(err, errlen, AV_NN_E_ARG, "buf is NULL");
    if ((int64_t)len > MODEL_FILE_CAP)
        return av_nn__fail(err, errlen, AV_NN_E_LIMIT, "%zu bytes exceeds the cap", len);
    uint8_t *bytes = malloc(len + 1);
    if (!bytes)
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "%zu bytes", len);
    if (len)
        memcpy(bytes, buf, len);
    bytes[len] = '\0';
    return load_bytes(bytes, len, NULL, out, err, errlen);
}

void av_nn_model_free(av_nn_model *m)
{
    if (!m)
        return;
    av_nn__model_release_free(m);
    pthread_mutex_destroy(&m->mu);
    av_nn__graph_free(m->g);
    free(m->bytes);
    free(m->in_info);
    free(m->out_info);
    free(m);
}

av_nn_format av_nn_model_format(const av_nn_model *m)
{
    return m ? m->format : AV_NN_FORMAT_AUTO;
}

int av_nn_num_inputs(const av_nn_model *m)
{
    return m ? m->g->n_inputs : 0;
}

int av_nn_num_outputs(const av_nn_model *m)
{
    return m ? m->g->n_outputs : 0;
}

const av_nn_tensor_info *av_nn_input(const av_nn_model *m, int i)
{
    return (m && i >= 0 && i < m->g->n_inputs) ? &m->in_info[i] : NULL;
}

const av_nn_tensor_info *av_nn_output(const av_nn_model *m, int i)
{
    return (m && i >= 0 && i < m->g->n_outputs) ? &m->out_info[i] : NULL;
}

int64_t av_nn_model_batch(const av_nn_model *m)
{
    return m ? av_nn__graph_batch(m->g) : -1;
}

int av_nn_find_input(const av_nn_model *m, const char *name)
{
    for (int i = 0; m && name && i < m->g->n_inputs; i++)
        if (strcmp(m->in_info[i].name, name) == 0)
            return i;
    return -1;
}

int av_nn_find_output(const av_nn_model *m, const char *name)
{
    for (int i = 0; m && name && i < m->g->n_outputs; i++)
        if (strcmp(m->out_info[i].name, name) == 0)
            return i;
    return -1;
}

av_nn_status av_nn_find_tensor(const av_nn_model *m, const char *name, av_nn_tensor_info *info,
                               const void **data, char *err, size_t errlen)
{
    if (!m || !name || !info)
        return av_nn__fail(err, errlen, AV_NN_E_ARG, "model, name or info is NULL");
    const av_nn__graph *g = m->g;
    for (int t = 0; t < g->n_tensors; t++) {
        const av_nn__tensor *x = &g->tensors[t];
        if (!x->name || strcmp(x->name, name) ||
            (!x->data && !x->is_input && (x->producer < 0 || g->nodes[x->producer].dead)))
            continue; /* a computed tensor no live node writes was removed by a pass */
        fill_info(g, t, info);
        if (data) { /* handed out: back if released, and never released again */
            av_nn_model *mm = (av_nn_model *)m; /* its lock and graph: release.c */
            pthread_mutex_lock(&mm->mu);
            av_nn_status st = AV_NN_OK;
            if (x->released) {
                av_nn__node one = {.n_in = 1, .in = {t}};
                st = av_nn__model_restore(mm, NULL, &one, err, errlen);
            }
            mm->g->tensors[t].pinned = true;
            *data = x->data;
            pthread_mutex_unlock(&mm->mu);
            return st;
        }
        return AV_NN_OK;
    }
    return av_nn__fail(err, errlen, AV_NN_E_ARG, "no tensor '%s' in the optimised graph", name);
}

av_nn_status av_nn_last_fc(const av_nn_model *m, const char **input, const char **weights,
                           const char **bias, char *err, size_t errlen)
{
    if (!m || !input || !weights || !bias)
        return av_nn__fail(err, errlen, AV_NN_E_ARG, "model or result pointer is NULL");
    const av_nn__graph *g = m->g;
    for (int j = g->n_order - 1; j >= 0; j--) {
        const av_nn__node *n = &g->nodes[g->order[j]];
        if (n->op != AV_NN_OP_FULLY_CONNECTED || n->n_in < 2 || n->in[0] < 0 || n->in[1] < 0)
            continue;
        *input = g->tensors[n->in[0]].name;
        *weights = g->tensors[n->in[1]].name;
        *bias = n->n_in > 2 && n->in[2] >= 0 ? g->tensors[n->in[2]].name : "";
        return AV_NN_OK;
    }
    return av_nn__fail(err, errlen, AV_NN_E_ARG, "the graph has no fully connected node");
}
