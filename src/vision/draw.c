/*
 * draw.c - boxes and labels on an image. Line width and font size follow
 * the image size so annotations read the same on a thumbnail and a 24 Mpx
 * photo. Labels are antialiased FreeType text on a filled background of the
 * box colour, in black or white (whichever contrasts), so they stay legible
 * on any picture. Everything is clipped to the image.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <ft2build.h>
#include FT_FREETYPE_H

#include "vision/vision_int.h"

struct av_vision_font {
    FT_Library lib;
    FT_Face face;
    pthread_mutex_t mu; /* FreeType objects are not thread-safe */
};

av_vision_status av_vision_font_open(const char *path, av_vision_font **out, char *err,
                                     size_t errlen)
{
    if (!out)
        return av_vision__err(err, errlen, AV_VISION_E_ARG, "font: NULL output");
    *out = NULL;
    if (!path || !*path)
        path = AV_VISION_DEFAULT_FONT;
    av_vision_font *f = calloc(1, sizeof *f);
    if (!f)
        return av_vision__err(err, errlen, AV_VISION_E_NOMEM, "font: out of memory");
    FT_Error fe = FT_Init_FreeType(&f->lib);
    if (fe) {
        free(f);
        return av_vision__err(err, errlen, AV_VISION_E_FONT,
                              "font: FreeType failed to start (error %d); labels will not be drawn",
                              (int)fe);
    }
    fe = FT_New_Face(f->lib, path, 0, &f->face);
    if (fe || !FT_IS_SCALABLE(f->face)) {
        if (!fe)
            FT_Done_Face(f->face);
        FT_Done_FreeType(f->lib);
        free(f);
        return av_vision__err(err, errlen, AV_VISION_E_FONT,
                              "font %s: %s (FreeType error %d); labels will not be drawn", path,
                              fe == FT_Err_Cannot_Open_Resource ? "cannot open"
                              : fe ? "not a usable font file"
                                   : "not a scalable font",
                              (int)fe);
    }
    if (pthread_mutex_init(&f->mu, NULL) != 0) {
        FT_Done_Face(f->face);
        FT_Done_FreeType(f->lib);
        free(f);
        return av_vision__err(err, errlen, AV_VISION_E_NOMEM, "font: cannot create mutex");
    }
    *out = f;
    return AV_VISION_OK;
}

void av_vision_font_close(av_vision_font *f)
{
    if (!f)
        return;
    FT_Done_Face(f->face);
    FT_Done_FreeType(f->lib);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* ------------------------------------------------------------------ sizes */

int av_vision_line_width(int w, int h)
{
    int m = w > h ? w : h, s = w < h ? w : h;
    int t = (int)lround(m * 0.005);
    if (t < 2)
        t = 2;
    int cap = s / 4 < 1 ? 1 : s / 4;
    return t > cap ? cap : t;
}

int av_vision_font_px(int w, int h)
{
    int m = w > h ? w : h;
    int px = (int)lround(m * 0.025);
    int cap = h / 4; /* keep a label a fraction of a short image's height */
    if (px > cap)
        px = cap;
    return px < 12 ? 12 : px;
}

av_vision_color av_vision_palette(int i)
{
    static const av_vision_color pal[] = {
        {230, 25, 75},  {60, 180, 75},  {255, 225, 25}, {0, 130, 200}, {245, 130, 48},
        {145, 30, 180}, {70, 240, 240}, {240, 50, 230}, {210, 245, 60}, {0, 128, 128},
    };
    size_t n = sizeof pal / sizeof pal[0];
    return pal[(size_t)(i < 0 ? -(long long)i : i) % n];
}

static const struct {
    av_vision_color rgb;
    const char *hex;
} MARKS[AV_VISION_MARKS] = {
    {{0x0b, 0x53, 0x94}, "#0b5394"}, {{0xa6, 0x1c, 0x00}, "#a61c00"},
    {{0x6a, 0x32, 0x9f}, "#6a329f"}, {{0x38, 0x76, 0x1d}, "#38761d"},
    {{0x7f, 0x60, 0x00}, "#7f6000"}, {{0x99, 0x00, 0x59}, "#990059"},
    {{0x13, 0x4f, 0x5c}, "#134f5c"}, {{0x78, 0x3f, 0x04}, "#783f04"},
};

static int mark_index(int i)
{
    return (int)((i < 0 ? -(long long)i : i) % AV_VISION_MARKS);
}

av_vision_color av_vision_mark_color(int i)
{
    return MARKS[mark_index(i)].rgb;
}

const char *av_vision_mark_hex(int i)
{
    return MARKS[mark_index(i)].hex;
}

int av_vision_species_mark(const char *scientific)
{
    if (!scientific || !*scientific)
        return -1;
    unsigned h = 2166136261u; /* FNV-1a: the same species, the same colour everywhere */
    for (const char *s = scientific; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return (int)(h % AV_VISION_MARKS);
}

av_vision_color av_vision_species_color(const char *scientific)
{
    int m = av_vision_species_mark(scientific);
    return m < 0 ? (av_vision_color){0x55, 0x55, 0x55} : MARKS[m].rgb;
}

/* ---------------------------------------------------------------- pixels */

/* Fill [x0,x1) x [y0,y1), clipped. Coordinates may be anywhere. */
static void fill(av_image *img, long long x0, long long y0, long long x1, long long y1,
                 av_vision_color c)
{
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > img->width) x1 = img->width;
    if (y1 > img->height) y1 = img->height;
    for (long long y = y0; y < y1; y++) {
        uint8_t *p = img->data + ((size_t)y * (size_t)img->width + (size_t)x0) * 3;
        for (long long x = x0; x < x1; x++, p += 3) {
            p[0] = c.r;
            p[1] = c.g;
            p[2] = c.b;
        }
    }
}

/* Next code point of a UTF-8 string; invalid bytes become U+FFFD. */
static uint32_t utf8_next(const unsigned char **sp)
{
    const unsigned char *s = *sp;
    uint32_t c = s[0];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0) {
        *sp = s + 1;
        return 0xFFFD;
    }
    if (len == 1) {
        *sp = s + 1;
        return c;
    }
    c &= 0x3Fu >> (len - 1);
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *sp = s + i;
            return 0xFFFD;
        }
        c = (c << 6) | (s[i] & 0x3F);
    }
    *sp = s + len;
    return c;
}

/* Width in pixels of text at the current size (kerning included). */
static long text_width(FT_Face face, const char *text)
{
    long pen = 0; /* 26.6 */
    FT_UInt prev = 0;
    const unsigned char *s = (const unsigned char *)text;
    while (*s) {
        FT_UInt gi = FT_Get_Char_Index(face, utf8_next(&s));
        if (prev && gi && FT_HAS_KERNING(face)) {
            FT_Vector k;
            if (!FT_Get_Kerning(face, prev, gi, FT_KERNING_DEFAULT, &k))
                pen += k.x;
        }
        if (!FT_Load_Glyph(face, gi, FT_LOAD_DEFAULT))
            pen += face->glyph->advance.x;
        prev = gi;
    }
    return (pen + 63) >> 6;
}

/* Blend one rendered glyph bitmap in colour c, clipped to clip rect. */
static void blit_glyph(av_image *img, const FT_Bitmap *bm, long ox, long oy, av_vision_color c,
                       long cx0, long cy0, long cx1, long cy1)
{
    for (unsigned j = 0; j < bm->rows; j++) {
        long y = oy + (long)j;
        if (y < cy0 || y >= cy1)
            continue;
        const unsigned char *row = bm->buffer + (long)j * bm->pitch;
        for (unsigned i = 0; i < bm->width; i++) {
            long x = ox + (long)i;
            if (x < cx0 || x >= cx1)
                continue;
            unsigned a;
            if (bm->pixel_mode == FT_PIXEL_MODE_MONO)
                a = (row[i >> 3] >> (7 - (i & 7))) & 1 ? 255 : 0;
            else
                a = row[i];
            if (!a)
                continue;
            uint8_t *p = img->data + ((size_t)y * (size_t)img->width + (size_t)x) * 3;
            p[0] = (uint8_t)((c.r * a + p[0] * (255 - a) + 127) / 255);
            p[1] = (uint8_t)((c.g * a + p[1] * (255 - a) + 127) / 255);
            p[2] = (uint8_t)((c.b * a + p[2] * (255 - a) + 127) / 255);
        }
    }
}

/*
 * Label for a box whose clamped top-left is (bx, by): background rect above
 * the box if it fits, else just inside it; always inside the image as far as
 * the image is big enough. Caller holds the font mutex.
 */
static void draw_label(av_image *img, FT_Face face, int px, long bx, long by, const char *text,
                       av_vision_color bg)
{
    if (FT_Set_Pixel_Sizes(face, 0, (FT_UInt)px))
        return;
    long asc = (face->size->metrics.ascender + 63) >> 6;
    long desc = (-face->size->metrics.descender + 63) >> 6;
    long pad = px / 6 < 2 ? 2 : px / 6;
    long tw = text_width(face, text);
    long lw = tw + 2 * pad, lh = asc + desc + 2 * pad;
    long W = img->width, H = img->height;

    long lx = bx, ly = by - lh;
    if (ly < 0)
        ly = by;
    if (lx + lw > W)
        lx = W - lw;
    if (ly + lh > H)
        ly = H - lh;
    if (lx < 0)
        lx = 0;
    if (ly < 0)
        ly = 0;
    fill(img, lx, ly, lx + lw, ly + lh, bg);

    double lum = 0.299 * bg.r + 0.587 * bg.g + 0.114 * bg.b;
    av_vision_color fg = lum > 140 ? (av_vision_color){0, 0, 0} : (av_vision_color){255, 255, 255};
    long cx1 = lx + lw < W ? lx + lw : W, cy1 = ly + lh < H ? ly + lh : H;
    long pen = (lx + pad) << 6, base = ly + pad + asc;
    FT_UInt prev = 0;
    const unsigned char *s = (const unsigned char *)text;
    while (*s) {
        FT_UInt gi = FT_Get_Char_Index(face, utf8_next(&s));
        if (prev && gi && FT_HAS_KERNING(face)) {
            FT_Vector k;
            if (!FT_Get_Kerning(face, prev, gi, FT_KERNING_DEFAULT, &k))
                pen += k.x;
        }
        prev = gi;
        if (FT_Load_Glyph(face, gi, FT_LOAD_RENDER))
            continue;
        FT_GlyphSlot g = face->glyph;
        blit_glyph(img, &g->bitmap, (pen >> 6) + g->bitmap_left, base - g->bitmap_top, fg, lx, ly,
                   cx1, cy1);
        pen += g->advance.x;
    }
}

av_vision_status av_vision_draw_boxes(av_image *img, const av_vision_box *boxes, size_t n,
                                      av_vision_font *font)
{
    if (!img || !img->data || (!boxes && n))
        return AV_VISION_E_ARG;
    int W = img->width, H = img->height;
    long t = av_vision_line_width(W, H);
    int px = av_vision_font_px(W, H);
    int locked = 0;
    /* Two passes: labels go on top of every box, not under a later one. */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1 && !font)
            break;
        for (size_t i = 0; i < n; i++) {
            const av_vision_box *b = &boxes[i];
            if (!isfinite(b->x1) || !isfinite(b->y1) || !isfinite(b->x2) || !isfinite(b->y2))
                continue;
            double x1 = fmin(b->x1, b->x2), x2 = fmax(b->x1, b->x2);
            double y1 = fmin(b->y1, b->y2), y2 = fmax(b->y1, b->y2);
            if (x2 < 0 || y2 < 0 || x1 > W || y1 > H)
                continue; /* wholly outside */
            /* Clamp so a box running off the picture still shows its edge. */
            long X1 = (long)floor(fmax(x1, 0)), Y1 = (long)floor(fmax(y1, 0));
            long X2 = (long)ceil(fmin(x2, W)), Y2 = (long)ceil(fmin(y2, H)); /* exclusive */
            if (X2 <= X1)
                X2 = X1 + 1;
            if (Y2 <= Y1)
                Y2 = Y1 + 1;
            if (pass == 0) {
                fill(img, X1, Y1, X2, Y1 + t, b->color); /* top */
                fill(img, X1, Y2 - t, X2, Y2, b->color); /* bottom */
                fill(img, X1, Y1, X1 + t, Y2, b->color); /* left */
                fill(img, X2 - t, Y1, X2, Y2, b->color); /* right */
            } else if (b->label && *b->label) {
                if (!locked) {
                    pthread_mutex_lock(&font->mu);
                    locked = 1;
                }
                draw_label(img, font->face, px, X1, Y1, b->label, b->color);
            }
        }
    }
    if (locked)
        pthread_mutex_unlock(&font->mu);
    return AV_VISION_OK;
}
