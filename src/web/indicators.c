/*
 * indicators.c - the retraining indicators: user satisfaction, tracked
 * classes below their test baseline, reviewed accuracy falling
 * (accuracy.c). The monitor page shows them; the retrain checker and the
 * "Retrain now" section ask only whether one is raised.
 */
#include "web/internal.h"

#include "monitor/monitor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

void av_web__fmt_pct(char *out, size_t cap, double v)
{
    if (isnan(v))
        snprintf(out, cap, "no data yet");
    else
        snprintf(out, cap, "%.1f%%", v * 100);
}

/* The retraining indicators the monitor shows: user satisfaction, tracked
 * classes below their baseline (rows into classes), reviewed accuracy
 * falling (accuracy.c, its tables into reviewed). 1 when one is raised. */
int av_web__indicators(av_web *w, const av_store_monitor_point *last,
                       const av_web__tracked_set *t, av_web__buf *warn, av_web__buf *classes,
                       av_web__buf *reviewed)
{
    int warned = 0;
    if (last && last->user_satisfaction < AV_MONITOR_SATISFACTION_MIN) {
        av_web__buf_fmt(warn,
                        "<p class=\"warn\" role=\"alert\">Retraining advised: user satisfaction "
                        "is %.1f%%, below the %.0f%% threshold.</p>",
                        last->user_satisfaction * 100, AV_MONITOR_SATISFACTION_MIN * 100);
        warned = 1;
    }
    av_web__buf_str(classes, "<table><thead><tr><th scope=\"col\">Class</th><th scope=\"col\">"
                              "Average confidence</th><th scope=\"col\">Baseline (test)</th>"
                              "<th scope=\"col\">Status</th></tr></thead><tbody>");
    for (int k = 0; k < t->n; k++) {
        double avg = last ? last->class_avg[k] : NAN;
        double base = t->baselines[k];
        char a[32], bl[32];
        av_web__fmt_pct(a, sizeof a, avg);
        av_web__fmt_pct(bl, sizeof bl, base);
        int below = !isnan(avg) && !isnan(base) && avg < base;
        av_web__buf_str(classes, "<tr><td><i>");
        av_web__buf_html(classes, t->names[k]);
        av_web__buf_fmt(classes, "</i></td><td class=\"num\">%s</td><td class=\"num\">%s</td>"
                                  "<td>%s</td></tr>",
                        a, bl, below ? "below baseline" : isnan(avg) ? "-" : "ok");
        if (below) {
            av_web__buf_str(warn, "<p class=\"warn\" role=\"alert\">Retraining advised: the "
                                   "average confidence for <i>");
            av_web__buf_html(warn, t->names[k]);
            av_web__buf_fmt(warn, "</i> is %s, below its test baseline of %s.</p>", a, bl);
            warned = 1;
        }
    }
    av_web__buf_str(classes, "</tbody></table>");
    av_web__accuracy(w, warn, reviewed, &warned); /* accuracy.c */
    return warned;
}

int av_web__retraining_advised(av_web *w)
{
    char err[512];
    av_web__tracked_set t;
    av_web__tracked(w, &t);
    av_store_monitor_point *pts = NULL;
    int n = 0;
    if (av_store_monitoring_list(w->o.store, t.name, t.n, &pts, &n, err, sizeof err) !=
        AV_STORE_OK)
        return 0;
    av_web__buf warn, classes, reviewed; /* the page's text, not needed here */
    av_web__buf_init(&warn, 16384);
    av_web__buf_init(&classes, 65536);
    av_web__buf_init(&reviewed, 4 << 20);
    int warned = av_web__indicators(w, n ? &pts[n - 1] : NULL, &t, &warn, &classes, &reviewed);
    av_web__buf_free(&warn);
    av_web__buf_free(&classes);
    av_web__buf_free(&reviewed);
    free(pts);
    return warned;
}
