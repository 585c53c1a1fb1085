/*
 * monitor_page.c - GET /monitor: the monitoring series and their chart,
 * the retraining indicators (indicators.c), the models in service with
 * the retrained species heads, and the owner's "Retrain now" (retrain.c).
 */
#include "web/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Species heads `aviary train species` made: evaluation and lineage
 * (reviews snapshot -> training run -> version) from ML Metadata. */
static void retrained_heads(av_web *w, av_web__buf *b, const av_store_model_version *mv, int n)
{
    int shown = 0;
    char err[256];
    for (int i = 0; i < n; i++) {
        av_store_training_view t;
        if (strcmp(mv[i].name, "species-head") ||
            av_store_mlmd_training_of(w->o.store, mv[i].artifact_id, &t, err, sizeof err) ||
            !t.found)
            continue;
        if (!shown++)
            av_web__buf_str(b, "<h3>Retrained species heads</h3><table><thead><tr>"
                               "<th scope=\"col\">Version</th><th scope=\"col\">Top-1 new / "
                               "base</th><th scope=\"col\">Top-5 new / base</th>"
                               "<th scope=\"col\">Held back</th><th scope=\"col\">Trained on"
                               "</th><th scope=\"col\">Training run</th></tr></thead><tbody>");
        av_web__buf_str(b, "<tr><td>");
        av_web__buf_html(b, mv[i].version);
        av_web__buf_fmt(b, "%s</td><td class=\"num\">%.1f%% / %.1f%%</td><td class=\"num\">"
                           "%.1f%% / %.1f%%</td><td class=\"num\">%.0f</td><td>",
                        t.forced ? " (forced)" : "", t.new_top1, t.base_top1, t.new_top5,
                        t.base_top5, t.held_back);
        av_web__buf_html(b, t.dataset);
        av_web__buf_fmt(b, " (%lld reviewed birds)</td><td>#%lld <code>", (long long)t.samples,
                        (long long)t.execution_id);
        av_web__buf_html(b, t.params);
        av_web__buf_str(b, "</code></td></tr>");
    }
    if (shown)
        av_web__buf_str(b, "</tbody></table>");
}

enum MHD_Result av_web__page_monitor(av_web__req *r)
{
    av_web *w = r->w;
    char err[512] = "";
    int64_t images = 0, votes = 0;
    av_store_monitor_point *pts = NULL;
    int n = 0;
    av_web__tracked_set t;
    av_web__tracked(w, &t);
    if (av_store_image_count(w->o.store, &images, err, sizeof err) != AV_STORE_OK ||
        av_store_feedback_count(w->o.store, &votes, err, sizeof err) != AV_STORE_OK ||
        av_store_monitoring_list(w->o.store, t.name, t.n, &pts, &n, err, sizeof err) !=
            AV_STORE_OK)
        return av_web__internal_error(r, "monitor", err);
    const av_store_monitor_point *last = n ? &pts[n - 1] : NULL;

    av_web__buf warn, chart, classes, b, reviewed;
    av_web__buf_init(&warn, 16384);
    av_web__buf_init(&chart, 4 << 20);
    av_web__buf_init(&classes, 65536);
    av_web__buf_init(&reviewed, 4 << 20);
    int warned = av_web__indicators(w, last, &t, &warn, &classes, &reviewed);
    if (!warned)
        av_web__buf_str(&warn, last ? "<p class=\"good\">No retraining indicator is raised.</p>"
                                    : "<p class=\"good\">No feedback yet: indicators appear with"
                                      " the first vote.</p>");
    av_web__chart_svg(&chart, pts, n, t.name, t.n);

    /* Model versions registered in ML Metadata (empty until a serve run). */
    av_web__buf models;
    av_web__buf_init(&models, 65536);
    av_store_model_version *mv = NULL;
    int n_mv = 0;
    if (av_store_mlmd_models(w->o.store, &mv, &n_mv, err, sizeof err) != AV_STORE_OK)
        n_mv = 0;
    if (!n_mv) {
        av_web__buf_str(&models, "<p>No model version is registered yet (ML Metadata).</p>");
    } else {
        av_web__buf_str(&models, "<table><thead><tr><th scope=\"col\">Model</th><th scope=\"col\">"
                                 "Version</th><th scope=\"col\">Role</th><th scope=\"col\">"
                                 "sha256</th><th scope=\"col\">Registered</th><th scope=\"col\">"
                                 "Serving runs</th></tr></thead><tbody>");
        for (int i = 0; i < n_mv; i++) {
            av_web__buf_str(&models, "<tr><td>");
            av_web__buf_html(&models, mv[i].name);
            av_web__buf_str(&models, "</td><td>");
            av_web__buf_html(&models, mv[i].version);
            av_web__buf_str(&models, "</td><td>");
            av_web__buf_html(&models, mv[i].role);
            av_web__buf_str(&models, "</td><td><code>");
            char sha[13];
            snprintf(sha, sizeof sha, "%.12s", mv[i].sha256);
            av_web__buf_html(&models, sha);
            av_web__buf_fmt(&models, "</code></td><td>%s</td><td class=\"num\">%lld</td></tr>",
                            mv[i].registered_at, (long long)mv[i].n_runs);
        }
        av_web__buf_str(&models, "</tbody></table>");
        retrained_heads(w, &models, mv, n_mv);
    }
    free(mv);
    av_web__retrain_section(r, &models);

    char img_s[32], votes_s[32], sat[32];
    snprintf(img_s, sizeof img_s, "%lld", (long long)images);
    snprintf(votes_s, sizeof votes_s, "%lld", (long long)votes);
    av_web__fmt_pct(sat, sizeof sat, last ? last->user_satisfaction : NAN);
    char cam_storage[32];
    av_web__camera_storage(w, cam_storage, sizeof cam_storage);
    const char *kv[] = {"camera_storage", cam_storage, "warnings", warn.p ? warn.p : "",
                        "detector", w->o.detector_name ? w->o.detector_name : "-",
                        "species_model", w->o.species_name ? w->o.species_name : "not installed",
                        "images", img_s, "votes", votes_s, "satisfaction", sat,
                        "chart", chart.p ? chart.p : "", "classes", classes.p ? classes.p : "",
                        "models", models.p ? models.p : "",
                        "reviewed", reviewed.p ? reviewed.p : "", NULL};
    av_web__buf_init(&b, AV_WEB_PAGE_LIMIT);
    av_web__page(r, &b, "Aviary - monitoring", "monitor.html", kv, NULL);
    if (warn.failed || chart.failed || classes.failed || models.failed || reviewed.failed)
        b.failed = 1;
    av_web__buf_free(&reviewed);
    av_web__buf_free(&models);
    av_web__buf_free(&warn);
    av_web__buf_free(&chart);
    av_web__buf_free(&classes);
    free(pts);
    return av_web__send_page(r, MHD_HTTP_OK, &b, NULL);
}
