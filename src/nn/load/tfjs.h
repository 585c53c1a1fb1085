/*
 * tfjs.h - the TF.js graph-model loader's internals (internal to src/nn).
 *
 * load_tfjs.c parses model.json, walks the graph from its outputs and drives
 * the lowering; tfjs_weights.c reads the weight manifest and shards and
 * decodes constants; tfjs_ops.c lowers one TF op each into IR nodes. The
 * jansson document stays alive for the whole load: node names, op names and
 * attributes are borrowed from it.
 */
#ifndef AV_NN_TFJS_H
#define AV_NN_TFJS_H

#include "nn/ir/ir.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds for what a model.json may ask for (hostile files). */
#define AV_NN_TFJS_MAX_JSON (256u << 20)    /* model.json text */
#define AV_NN_TFJS_MAX_PATH 1024            /* one shard path */
#define AV_NN_TFJS_MAX_SHARDS 4096          /* paths over all groups */
#define AV_NN_TFJS_MAX_PORT 1024            /* "name:k" output index */

/* One weight of the manifest: where its bytes are, not yet decoded. */
typedef struct av_nn__tfjs_weight {
    const char *name; /* borrowed from the document */
    av_nn_dtype dtype; /* decoded dtype: F32, I32 or BOOL */
    int rank;
    int64_t dims[AV_NN_MAX_RANK];
    int64_t numel;
    int group;        /* index into the shard buffers */
    int64_t offset;   /* byte offset inside the group's concatenated shards */
    int64_t nbytes;   /* stored bytes */
    int quant;        /* 0 none, 1 float16, 2 uint8 affine, 3 uint16 affine */
    float scale, min; /* affine quantisation: q * scale + min */
} av_nn__tfjs_weight;

typedef struct av_nn__tfjs_weights {
    av_nn__tfjs_weight *w;
    int n;
    uint8_t **group_bytes; /* concatenated shards of each group (owned) */
    int64_t *group_len;
    int n_groups;
} av_nn__tfjs_weights;

/* String -> int map with open addressing; keys are borrowed. */
typedef struct av_nn__tfjs_map {
    const char **keys;
    int *vals;
    size_t cap; /* power of two, 0 when empty */
} av_nn__tfjs_map;

bool av_nn__tfjs_map_init(av_nn__tfjs_map *m, size_t n);
/* false when the key is already there (duplicate) */
bool av_nn__tfjs_map_put(av_nn__tfjs_map *m, const char *key, int val);
/* -1 when absent */
int av_nn__tfjs_map_get(const av_nn__tfjs_map *m, const char *key);
void av_nn__tfjs_map_free(av_nn__tfjs_map *m);

/* One graph node of model.json. */
typedef struct av_nn__tfjs_node {
    const char *name, *op; /* borrowed */
    json_t *attr;          /* borrowed; may be NULL */
    int n_in;              /* data inputs ("^ctrl" dependencies dropped) */
    int *in_node;          /* producing node index of each input (owned) */
    int *in_port;          /* its output index */
    av_nn__tid out0;       /* first IR tensor of its outputs (consecutive); -1 before lowering */
    int n_out;
    int state;             /* walk: 0 new, 1 on the stack, 2 done */
} av_nn__tfjs_node;

/* Loader state, shared by the three files. */
typedef struct av_nn__tfjs {
    av_nn__graph *g;
    av_nn__tfjs_node *nodes;
    int n_nodes;
    av_nn__tfjs_map node_map;   /* node name -> index */
    av_nn__tfjs_weights wt;
    av_nn__tfjs_map weight_map; /* weight name -> index in wt.w */
    /* derived constants (transposed filters) keyed by source tensor */
    av_nn__tid *derived_src, *derived_dst;
    int *derived_kind;
    int n_derived, cap_derived;
    int *refs; /* per node: inputs and model outputs that name it (a filter read
                * once is transposed in place: no second copy at the load peak) */
    char *err;
    size_t errlen;
} av_nn__tfjs;

/* ---- tfjs_weights.c ---- */

/*
 * Read weightsManifest: shard paths are joined to dir (absolute paths and
 * '..' components rejected), each group's shards are read and concatenated,
 * and every weight's byte range is checked against them. On failure err names
 * the group/path/weight. wt is filled (free with av_nn__tfjs_weights_free)
 * in both cases.
 */
av_nn_status av_nn__tfjs_read_weights(json_t *manifest, const char *dir,
                                      av_nn__tfjs_weights *wt, char *err, size_t errlen);
void av_nn__tfjs_weights_free(av_nn__tfjs_weights *wt);

/*
 * Decode weight w to its dtype (float16 / affine uint8/uint16 dequantised
 * to f32; int32 weights stored quantised are truncated like TF.js does).
 * *out is malloc'ed, owned by the caller, never NULL on success (empty
 * tensors get a 1-byte block).
 */
av_nn_status av_nn__tfjs_decode_weight(const av_nn__tfjs_weights *wt,
                                       const av_nn__tfjs_weight *w, void **out, char *err,
                                       size_t errlen);

/* ---- load_tfjs.c: helpers for the op lowering ---- */

/* snprintf "node 'name' (Op): ..." into the loader's err; returns st. */
av_nn_status av_nn__tfjs_fail(av_nn__tfjs *L, const av_nn__tfjs_node *n, av_nn_status st,
                              const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* IR tensor feeding input i of n (inputs are lowered first). */
av_nn__tid av_nn__tfjs_in(const av_nn__tfjs *L, const av_nn__tfjs_node *n, int i);

/* tfjs_attr.c: FNV-1a of a string (the loader's name map); a proto3 JSON
 * int64 (a string or a number) into *out, false when it is neither. */
uint64_t av_nn__tfjs_hash_str(const char *s);
bool av_nn__tfjs_json_i64(json_t *v, int64_t *out);

/* Attribute lookup; NULL when absent. */
json_t *av_nn__tfjs_attr(const av_nn__tfjs_node *n, const char *key);
/* AttrValue readers: return def when the attribute is absent; set *bad on a malformed one. */
int64_t av_nn__tfjs_attr_i(const av_nn__tfjs_node *n, const char *key, int64_t def, bool *bad);
double av_nn__tfjs_attr_f(const av_nn__tfjs_node *n, const char *key, double def, bool *bad);
bool av_nn__tfjs_attr_b(const av_nn__tfjs_node *n, const char *key, bool def, bool *bad);
/* Decoded base64 string attribute into buf (NUL-terminated); def when absent. */
const char *av_nn__tfjs_attr_s(const av_nn__tfjs_node *n, const char *key, const char *def,
                               char *buf, size_t buflen, bool *bad);
/* list.i of an attribute; returns the count (0 when absent), -1 when malformed or > max. */
int av_nn__tfjs_attr_list_i(const av_nn__tfjs_node *n, const char *key, int64_t *out, int max);
/* list.s (base64-decoded, NUL-terminated, each under 32 bytes); count or -1. */
int av_nn__tfjs_attr_list_s(const av_nn__tfjs_node *n, const char *key, char (*out)[32],
                            int max);
/* TF DataType name ("DT_FLOAT") -> IR dtype following TF.js (int64 -> i32, double -> f32). */
bool av_nn__tfjs_dtype(const char *tf, av_nn_dtype *out);

/* ---- tfjs_ops.c ---- */

/*
 * Lower node n (all its inputs already lowered): add its IR nodes and set
 * n->out0 / n->n_out. Unknown ops give AV_NN_E_UNSUPPORTED naming node and op.
 */
av_nn_status av_nn__tfjs_lower(av_nn__tfjs *L, av_nn__tfjs_node *n);

/* Output count of a TF op before lowering (resolves "name:k" references); -1 on a bad attr. */
int av_nn__tfjs_num_outputs(const av_nn__tfjs_node *n);

#endif
