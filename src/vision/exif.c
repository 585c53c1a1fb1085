/*
 * exif.c - the EXIF orientation tag through libexif. Only orientation is
 * read: it decides whether a phone photo must be rotated to come out
 * upright. Anything unreadable counts as "no orientation" (1).
 * av_vision_exif_capture reads when and where a photo was taken.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libexif/exif-data.h>

#include "vision/vision.h"
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

/* Three rationals (degrees, minutes, seconds) -> degrees; NAN if malformed. */
static double dms(ExifData *ed, ExifEntry *e)
{
    if (!e || e->format != EXIF_FORMAT_RATIONAL || e->components != 3 || !e->data ||
        e->size < 24)
        return NAN;
    ExifByteOrder o = exif_data_get_byte_order(ed);
    double v = 0, scale = 1;
    for (int i = 0; i < 3; i++) {
        ExifRational r = exif_get_rational(e->data + 8 * i, o);
        if (!r.denominator)
            return NAN;
        v += (double)r.numerator / r.denominator / scale;
        scale *= 60;
    }
    return v;
}

static char ref(ExifEntry *e)
{
    return e && e->format == EXIF_FORMAT_ASCII && e->data && e->size >= 1 ? (char)e->data[0]
                                                                          : 0;
}

/* "YYYY:MM:DD HH:MM:SS" -> "YYYY-MM-DDTHH:MM:SS"; 0 when it is not one. */
static int exif_time(ExifEntry *e, char out[20])
{
    if (!e || e->format != EXIF_FORMAT_ASCII || !e->data || e->size < 19)
        return 0;
    const char *s = (const char *)e->data;
    for (int i = 0; i < 19; i++) {
        int digit = i != 4 && i != 7 && i != 10 && i != 13 && i != 16;
        if (digit ? (s[i] < '0' || s[i] > '9')
                  : s[i] != (i == 10 ? ' ' : i < 10 ? ':' : ':'))
            return 0;
    }
    if (!strncmp(s, "0000", 4))
        return 0; /* cameras write zeros when their clock was never set */
    snprintf(out, 20, "%.4s-%.2s-%.2sT%.8s", s, s + 5, s + 8, s + 11);
    return 1;
}

int av_vision_exif_capture(const void *data, size_t n, char taken[20], int *has_gps, double *lat,
                           double *lon)
{
    taken[0] = '\0';
    *has_gps = 0;
    *lat = *lon = 0;
    if (!data || n < 4 || n > (1u << 30))
        return -1;
    ExifData *ed = exif_data_new();
    if (!ed)
        return -1;
    exif_data_unset_option(ed, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
    exif_data_load_data(ed, data, (unsigned int)n);
    if (!exif_time(exif_content_get_entry(ed->ifd[EXIF_IFD_EXIF], EXIF_TAG_DATE_TIME_ORIGINAL),
                   taken))
        exif_time(exif_content_get_entry(ed->ifd[EXIF_IFD_0], EXIF_TAG_DATE_TIME), taken);
    ExifContent *g = ed->ifd[EXIF_IFD_GPS];
    double la = dms(ed, exif_content_get_entry(g, (ExifTag)EXIF_TAG_GPS_LATITUDE));
    double lo = dms(ed, exif_content_get_entry(g, (ExifTag)EXIF_TAG_GPS_LONGITUDE));
    char lar = ref(exif_content_get_entry(g, (ExifTag)EXIF_TAG_GPS_LATITUDE_REF));
    char lor = ref(exif_content_get_entry(g, (ExifTag)EXIF_TAG_GPS_LONGITUDE_REF));
    if (isfinite(la) && isfinite(lo) && la <= 90 && lo <= 180 && (lar == 'N' || lar == 'S') &&
        (lor == 'E' || lor == 'W') && !(la == 0 && lo == 0)) {
        *lat = lar == 'S' ? -la : la;
        *lon = lor == 'W' ? -lo : lo;
        *has_gps = 1;
    }
    exif_data_unref(ed);
    return taken[0] || *has_gps ? 0 : -1;
}
