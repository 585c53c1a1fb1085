/*
 * status.c - status strings, the {"error": ...} body both REST protocols
 * answer, TF Serving state names and the TF Object Detection API class-id
 * mapping (documented in serving.h).
 */
#include "serving/internal.h"

#include "text/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *av_serving_strerror(av_serving_status st)
{
    switch (st) {
#define X(name, num, msg) \
    case AV_SERVING_##name: return msg;
        AV_SERVING_STATUS_MAP(X)
#undef X
    }
    return "unknown status";
}

const char *av_serving__state_name(av_serving__state s)
{
    switch (s) {
    case AV_SERVING__START: return "START";
    case AV_SERVING__LOADING: return "LOADING";
    case AV_SERVING__AVAILABLE: return "AVAILABLE";
    case AV_SERVING__UNLOADING: return "UNLOADING";
    case AV_SERVING__END: return "END";
    default: return "UNKNOWN";
    }
}

const char *const av_serving__tracked_default[3] = {"Erithacus rubecula", "Periparus ater",
                                                    "Pica pica"};

/* COCO-80 (0-based, the detectors' order) -> COCO label-map id (1..90). */
static const unsigned char coco80_to_91[80] = {
    1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21,
    22, 23, 24, 25, 27, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44,
    46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65,
    67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90,
};

int av_serving__class_id(const av_detect_det *d, const char *const *tracked, int n_tracked)
{
    if (d->n_species > 0)
        for (int i = 0; i < n_tracked; i++)
            if (tracked[i] && !strcmp(tracked[i], d->species[0].scientific))
                return i + 1;
    if (d->class_index >= 0 && d->class_index < 80)
        return coco80_to_91[d->class_index];
    return AV_SERVING__COCO_BIRD; /* whole-image bird */
}

double av_serving__det_score(const av_detect_det *d, int cls, const char *const *tracked,
                             int n_tracked)
{
    int is_tracked = cls <= n_tracked && d->n_species > 0 && tracked[cls - 1] &&
                     !strcmp(tracked[cls - 1], d->species[0].scientific);
    return is_tracked || d->whole_image ? d->confidence : d->det_score;
}

json_t *av_serving__error_json(const char *fmt, ...)
{
    char msg[1024], clean[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    av_text_utf8_clean(clean, sizeof clean, msg); /* names from the URL may be any bytes */
    return json_pack("{s:s}", "error", clean);
}
