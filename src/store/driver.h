/*
 * driver.h - the method table each database driver fills (internal).
 *
 * struct av_store is the base every driver's state starts with, so the
 * public calls in store.c dispatch through s->drv without knowing which
 * database is underneath. iVersion-style growth: add methods at the end.
 */
#ifndef AV_STORE_DRIVER_H
#define AV_STORE_DRIVER_H

#include "store/store.h"

typedef struct av_store_driver {
    const char *scheme; /* URL scheme: "sqlite", "mysql" */
    av_store_status (*open)(const char *rest, av_store **out, char *err, size_t errlen);
    void (*close)(av_store *s);
    av_store_status (*migrate)(av_store *s, int *version, char *err, size_t errlen);
    av_store_status (*schema_version)(av_store *s, int *version, char *err, size_t errlen);
    av_store_status (*image_insert)(av_store *s, const av_store_image *img, const void *blob,
                                    size_t len, char *err, size_t errlen);
    av_store_status (*image_get)(av_store *s, const char *id, int with_blob, av_store_image *out,
                                 char *err, size_t errlen);
    av_store_status (*image_count)(av_store *s, int64_t *n, char *err, size_t errlen);
    av_store_status (*analysis_put)(av_store *s, const char *id, int width, int height,
                                    const av_store_detection *dets, int n, char *err,
                                    size_t errlen);
    av_store_status (*analysis_fail)(av_store *s, const char *id, const char *why, char *err,
                                     size_t errlen);
    av_store_status (*detections_get)(av_store *s, const char *id, av_store_detection **dets,
                                      int *n, char *err, size_t errlen);
    av_store_status (*feedback_add)(av_store *s, const char *id, const av_store_feedback *fb,
                                    const char *const *classes, int n_classes,
                                    av_store_monitor_point *point, char *err, size_t errlen);
    av_store_status (*feedback_count)(av_store *s, int64_t *n, char *err, size_t errlen);
    av_store_status (*monitoring_list)(av_store *s, const char *const *classes, int n_classes,
                                       av_store_monitor_point **points, int *n, char *err,
                                       size_t errlen);
} av_store_driver;

struct av_store {
    const av_store_driver *drv; /* always first */
};

extern const av_store_driver av_store__sqlite_driver;

/* snprintf into err when given; returns st. */
av_store_status av_store__fail(char *err, size_t errlen, av_store_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The original's box text: "ymin, xmin, ymax, xmax" normalised to the image. */
void av_store__box_text(const av_store_detection *d, int width, int height, char *out,
                        size_t outlen);

#endif
