/*
 * delete.c - removing an upload, written once on the generic statement
 * layer for both drivers: every row that names the image goes in one
 * transaction (children before the images row, for the foreign keys), then
 * the blob-store file, so no node can find it again in the store.
 */
#include "store/driver.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const DELETES[] = {
    "DELETE FROM reviews WHERE image_id = ?",
    "DELETE FROM image_meta WHERE ID = ?",
    "DELETE FROM video_media WHERE ID = ?",
    "DELETE FROM video_detections WHERE ID = ?",
    "DELETE FROM video_visits WHERE ID = ?",
    "DELETE FROM videos WHERE ID = ?",
    "DELETE FROM inference_guesses WHERE ID = ?",
    "DELETE FROM inferences WHERE ID = ?",
    "DELETE FROM feedback WHERE imageID = ?",
    "DELETE FROM analysis_claims WHERE ID = ?",
};

static av_store_status delete_body(av_store *s, av_store__sess *c, void *ud, char *err,
                                   size_t errlen)
{
    const char *id = ud;
    av_store__arg a[1] = {AV_ARG_T(id)};
    int64_t gone = 0;
    av_store_status st = AV_STORE_OK;
    for (size_t i = 0; st == AV_STORE_OK && i < sizeof DELETES / sizeof DELETES[0]; i++)
        st = s->drv->exec(c, DELETES[i], a, 1, NULL, NULL, err, errlen);
    if (st == AV_STORE_OK)
        st = s->drv->exec(c, "DELETE FROM images WHERE ID = ?", a, 1, &gone, NULL, err, errlen);
    if (st == AV_STORE_OK && gone == 0)
        st = av_store__fail(err, errlen, AV_STORE_NOT_FOUND, "no image %s", id);
    return st;
}

av_store_status av_store_image_delete(av_store *s, const char *id, char *err, size_t errlen)
{
    if (!av_store_valid_id(id))
        return av_store__fail(err, errlen, AV_STORE_EARG, "delete: bad image id");
    av_store_status st = s->drv->tx(s, delete_body, (void *)id, err, errlen);
    if (st == AV_STORE_OK && s->blob_dir) {
        char path[3100];
        av_store__blob_path(s, id, path, sizeof path);
        if (unlink(path) != 0 && errno != ENOENT)
            st = av_store__fail(err, errlen, AV_STORE_EDB, "delete: %s: %s", path,
                                strerror(errno));
    }
    return st;
}
