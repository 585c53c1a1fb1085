/*
 * accuracy.c - the monitor on reviewed truth: per species the model named,
 * how many of its birds the reviews confirmed, corrected or rejected (not
 * a bird), so accuracy comes from what birders said, not from the model's
 * own confidence; a warning when a species' recent accuracy falls; and
 * accuracy by day on a real time axis (SVG) with the numbers as a table.
 * Every species reviewed is tracked; the --tracked list is not needed.
 */
#include "web/internal.h"

#include "log/log.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RECENT 10          /* reviews of a species that count as "recent" */
#define DROP 0.15          /* a fall in accuracy that raises a warning */
#define MAX_REVIEWS 1000000

typedef struct judged {
    char sp[128];          /* the model's species */
    char day[11];
    char at[32];
    int ok;                /* confirmed */
} judged;

typedef struct acc {
    judged *v;
    int n, cap, failed;
    int64_t added, dup;
} acc;

static int collect(void *ud, const av_store_review *r)
{
    acc *a = ud;
    if (r->action == AV_REVIEW_ADDED) {
        a->added++;
        return 0;
    }
    if (r->action == AV_REVIEW_DUPLICATE) {
        a->dup++;
        return 0;
    }
    if (!r->model_species[0] || a->n >= MAX_REVIEWS)
        return 0; /* the model named no species: nothing to grade */
    if (a->n == a->cap) {
        int cap = a->cap ? a->cap * 2 : 256;
        judged *v = realloc(a->v, (size_t)cap * sizeof *v);
        if (!v) {
            a->failed = 1;
            return 1;
        }
        a->v = v, a->cap = cap;
    }
    judged *j = &a->v[a->n++];
    snprintf(j->sp, sizeof j->sp, "%s", r->model_species);
    snprintf(j->day, sizeof j->day, "%.10s", r->created_at);
    snprintf(j->at, sizeof j->at, "%s", r->created_at);
    j->ok = r->action == AV_REVIEW_CONFIRM;
    return 0;
}

static int by_species_time(const void *pa, const void *pb)
{
    const judged *a = pa, *b = pb;
    int c = strcmp(a->sp, b->sp);
    return c ? c : strcmp(a->at, b->at);
}

static int by_time(const void *pa, const void *pb)
{
    return strcmp(((const judged *)pa)->at, ((const judged *)pb)->at);
}

static time_t day_start(const char *d)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int y, m, dd;
    if (sscanf(d, "%d-%d-%d", &y, &m, &dd) != 3)
        return 0;
    tm.tm_year = y - 1900, tm.tm_mon = m - 1, tm.tm_mday = dd;
    return timegm(&tm);
}

/* Accuracy of all reviews by day: points placed by their date. */
static void by_day_chart(av_web__buf *b, judged *v, int n)
{
    enum { MAXD = 120, VW = 720, VH = 260, L = 50, R = 20, T = 14, B = 48 };
    char day[MAXD][11];
    int ok[MAXD], all[MAXD], nd = 0;
    qsort(v, (size_t)n, sizeof *v, by_time);
    for (int i = 0; i < n; i++) {
        if (!nd || strcmp(day[nd - 1], v[i].day)) {
            if (nd == MAXD) { /* keep the latest MAXD days */
                memmove(day, day + 1, sizeof day[0] * (MAXD - 1));
                memmove(ok, ok + 1, sizeof ok[0] * (MAXD - 1));
                memmove(all, all + 1, sizeof all[0] * (MAXD - 1));
                nd--;
            }
            snprintf(day[nd], sizeof day[nd], "%s", v[i].day);
            ok[nd] = all[nd] = 0;
            nd++;
        }
        ok[nd - 1] += v[i].ok;
        all[nd - 1]++;
    }
    if (!nd)
        return;
    time_t t0 = day_start(day[0]), t1 = day_start(day[nd - 1]);
    double span = t1 > t0 ? (double)(t1 - t0) : 1;
    av_web__buf_fmt(b, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\""
                       " aria-labelledby=\"acc-t\"><title id=\"acc-t\">Confirmed accuracy of the"
                       " model's species by day of review, %s to %s</title>",
                    VW, VH, day[0], day[nd - 1]);
    for (int g = 0; g <= 10; g += 5) {
        double y = T + (1 - g / 10.0) * (VH - T - B);
        av_web__buf_fmt(b, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                           "<text x=\"%d\" y=\"%.1f\" font-size=\"14\" text-anchor=\"end\""
                           " fill=\"#333\">%d%%</text>",
                        L, VW - R, y, y, L - 6, y + 5, g * 10);
    }
    av_web__buf_str(b, "<polyline fill=\"none\" stroke=\"#1f6f5c\" stroke-width=\"2.5\""
                       " points=\"");
    for (int i = 0; i < nd; i++) {
        double x = nd == 1 ? (L + VW - R) / 2.0
                           : L + (double)(day_start(day[i]) - t0) / span * (VW - L - R);
        double y = T + (1 - (double)ok[i] / all[i]) * (VH - T - B);
        av_web__buf_fmt(b, "%.1f,%.1f ", x, y);
    }
    av_web__buf_str(b, "\"/>");
    for (int i = 0; i < nd; i++) {
        double x = nd == 1 ? (L + VW - R) / 2.0
                           : L + (double)(day_start(day[i]) - t0) / span * (VW - L - R);
        double y = T + (1 - (double)ok[i] / all[i]) * (VH - T - B);
        av_web__buf_fmt(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#1f6f5c\"><title>%s:"
                           " %d of %d confirmed</title></circle>",
                        x, y, day[i], ok[i], all[i]);
    }
    /* a time axis: first and last date (with the year) at their places */
    av_web__buf_fmt(b, "<text x=\"%d\" y=\"%d\" font-size=\"14\" fill=\"#333\"%s>%s</text>", L,
                    VH - 18, nd == 1 ? "" : "", day[0]);
    if (nd > 1)
        av_web__buf_fmt(b, "<text x=\"%d\" y=\"%d\" font-size=\"14\" text-anchor=\"end\""
                           " fill=\"#333\">%s</text>",
                        VW - R, VH - 18, day[nd - 1]);
    av_web__buf_str(b, "</svg><div class=\"legend\"><span><svg class=\"key\" width=\"22\""
                       " height=\"12\" aria-hidden=\"true\"><rect y=\"3\" width=\"22\""
                       " height=\"6\" fill=\"#1f6f5c\"/></svg>Confirmed accuracy, all species"
                       " (points placed by date)</span></div>");
    av_web__buf_str(b, "<details><summary>The numbers as a table</summary><table"
                       " class=\"compact\"><thead><tr><th scope=\"col\">Day</th><th"
                       " scope=\"col\">Reviewed</th><th scope=\"col\">Confirmed</th><th"
                       " scope=\"col\">Accuracy</th></tr></thead><tbody>");
    for (int i = 0; i < nd; i++)
        av_web__buf_fmt(b, "<tr><td>%s</td><td class=\"num\">%d</td><td class=\"num\">%d</td>"
                           "<td class=\"num\">%.0f%%</td></tr>",
                        day[i], all[i], ok[i], 100.0 * ok[i] / all[i]);
    av_web__buf_str(b, "</tbody></table></details>");
}

void av_web__accuracy(av_web *w, av_web__buf *warn, av_web__buf *b, int *warned)
{
    char err[512] = "";
    acc a = {0};
    if (av_store_reviews_each(w->o.store, collect, &a, err, sizeof err) != AV_STORE_OK ||
        a.failed) {
        av_log(AV_LOG_ERROR, "internal_error", "where", "monitor accuracy", "error",
               a.failed ? "out of memory" : err, NULL);
        av_web__buf_str(b, "<p class=\"error\">The reviews could not be read.</p>");
        free(a.v);
        return;
    }
    if (!a.n) {
        av_web__buf_str(b, "<p>No reviewed birds yet. Review birds on their results pages (or"
                           " in the <a href=\"/review\">review queue</a>): accuracy per species"
                           " appears here.</p>");
        free(a.v);
        return;
    }
    qsort(a.v, (size_t)a.n, sizeof *a.v, by_species_time);
    av_web__buf_str(b, "<table class=\"stack\"><thead><tr><th scope=\"col\">Species (the"
                       " model's)</th><th scope=\"col\">Reviewed</th><th scope=\"col\">"
                       "Confirmed</th><th scope=\"col\">Accuracy</th><th scope=\"col\">Last "
                       "10</th><th scope=\"col\">Status</th></tr></thead><tbody>");
    for (int i = 0; i < a.n;) {
        int j = i, ok = 0;
        while (j < a.n && !strcmp(a.v[j].sp, a.v[i].sp))
            ok += a.v[j++].ok;
        int n = j - i, recent_ok = 0, recent = n < RECENT ? n : RECENT;
        for (int k = j - recent; k < j; k++)
            recent_ok += a.v[k].ok;
        double all_acc = (double)ok / n, rec_acc = (double)recent_ok / recent;
        double before = n > recent ? (double)(ok - recent_ok) / (n - recent) : NAN;
        int falling = n >= 2 * RECENT && !isnan(before) && rec_acc <= before - DROP;
        av_web__buf_str(b, "<tr><td data-label=\"Species\"><i>");
        av_web__buf_html(b, a.v[i].sp);
        av_web__buf_fmt(b, "</i></td><td class=\"num\" data-label=\"Reviewed\">%d</td>"
                           "<td class=\"num\" data-label=\"Confirmed\">%d</td>"
                           "<td class=\"num\" data-label=\"Accuracy\">%.0f%%</td>"
                           "<td class=\"num\" data-label=\"Last 10\">%.0f%%</td>"
                           "<td data-label=\"Status\">%s</td></tr>",
                        n, ok, all_acc * 100, rec_acc * 100,
                        falling ? "falling" : n < 2 * RECENT ? "too few reviews to judge" : "ok");
        if (falling) {
            av_web__buf_str(warn, "<p class=\"warn\" role=\"alert\">Retraining advised: the"
                                  " confirmed accuracy for <i>");
            av_web__buf_html(warn, a.v[i].sp);
            av_web__buf_fmt(warn, "</i> fell to %.0f%% over its last %d reviews, from %.0f%%"
                                  " before.</p>",
                            rec_acc * 100, RECENT, before * 100);
            *warned = 1;
        }
        i = j;
    }
    av_web__buf_fmt(b, "</tbody></table><p class=\"meta\">Accuracy: the share of the model's"
                       " birds of a species that reviewers confirmed (the rest were another"
                       " species or not a bird). Also reviewed: %lld bird%s the model missed,"
                       " %lld duplicate box%s.</p>",
                    (long long)a.added, a.added == 1 ? "" : "s", (long long)a.dup,
                    a.dup == 1 ? "" : "es");
    by_day_chart(b, a.v, a.n);
    free(a.v);
}
