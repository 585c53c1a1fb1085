/*
 * vision.h - Aviary's image module, public face: decode (JPEG, PNG, WebP,
 * BMP) with limits and EXIF orientation, resize (PIL-style antialiased u8 for
 * the species classifier, TF1 bilinear f32 for the detectors), crop, draw
 * boxes and labels, encode (JPEG, PNG).
 *
 * Pixels are always 8-bit RGB, 3 bytes per pixel, rows tightly packed
 * (stride = 3 * width), top row first. An av_image owns its buffer.
 *
 * Errors: every fallible call returns an av_vision_status and, when err is
 * non-NULL, writes a message naming what failed, prefixed "image: ".
 * Functions never abort on bad input; sizes from files are bounded before
 * anything is allocated. All calls are thread-safe (no global state; a font
 * serialises its own use).
 */
#ifndef AV_VISION_H
#define AV_VISION_H

#include <stddef.h>
#include <stdint.h>

#define AV_VISION_STATUS_MAP(X)                                   \
    X(OK, 0, "ok")                                                \
    X(E_ARG, 1, "invalid argument")                               \
    X(E_NOMEM, 2, "out of memory")                                \
    X(E_EMPTY, 3, "empty image data")                             \
    X(E_FORMAT, 4, "unknown image format")                        \
    X(E_CORRUPT, 5, "corrupt or truncated image")                 \
    X(E_UNSUPPORTED, 6, "unsupported image variant")              \
    X(E_LIMIT, 7, "image exceeds a limit")                        \
    X(E_FONT, 8, "font unavailable")                              \
    X(E_ENCODE, 9, "image encoding failed")

typedef enum av_vision_status {
#define X(name, num, msg) AV_VISION_##name = num,
    AV_VISION_STATUS_MAP(X)
#undef X
} av_vision_status;

/* Static string for a status; never NULL. */
const char *av_vision_strerror(av_vision_status st);
/* Static name of a status ("E_LIMIT"); never NULL. */
const char *av_vision_status_name(av_vision_status st);

/* ------------------------------------------------------------------ image */

typedef struct av_image {
    int width, height; /* both >= 1 */
    uint8_t *data;     /* owned: width*height*3 bytes, RGB, row-major */
} av_image;

/*
 * A new image of w x h (1..AV_VISION_MAX_SIDE each), pixels zeroed.
 * Returns NULL on bad size or out of memory. Caller frees with av_img_free.
 */
av_image *av_img_new(int w, int h);
/* A deep copy, or NULL when out of memory. Caller frees with av_img_free. */
av_image *av_img_clone(const av_image *src);
/* Free the image and its pixels; NULL-safe. */
void av_img_free(av_image *img);

/* Largest width or height any function here accepts or makes. */
#define AV_VISION_MAX_SIDE 1000000

/*
 * A parallel for lent by a caller that owns threads (this module has
 * none): run(pool, task, ctx, n) calls task(ctx, i) once for every i in
 * [0, n), on any of its threads, and returns when all have returned
 * (pthreadpool_parallelize_1d has this shape). threads: how many run at
 * once; strips > 0 forces the number of pieces (tests), 0 picks.
 */
typedef void (*av_vision_task_fn)(void *ctx, size_t i);
typedef struct av_vision_par {
    void (*run)(void *pool, av_vision_task_fn task, void *ctx, size_t n);
    void *pool;
    int threads;
    int strips;
} av_vision_par;

/* ------------------------------------------------------------ formats */

typedef enum av_vision_format {
    AV_VISION_FMT_UNKNOWN = 0,
    AV_VISION_FMT_JPEG,
    AV_VISION_FMT_PNG,
    AV_VISION_FMT_WEBP,
    AV_VISION_FMT_BMP
} av_vision_format;

/* Format from magic bytes only (n may be anything, bytes may be NULL if n==0). */
av_vision_format av_vision_sniff(const void *bytes, size_t n);
/* "jpeg", "png", "webp", "bmp" or "unknown". */
const char *av_vision_format_name(av_vision_format f);
/* Canonical file extension without dot: "jpg", "png", "webp", "bmp"; "" for unknown. */
const char *av_vision_format_ext(av_vision_format f);
/* MIME type: "image/jpeg", ...; "application/octet-stream" for unknown. */
const char *av_vision_format_mime(av_vision_format f);
/*
 * Format a file name's extension claims (case-insensitive: .jpg .jpeg .jpe
 * .jfif .png .webp .bmp .dib), or UNKNOWN. Only a hint: decoding trusts
 * magic bytes.
 */
av_vision_format av_vision_format_from_name(const char *filename);

/* ------------------------------------------------------------- decode */

#define AV_VISION_DEFAULT_MAX_BYTES (30LL * 1000 * 1000)  /* 30 MB */
#define AV_VISION_DEFAULT_MAX_PIXELS (50LL * 1000 * 1000) /* 50 Mpx */

/* Checked before any pixel is decoded (dimensions come from the header). */
typedef struct av_vision_limits {
    long long max_bytes;  /* encoded size; <= 0 = default */
    long long max_pixels; /* width*height stated by the header; <= 0 = default */
} av_vision_limits;

typedef struct av_vision_decode_opts {
    av_vision_limits limits;
    /*
     * JPEG reduce-on-decode (libjpeg-turbo scaling by 1/2, 1/4 or 1/8, much
     * faster for big photos): the largest reduction is taken that keeps the
     * upright image's width >= min_width, height >= min_height and longer
     * side >= min_long_side. All three 0 = exact full size. Other formats
     * always decode at full size.
     */
    int min_width, min_height, min_long_side;
    int no_orientation; /* 1: ignore EXIF orientation (default applies it) */
    /* Borrowed threads for big sequential JPEGs (horizontal parts, the same
     * pixels and errors as one thread); NULL: the calling thread only. */
    const av_vision_par *par;
} av_vision_decode_opts;

/* Facts about a decode, for logs and tests. */
typedef struct av_vision_decode_info {
    av_vision_format format;
    int src_width, src_height; /* as stored in the file, before scale/orientation */
    int scale_denom;           /* JPEG reduction actually used: 1, 2, 4 or 8 */
    int orientation;           /* EXIF orientation found, 1..8 (1 when none) */
    int had_alpha;             /* alpha was present and flattened onto white */
} av_vision_decode_info;

/*
 * Decode an image from memory. The format comes from magic bytes. opts and
 * info may be NULL (defaults: default limits, full size, orientation applied).
 *
 * Colour handling: every format becomes RGB8. Alpha (PNG, WebP) is
 * composited onto white, so transparent regions read as white paper, not as
 * whatever colour the transparent pixels happen to hold. 16-bit PNG samples
 * are reduced to 8 bits; grey and palette images are expanded. CMYK JPEGs
 * are converted naively (no colour management). BMP alpha is ignored.
 *
 * On success *out is a new image the caller frees with av_img_free; on
 * failure *out is NULL and the status says why (E_EMPTY, E_FORMAT,
 * E_LIMIT, E_CORRUPT, E_UNSUPPORTED, E_NOMEM).
 */
av_vision_status av_vision_decode(const void *bytes, size_t n, const av_vision_decode_opts *opts,
                                  av_image **out, av_vision_decode_info *info, char *err,
                                  size_t errlen);

/*
 * Read only the header: format and stored size (before orientation), with
 * the limits checked. Cheap; no pixels are decoded. info must be non-NULL.
 */
av_vision_status av_vision_probe(const void *bytes, size_t n, const av_vision_limits *limits,
                                 av_vision_decode_info *info, char *err, size_t errlen);

/* ------------------------------------------------------------- resize */

/*
 * Antialiased resize to out_w x out_h, the algorithm of Pillow's
 * Image.resize(size, Image.BILINEAR) (ImagingResample): a triangle filter
 * whose support widens by the downscale factor, separable, horizontal pass
 * first, 22-bit fixed-point coefficients, 8-bit rounding between passes. The
 * output matches Pillow byte for byte. Works for upscaling too.
 * *out is a new image the caller frees with av_img_free.
 */
av_vision_status av_vision_resize_pil(const av_image *src, int out_w, int out_h, av_image **out,
                                      char *err, size_t errlen);

/* A source rectangle in pixel units; may be fractional. */
typedef struct av_vision_rect {
    float x0, y0, x1, y1; /* x0 < x1 <= width, y0 < y1 <= height, >= 0 */
} av_vision_rect;

/*
 * Pillow's Image.resize(size, BILINEAR, box=rect): resize of a crop without
 * copying it first. The rect must lie inside the image.
 */
av_vision_status av_vision_resize_pil_box(const av_image *src, const av_vision_rect *box,
                                          int out_w, int out_h, av_image **out, char *err,
                                          size_t errlen);
/* The same into the caller's out_w*out_h*3 bytes at dst (no allocation of
 * the result: the pipeline resizes crops straight into its own buffers). */
av_vision_status av_vision_resize_pil_box_into(const av_image *src, const av_vision_rect *box,
                                               int out_w, int out_h, uint8_t *dst, char *err,
                                               size_t errlen);
/* Only output rows [row0, row1) of that resize, written where the whole
 * resize puts them (dst is the whole out_w*out_h*3 buffer). Bands of rows
 * give the whole resize's bytes, so threads can each make some (the
 * pipeline's species crops); each band makes the horizontal pass of the
 * source rows its rows read. */
av_vision_status av_vision_resize_pil_box_rows(const av_image *src, const av_vision_rect *box,
                                               int out_w, int out_h, int row0, int row1,
                                               uint8_t *dst, char *err, size_t errlen);

typedef enum av_vision_layout {
    AV_VISION_NHWC = 0, /* [1, H, W, 3] */
    AV_VISION_NCHW = 1  /* [1, 3, H, W] */
} av_vision_layout;

/*
 * TF1 tf.image.resizeBilinear (alignCorners=false, halfPixelCenters=false),
 * exactly as TF.js's cpu backend does it: src = dst * (in/out) in double,
 * floor clamped at 0, upper neighbour clamped at in-1, x then y
 * interpolation in double, stored as float32 in 0..255. Writes
 * out_w*out_h*3 floats NHWC into out (caller's buffer).
 */
av_vision_status av_vision_resize_tf_bilinear_f32(const av_image *src, int out_w, int out_h,
                                                  float *out);

/*
 * Same resize, then each float32 value divided (in float32) by `divisor`
 * (1 = none; 255 for NanoDet), written in `layout`. NCHW with divisor 255
 * reproduces Human's NanoDet input bit for bit.
 */
av_vision_status av_vision_resize_tf_bilinear_ex(const av_image *src, int out_w, int out_h,
                                                 float divisor, av_vision_layout layout,
                                                 float *out);

/*
 * The detectors' whole input in one pass: the same resize to out_w x
 * out_h, each float32 value v of source channel src[c] written as output
 * channel c = (v - mean[c]) / std[c] in float32 (the same floats as
 * av_vision_resize_tf_bilinear_f32 then that arithmetic), into a tensor
 * of tensor_w x tensor_h (>= out_w x out_h; the resized pixels at its
 * top-left, the rest untouched) in `layout`. Rows are split across par's
 * threads (par may be NULL: the calling thread).
 */
typedef struct av_vision_tf_norm {
    float mean[3], std[3];
    int src[3];             /* 0..2: which source channel feeds output channel c */
    av_vision_layout layout;
    int tensor_w, tensor_h; /* 0: out_w, out_h */
} av_vision_tf_norm;

av_vision_status av_vision_resize_tf_norm(const av_image *src, int out_w, int out_h,
                                          const av_vision_tf_norm *nm, const av_vision_par *par,
                                          float *out);

/*
 * Pixels to float32 NHWC: out[i] = data[i] * scale + bias (e.g. 1/127.5, -1
 * for a [-1,1] model). out holds width*height*3 floats.
 */
void av_vision_to_f32(const av_image *img, float scale, float bias, float *out);

/* --------------------------------------------------------------- crop */

/*
 * The square region around a box (x1,y1)-(x2,y2) in pixels: side =
 * longer box side * (1 + 2*margin) (margin 0.1 = 10% of it on each side),
 * centred on the box, shifted to lie inside the image, and clipped where the
 * image is smaller than the square (then it is not square). The box may lie
 * partly outside the image. Returns E_ARG for non-finite input, a negative
 * margin or a box with no overlap with the image.
 */
av_vision_status av_vision_square_crop_rect(int img_w, int img_h, double x1, double y1, double x2,
                                            double y2, double margin, av_vision_rect *out);

/*
 * Copy of the integer-pixel region [x, x+w) x [y, y+h), clipped to the
 * image (E_ARG if nothing is left). *out is new; caller frees it.
 */
av_vision_status av_vision_crop(const av_image *src, int x, int y, int w, int h, av_image **out,
                                char *err, size_t errlen);

/*
 * Square crop with margin around a box, resized (Pillow BILINEAR, box
 * resize) to out_w x out_h: the species classifier's input.
 */
av_vision_status av_vision_crop_resize(const av_image *src, double x1, double y1, double x2,
                                       double y2, double margin, int out_w, int out_h,
                                       av_image **out, char *err, size_t errlen);

/* -------------------------------------------------------------- orient */

/*
 * Apply EXIF orientation `o` (1..8) so the image comes out upright: 2 mirror,
 * 3 rotate 180, 4 flip, 5 transpose, 6 rotate 90 clockwise, 7 transverse,
 * 8 rotate 90 counter-clockwise. *img may be replaced by a new image (the old
 * one is freed). Values outside 1..8 are treated as 1.
 */
av_vision_status av_vision_orient(av_image **img, int o);

/* ----------------------------------------------------------------- draw */

#define AV_VISION_DEFAULT_FONT "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

typedef struct av_vision_font av_vision_font;

/*
 * Load a TrueType font with FreeType (path NULL = AV_VISION_DEFAULT_FONT).
 * On success *out is a handle the caller closes with av_vision_font_close;
 * it may be shared by threads (drawing with it is serialised). On failure
 * *out is NULL and E_FONT says why: open it once at start-up, report that
 * once, and draw with a NULL font (boxes, no text).
 */
av_vision_status av_vision_font_open(const char *path, av_vision_font **out, char *err,
                                     size_t errlen);
/* NULL-safe. */
void av_vision_font_close(av_vision_font *font);

typedef struct av_vision_color {
    uint8_t r, g, b;
} av_vision_color;

/* One box to draw: coordinates in image pixels, may lie outside it. */
typedef struct av_vision_box {
    double x1, y1, x2, y2;
    av_vision_color color;
    const char *label; /* UTF-8, e.g. "European Robin 93%"; NULL or "" = none */
} av_vision_box;

/* Box line thickness and label font size (px) chosen for an image size. */
int av_vision_line_width(int img_w, int img_h);
int av_vision_font_px(int img_w, int img_h);

/*
 * Draw n boxes onto img: rectangles of av_vision_line_width() drawn inside
 * the box edges, each label on a filled background of the box colour with
 * black or white antialiased text (whichever contrasts), placed above the
 * box when it fits there, else inside its top edge, and kept inside the
 * image. Boxes outside the image are clipped; non-finite ones skipped.
 * font NULL: boxes only. Returns E_ARG for bad arguments only.
 */
av_vision_status av_vision_draw_boxes(av_image *img, const av_vision_box *boxes, size_t n,
                                      av_vision_font *font);

/* A colour per class index from a fixed, readable palette. */
av_vision_color av_vision_palette(int i);

/* The marks of the web pages and the pictures drawn for them (numbered
 * boxes, CSS .c0-.c7, species colours): AV_VISION_MARKS dark colours on
 * which white text reads at >= 4.5:1. av_vision_mark_hex gives "#rrggbb"
 * (static). */
#define AV_VISION_MARKS 8
av_vision_color av_vision_mark_color(int i);
const char *av_vision_mark_hex(int i);
/* A species' mark, the same for a scientific name on every page, the
 * video timeline and the poster (FNV-1a of the name); -1 for NULL or ""
 * (no species, or too unsure to name one), shown grey (#555555). */
int av_vision_species_mark(const char *scientific);
av_vision_color av_vision_species_color(const char *scientific);

/* --------------------------------------------------------------- encode */

/*
 * Encode as baseline JPEG (quality 1..100; <= 0 = 90, 4:2:0) or PNG (RGB8,
 * default compression). On success *buf is malloc'd, the caller frees it
 * with free(); *len is its size. On failure *buf is NULL.
 */
av_vision_status av_vision_encode_jpeg(const av_image *img, int quality, unsigned char **buf,
                                       size_t *len, char *err, size_t errlen);
av_vision_status av_vision_encode_png(const av_image *img, unsigned char **buf, size_t *len,
                                      char *err, size_t errlen);

/*
 * Baseline JPEG as av_vision_encode_jpeg writes it (same tables, DCT and
 * 4:2:0, so it decodes to the same pixels), plus a restart marker after
 * every row of MCUs, which lets horizontal strips be encoded on par's
 * threads and joined (jpeg_strips.c). The bytes do not depend on par;
 * par NULL or threads <= 1: one strip on the calling thread.
 */
av_vision_status av_vision_encode_jpeg_par(const av_image *img, int quality,
                                           const av_vision_par *par, unsigned char **buf,
                                           size_t *len, char *err, size_t errlen);

/*
 * When and where a photo was taken, from its EXIF (JPEG APP1; the first
 * bytes of the file are enough): taken receives DateTimeOriginal (else
 * DateTime) as "YYYY-MM-DDTHH:MM:SS" (camera clock, no zone) or "";
 * *has_gps = 1 with *lat, *lon in degrees (north, east positive) when the
 * GPS tags are present and sane. Returns 0 when anything was found, -1
 * otherwise (no EXIF, unreadable: never an error for the caller).
 */
int av_vision_exif_capture(const void *data, size_t n, char taken[20], int *has_gps, double *lat,
                           double *lon);

#endif
