/*
 * guesses.c - each box's top species guesses (schema v8,
 * db/{sqlite,mysql}/0008_guesses.sql), written once on the generic
 * statement layer for both drivers. The review chooser offers them before
 * its search over every label.
 */
#include "store/driver.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

av_store_status av_store__guesses_put(av_store *s, av_store__sess *c, const char *id,
                                      const av_store_detection *d, int n, char *err,
                                      size_t errlen)
{
    av_store_status st = AV_STORE_OK;
    for (int i = 0; st == AV_STORE_OK && i < n; i++) {
        int k = d[i].n_guesses < AV_STORE_MAX_GUESSES ? d[i].n_guesses : AV_STORE_MAX_GUESSES;
        for (int r = 0; st == AV_STORE_OK && r < k; r++) {
            const av_store_guess *g = &d[i].guesses[r];
            if (!g->species[0] || !isfinite(g->score))
                continue;
            av_store__arg a[6] = {AV_ARG_T(id),          AV_ARG_I(i),
                                  AV_ARG_I(r),           AV_ARG_T(g->species),
                                  g->common_name[0] ? AV_ARG_T(g->common_name) : AV_ARG_NUL,
                                  AV_ARG_D(g->score)};
            st = s->drv->exec(c,
                              "INSERT INTO inference_guesses (ID, idx, rnk, species, common_name,"
                              " score) VALUES (?, ?, ?, ?, ?, ?)",
                              a, 6, NULL, NULL, err, errlen);
        }
    }
    return st;
}

typedef struct guess_rows {
    av_store_detection *d;
    int n;
    int64_t idx, rnk;
    double score;
    char species[128], common[128];
} guess_rows;

static int guess_row(void *ud)
{
    guess_rows *g = ud;
    if (g->idx < 0 || g->idx >= g->n || g->rnk < 0 || g->rnk >= AV_STORE_MAX_GUESSES)
        return 0; /* not a box of this read (or a hand-edited row): skipped */
    av_store_detection *d = &g->d[g->idx];
    if (d->n_guesses >= AV_STORE_MAX_GUESSES)
        return 0;
    av_store_guess *out = &d->guesses[d->n_guesses++];
    out->score = g->score;
    snprintf(out->species, sizeof out->species, "%s", g->species);
    snprintf(out->common_name, sizeof out->common_name, "%s", g->common);
    return 0;
}

av_store_status av_store__guesses_get(av_store *s, const char *id, av_store_detection *d, int n,
                                      char *err, size_t errlen)
{
    for (int i = 0; i < n; i++)
        d[i].n_guesses = 0;
    guess_rows g = {.d = d, .n = n};
    av_store__col cols[5] = {{AV_COL_INT, &g.idx, 0, 0},
                             {AV_COL_INT, &g.rnk, 0, 0},
                             {AV_COL_TEXT, g.species, sizeof g.species, 0},
                             {AV_COL_TEXT, g.common, sizeof g.common, 0},
                             {AV_COL_DOUBLE, &g.score, 0, 0}};
    av_store__arg a[1] = {AV_ARG_T(id)};
    return av_store__query1(s,
                            "SELECT idx, rnk, species, COALESCE(common_name, ''), score"
                            " FROM inference_guesses WHERE ID = ? ORDER BY idx, rnk",
                            a, 1, cols, 5, guess_row, &g, err, errlen);
}
