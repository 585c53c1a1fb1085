/*
 * exif.c - the EXIF orientation tag through libexif. Only orientation is
 * read: it decides whether a phone photo must be rotated to come out
 * upright. Anything unreadable counts as "no orientation" (1).
 */
#include <stdlib.h>
#include <string.h>

#include <libexif/exif-data.h>

#include "vision/vision_int.h"

/* EXIF blocks larger than a JPEG segment can hold are not legitimate. */
#define EXIF_MAX 65536

int av_vision__exif_orientation(const uint8_t *d, size_t n)
{
    if (!d || n < 8)
        return 1;
    if (n > EXIF_MAX)
        n = EXIF_MAX;

    /* libexif wants the "Exif\0\0" preamble; WebP's chunk starts at the TIFF header. */
    uint8_t *wrapped = NULL;
    if (memcmp(d, "Exif\0\0", 6) != 0) {
        wrapped = malloc(n + 6);
        if (!wrapped)
            return 1;
        memcpy(wrapped, "Exif\0\0", 6);
        memcpy(wrapped + 6, d, n);
        d = wrapped;
        n += 6;
    }

    int o = 1;
    ExifData *ed = exif_data_new();
    if (ed) {
        /* Read only: do not let libexif "fix" or add entries. */
        exif_data_unset_option(ed, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
        exif_data_load_data(ed, d, (unsigned int)n);
        ExifEntry *e = exif_content_get_entry(ed->ifd[EXIF_IFD_0], EXIF_TAG_ORIENTATION);
        if (e && e->format == EXIF_FORMAT_SHORT && e->components >= 1 && e->data &&
            e->size >= 2) {
            int v = exif_get_short(e->data, exif_data_get_byte_order(ed));
            if (v >= 1 && v <= 8)
                o = v;
        }
        exif_data_unref(ed);
    }
    free(wrapped);
    return o;
}
