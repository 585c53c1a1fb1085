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
#define B 48

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
                           "<text x=\"%d\" y=\"%.1f\" font-size=\"14\" text-anchor=\"end\""
                           " fill=\"#555\">%d%%</text>",
                        L, W - R, y, y, L - 6, y + 4, g * 10);
    }
    /* x axis: points are spaced by vote, so it is labelled by vote number;
     * the dates (with the year) of the first and last vote say when. */
    int step = n > 6 ? (n - 1) / 4 : 1;
    for (int i = 0; i < n; i += step) {
        if (i + step > n - 1 && i != n - 1 && n - 1 - i < step / 2)
            continue; /* too close to the last label */
        av_web__buf_fmt(b, "<text x=\"%.1f\" y=\"%d\" font-size=\"14\" text-anchor=\"%s\""
                           " fill=\"#333\">vote %d</text>",
                        px(i, n), H - 20, n == 1 ? "middle" : i == 0 ? "start" : "middle",
                        p[i].seq);
        if (i + step >= n && i != n - 1)
            i = n - 1 - step; /* make sure the last point is labelled */
    }
    if (n > 1)
        av_web__buf_fmt(b, "<text x=\"%d\" y=\"%d\" font-size=\"14\" text-anchor=\"end\""
                           " fill=\"#333\">vote %d</text>",
                        W - R, H - 20, p[n - 1].seq);
    av_web__buf_fmt(b, "<text x=\"%d\" y=\"%d\" font-size=\"14\" fill=\"#333\">%.10s</text>"
                       "<text x=\"%d\" y=\"%d\" font-size=\"14\" text-anchor=\"end\""
                       " fill=\"#333\">%.10s</text>",
                    L, H - 2, p[0].timestamp, W - R, H - 2, p[n - 1].timestamp);
    for (int k = 0; k < n_classes; k++)
        series(b, p, n, k, colours[k % 8], 0);
    series(b, p, n, -1, "#111", 1);
    /* the legend's keys are drawn, not styled (the CSP allows no inline style) */
    av_web__buf_str(b, "</svg><div class=\"legend\">");
    for (int k = 0; k < n_classes; k++) {
        av_web__buf_fmt(b, "<span><svg class=\"key\" width=\"22\" height=\"12\""
                           " aria-hidden=\"true\"><rect y=\"3\" width=\"22\" height=\"6\""
                           " fill=\"%s\"/></svg><i>",
                        colours[k % 8]);
        av_web__buf_html(b, names[k]);
        av_web__buf_str(b, "</i> average confidence</span>");
    }
    av_web__buf_str(b, "<span><svg class=\"key\" width=\"22\" height=\"12\" aria-hidden=\"true\">"
                       "<line x1=\"0\" y1=\"6\" x2=\"22\" y2=\"6\" stroke=\"#111\""
                       " stroke-width=\"2.5\" stroke-dasharray=\"6 4\"/></svg>User satisfaction"
                       "</span></div>");
    /* the same numbers as a table: the last 50 votes */
    av_web__buf_str(b, "<details><summary>The numbers as a table</summary><div class=\"scroll\">"
                       "<table class=\"compact\"><thead><tr><th scope=\"col\">Vote</th>"
                       "<th scope=\"col\">Time (UTC)</th><th scope=\"col\">Satisfaction</th>");
    for (int k = 0; k < n_classes; k++) {
        av_web__buf_str(b, "<th scope=\"col\"><i>");
        av_web__buf_html(b, names[k]);
        av_web__buf_str(b, "</i></th>");
    }
    av_web__buf_str(b, "</tr></thead><tbody>");
    for (int i = n > 50 ? n - 50 : 0; i < n; i++) {
        av_web__buf_fmt(b, "<tr><td class=\"num\">%d</td><td>%.10s %.5s</td><td class=\"num\">"
                           "%.1f%%</td>",
                        p[i].seq, p[i].timestamp, p[i].timestamp + 11,
                        p[i].user_satisfaction * 100);
        for (int k = 0; k < n_classes; k++) {
            if (isnan(p[i].class_avg[k]))
                av_web__buf_str(b, "<td>-</td>");
            else
                av_web__buf_fmt(b, "<td class=\"num\">%.1f%%</td>", p[i].class_avg[k] * 100);
        }
        av_web__buf_str(b, "</tr>");
    }
    av_web__buf_str(b, "</tbody></table></div></details>");
}
