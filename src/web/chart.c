/*
 * chart.c - the monitoring chart as inline SVG: running average confidence
 * of each tracked class and user satisfaction, every point, no JavaScript.
 */
#include "web/internal.h"

#include <math.h>
#include <stdio.h>

#define W 900
#define H 340
#define L 48 /* left margin for the y axis labels */
#define R 16
#define T 16
#define B 36

static const char *const colours[] = {"#1f6f5c", "#c2410c", "#6d28d9", "#0369a1",
                                      "#a16207", "#be123c", "#4d7c0f", "#334155"};

static double px(int i, int n)
{
    return n <= 1 ? L + (W - L - R) / 2.0 : L + (double)i * (W - L - R) / (n - 1);
}

static double py(double v)
{
    return T + (1.0 - v) * (H - T - B);
}

/* One series; NaN points break the line (class not seen yet). */
static void series(av_web__buf *b, const av_store_monitor_point *p, int n, int k,
                   const char *colour, int dashed)
{
    int open = 0;
    for (int i = 0; i < n; i++) {
        double v = k < 0 ? p[i].user_satisfaction : p[i].class_avg[k];
        if (isnan(v)) {
            if (open)
                av_web__buf_str(b, "\"/>");
            open = 0;
            continue;
        }
        if (!open)
            av_web__buf_fmt(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2.5\"%s"
                               " points=\"", colour, dashed ? " stroke-dasharray=\"6 4\"" : "");
        av_web__buf_fmt(b, "%.1f,%.1f ", px(i, n), py(v));
        open = 1;
    }
    if (open)
        av_web__buf_str(b, "\"/>");
    if (n <= 60) /* markers only while they stay readable */
        for (int i = 0; i < n; i++) {
            double v = k < 0 ? p[i].user_satisfaction : p[i].class_avg[k];
            if (!isnan(v))
                av_web__buf_fmt(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>",
                                px(i, n), py(v), colour);
        }
}

void av_web__chart_svg(av_web__buf *b, const av_store_monitor_point *p, int n,
                       const char *const *names, int n_classes)
{
    if (n == 0) {
        av_web__buf_str(b, "<p>No feedback yet. The chart starts with the first vote.</p>");
        return;
    }
    av_web__buf_fmt(b, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\""
                       "Average confidence per tracked class and user satisfaction over %d "
                       "votes\">", W, H, n);
    for (int g = 0; g <= 10; g += 2) { /* grid and y labels, 0..100 % */
        double y = py(g / 10.0);
        av_web__buf_fmt(b, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                           "<text x=\"%d\" y=\"%.1f\" font-size=\"12\" text-anchor=\"end\""
                           " fill=\"#555\">%d%%</text>",
                        L, W - R, y, y, L - 6, y + 4, g * 10);
    }
    /* x labels: first, last and a few between (timestamps as HH:MM, dates on ends) */
    int step = n > 6 ? (n - 1) / 5 : 1;
    for (int i = 0; i < n; i += step) {
        char lab[32];
        snprintf(lab, sizeof lab, "%.5s %.5s", p[i].timestamp + 5, p[i].timestamp + 11);
        av_web__buf_fmt(b, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\""
                           " fill=\"#555\">", px(i, n), H - 12);
        av_web__buf_html(b, lab);
        av_web__buf_str(b, "</text>");
        if (i + step >= n && i != n - 1)
            i = n - 1 - step; /* make sure the last point is labelled */
    }
    for (int k = 0; k < n_classes; k++)
        series(b, p, n, k, colours[k % 8], 0);
    series(b, p, n, -1, "#111", 1);
    av_web__buf_str(b, "</svg><div class=\"legend\">");
    for (int k = 0; k < n_classes; k++) {
        av_web__buf_fmt(b, "<span style=\"--c:%s\"><i>", colours[k % 8]);
        av_web__buf_html(b, names[k]);
        av_web__buf_str(b, "</i> average confidence</span>");
    }
    av_web__buf_str(b, "<span style=\"--c:#111\">User satisfaction</span></div>");
}
