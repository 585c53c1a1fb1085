/*
 * manifest.c - the labelled set's CSV manifest (format in eval.h): one row
 * per image, names turned into the species model's binomials up front.
 */
#include "eval/eval.h"
#include "base/base.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define FIELD_MAX 8192 /* longest field (license notes are a few hundred bytes) */
#define COLS_MAX 64

/* A CSV reader over text: fields of the current record, quotes undone. */
typedef struct csv {
    const char *s, *end;
    int line;                  /* line where the current record starts */
    int next_line;
    char *fields[COLS_MAX];    /* each FIELD_MAX bytes */
    int n;
} csv;

/* Read one record into c->fields. 1 read, 0 at end, -1 on a malformed one. */
static int csv_record(csv *c, char *err, size_t errlen)
{
    if (c->s >= c->end)
        return 0;
    c->line = c->next_line;
    c->n = 0;
    for (;;) {
        if (c->n == COLS_MAX)
            return av_base_errf(err, errlen, "line %d: more than %d columns", c->line, COLS_MAX);
        char *f = c->fields[c->n++];
        size_t o = 0;
        int quoted = c->s < c->end && *c->s == '"';
        if (quoted)
            c->s++;
        for (;;) {
            if (c->s >= c->end) {
                if (quoted)
                    return av_base_errf(err, errlen, "line %d: unterminated quoted field", c->line);
                break;
            }
            char ch = *c->s;
            if (quoted && ch == '"') {
                if (c->s + 1 < c->end && c->s[1] == '"') {
                    c->s++;
                } else {
                    c->s++;
                    quoted = 0;
                    if (c->s < c->end && *c->s != ',' && *c->s != '\n' && *c->s != '\r')
                        return av_base_errf(err, errlen, "line %d: text after a closing quote",
                                            c->line);
                    continue;
                }
            } else if (!quoted && (ch == ',' || ch == '\n' || ch == '\r')) {
                break;
            } else if (ch == '\0') {
                return av_base_errf(err, errlen, "line %d: NUL byte", c->line);
            }
            if (ch == '\n')
                c->next_line++;
            if (o + 1 >= FIELD_MAX)
                return av_base_errf(err, errlen, "line %d: field longer than %d bytes", c->line,
                                    FIELD_MAX - 1);
            f[o++] = *c->s++;
        }
        f[o] = '\0';
        if (c->s < c->end && *c->s == ',') {
            c->s++;
            continue;
        }
        if (c->s < c->end && *c->s == '\r')
            c->s++;
        if (c->s < c->end && *c->s == '\n')
            c->s++;
        c->next_line++;
        return 1;
    }
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    size_t k = strspn(s, " \t");
    memmove(s, s + k, n - k + 1);
}

/* A safe relative file name: no "..", not absolute, printable. */
static int bad_file_name(const char *f)
{
    if (!f[0] || f[0] == '/' || !strcmp(f, "..") || !strncmp(f, "../", 3) || strstr(f, "/../") ||
        (strlen(f) >= 3 && !strcmp(f + strlen(f) - 3, "/..")))
        return 1;
    for (const unsigned char *p = (const unsigned char *)f; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 1;
    return 0;
}

static int parse_names(av_eval_row *r, const char *text, int line, char *err, size_t errlen)
{
    if (strlen(text) >= sizeof r->label)
        return av_base_errf(err, errlen, "line %d: scientific_name is too long", line);
    snprintf(r->label, sizeof r->label, "%s", text);
    if (!strcasecmp(text, "none") || !text[0]) {
        r->n_names = 0;
        return 0;
    }
    const char *p = text;
    while (*p) {
        size_t n = strcspn(p, ";");
        if (r->n_names == AV_EVAL_NAMES_MAX)
            return av_base_errf(err, errlen, "line %d: more than %d species", line,
                                AV_EVAL_NAMES_MAX);
        char one[AV_DETECT_NAME_MAX];
        snprintf(one, sizeof one, "%.*s", (int)(n < sizeof one ? n : sizeof one - 1), p);
        trim(one);
        if (!one[0] || !strchr(one, ' '))
            return av_base_errf(err, errlen, "line %d: '%s' is not a binomial (Genus species)",
                                line, one);
        av_detect_species_binomial(one, r->names[r->n_names], sizeof r->names[0]);
        r->n_names++;
        p += n;
        if (*p == ';')
            p++;
    }
    return 0;
}

static int parse_boxes(av_eval_row *r, const char *text, int line, char *err, size_t errlen)
{
    r->n_boxes = -1;
    const char *p = text + strspn(text, " \t");
    if (!*p)
        return 0;
    r->n_boxes = 0;
    while (*p) {
        if (r->n_boxes == AV_EVAL_BOXES_MAX)
            return av_base_errf(err, errlen, "line %d: more than %d boxes", line,
                                AV_EVAL_BOXES_MAX);
        float *b = r->boxes[r->n_boxes];
        for (int k = 0; k < 4; k++) {
            char *end;
            errno = 0;
            double v = strtod(p, &end);
            if (end == p || errno || !(v >= 0 && v < 1e6))
                return av_base_errf(err, errlen,
                                    "line %d: boxes: want 'x1 y1 x2 y2[;...]' in pixels", line);
            b[k] = (float)v;
            p = end + strspn(end, " \t");
        }
        if (!(b[2] > b[0] && b[3] > b[1]))
            return av_base_errf(err, errlen, "line %d: box %d has x2 <= x1 or y2 <= y1", line,
                                r->n_boxes + 1);
        r->n_boxes++;
        if (*p == ';')
            p++;
        else if (*p)
            return av_base_errf(err, errlen, "line %d: boxes: want 'x1 y1 x2 y2[;...]' in pixels",
                                line);
        p += strspn(p, " \t");
    }
    return 0;
}

static int parse_row(av_eval_row *r, char *const *f, const int *col, int line, char *err,
                     size_t errlen)
{
    memset(r, 0, sizeof *r);
    char *file = f[col[0]], *names = f[col[1]], *nb = f[col[2]];
    trim(file);
    trim(names);
    trim(nb);
    if (strlen(file) >= sizeof r->file || bad_file_name(file))
        return av_base_errf(err, errlen,
                            "line %d: file '%.100s' is not a relative path inside the "
                            "images folder",
                            line, file);
    snprintf(r->file, sizeof r->file, "%s", file);
    if (parse_names(r, names, line, err, errlen))
        return -1;
    r->n_birds = -1;
    if (nb[0]) {
        char *end;
        errno = 0;
        long v = strtol(nb, &end, 10);
        if (*end || errno || v < 0 || v > 100000)
            return av_base_errf(err, errlen, "line %d: n_birds '%.40s' is not a count", line, nb);
        r->n_birds = (int)v;
    }
    if (r->n_names == 0 && r->n_birds > 0)
        return av_base_errf(err, errlen, "line %d: scientific_name is none but n_birds is %d", line,
                            r->n_birds);
    if (r->n_names > 0 && r->n_birds == 0)
        return av_base_errf(err, errlen, "line %d: a species is named but n_birds is 0", line);
    return parse_boxes(r, col[3] >= 0 ? f[col[3]] : "", line, err, errlen);
}

int av_eval_set_parse(const char *text, size_t len, const char *origin, av_eval_set **out,
                      char *err, size_t errlen)
{
    *out = NULL;
    char e[400] = "";
    csv c = {.s = text, .end = text + len, .next_line = 1};
    char *store = malloc((size_t)COLS_MAX * FIELD_MAX);
    av_eval_set *s = calloc(1, sizeof *s);
    size_t cap = 0;
    int rc = -1;
    if (!store || !s) {
        snprintf(e, sizeof e, "out of memory");
        goto done;
    }
    for (int i = 0; i < COLS_MAX; i++)
        c.fields[i] = store + (size_t)i * FIELD_MAX;
    if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
        c.s += 3; /* UTF-8 byte order mark */
    int got = csv_record(&c, e, sizeof e);
    if (got <= 0) {
        if (got == 0)
            snprintf(e, sizeof e, "empty (want a header row)");
        goto done;
    }
    static const char *const want[] = {"file", "scientific_name", "n_birds", "boxes"};
    int col[4] = {-1, -1, -1, -1}, ncols = c.n;
    for (int i = 0; i < c.n; i++) {
        trim(c.fields[i]);
        for (int k = 0; k < 4; k++)
            if (!strcmp(c.fields[i], want[k]) && col[k] < 0)
                col[k] = i;
    }
    for (int k = 0; k < 3; k++)
        if (col[k] < 0) {
            snprintf(e, sizeof e, "line 1: no '%s' column (want file,scientific_name,n_birds"
                                  "[,boxes,...])",
                     want[k]);
            goto done;
        }
    while ((got = csv_record(&c, e, sizeof e)) > 0) {
        if (c.n == 1 && !c.fields[0][0])
            continue; /* blank line */
        if (c.n != ncols) {
            snprintf(e, sizeof e, "line %d: %d fields, the header has %d", c.line, c.n, ncols);
            goto done;
        }
        if ((size_t)s->n_rows == cap) {
            if (cap >= AV_EVAL_ROWS_MAX) {
                snprintf(e, sizeof e, "more than %d rows", AV_EVAL_ROWS_MAX);
                goto done;
            }
            if (av_base_grow((void **)&s->rows, &cap, cap + 1, sizeof *s->rows)) {
                snprintf(e, sizeof e, "out of memory");
                goto done;
            }
        }
        if (parse_row(&s->rows[s->n_rows], c.fields, col, c.line, e, sizeof e))
            goto done;
        s->n_rows++;
    }
    if (got < 0)
        goto done;
    if (s->n_rows == 0) {
        snprintf(e, sizeof e, "no rows after the header");
        goto done;
    }
    rc = 0;
done:
    free(store);
    if (rc) {
        av_eval_set_free(s);
        return av_base_errf(err, errlen, "%s: %s", origin, e);
    }
    *out = s;
    return 0;
}

int av_eval_set_load(const char *path, av_eval_set **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return av_base_errf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) || !S_ISREG(sb.st_mode) || sb.st_size > AV_EVAL_MANIFEST_MAX) {
        fclose(f);
        return av_base_errf(err, errlen, "%s: not a regular file of at most %d bytes", path,
                            AV_EVAL_MANIFEST_MAX);
    }
    size_t n = (size_t)sb.st_size;
    char *text = malloc(n + 1);
    if (!text) {
        fclose(f);
        return av_base_errf(err, errlen, "%s: out of memory", path);
    }
    size_t got = fread(text, 1, n, f);
    fclose(f);
    if (got != n) {
        free(text);
        return av_base_errf(err, errlen, "%s: short read", path);
    }
    text[n] = '\0';
    int rc = av_eval_set_parse(text, n, path, out, err, errlen);
    free(text);
    return rc;
}

void av_eval_set_free(av_eval_set *s)
{
    if (!s)
        return;
    free(s->rows);
    free(s);
}
