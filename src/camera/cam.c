/*
 * cam.c - the frame path every source feeds (fps cap -> motion gate -> CPU
 * budget -> pipeline -> tracker -> visits stored and notified when they
 * end), and what a source loop asks of its camera (settings, stop flag,
 * sleep, state). Locking as in node.c.
 */
#include "camera/cam_impl.h"

#define WINDOW_MS 10000   /* fps measured over this window */
#define THUMB_SIDE 320    /* a visit's best frame: square crop around the bird */

const av_camera_conf *av_camera__conf(const av_camera__cam *k)
{
    return &k->c;
}

atomic_int *av_camera__stop_flag(av_camera__cam *k)
{
    return &k->node->stop;
}

long long av_camera__max_bytes(const av_camera__cam *k)
{
    return k->node->o.max_bytes;
}

long long av_camera__max_pixels(const av_camera__cam *k)
{
    return k->node->o.max_pixels;
}

void av_camera__set_state(av_camera__cam *k, const char *state, const char *error)
{
    pthread_mutex_lock(&k->mu);
    int changed = strcmp(k->st.state, state) != 0;
    snprintf(k->st.state, sizeof k->st.state, "%s", state);
    if (error)
        snprintf(k->st.error, sizeof k->st.error, "%s", error);
    pthread_mutex_unlock(&k->mu);
    if (changed)
        av_log(AV_LOG_INFO, "camera_state", "camera", k->c.name, "state", state, "error",
               error ? error : "", NULL);
}

int av_camera__sleep(av_camera__cam *k, int64_t ms)
{
    int64_t end = av_base_mono_ms() + ms;
    while (!atomic_load(&k->node->stop)) {
        int64_t left = end - av_base_mono_ms();
        if (left <= 0)
            return 0;
        usleep((useconds_t)(left > 100 ? 100 : left) * 1000);
    }
    return 1;
}

void av_camera__reconnected(av_camera__cam *k)
{
    pthread_mutex_lock(&k->mu);
    k->st.reconnects++;
    pthread_mutex_unlock(&k->mu);
}

/* ---- the lease ---- */

/* Whether this node may watch the camera now; renews every lease/3. */
int av_camera__lease_ok(av_camera__cam *k)
{
    av_camera_node *n = k->node;
    int64_t now = av_base_mono_ms();
    if (now < k->lease_due)
        return k->held;
    char err[256];
    int held = 0;
    if (av_store_camera_lease(n->o.store, k->c.name, n->node_id, n->o.lease_ms, &held, err,
                              sizeof err) != AV_STORE_OK) {
        /* the database is away: keep watching on the lease we had until it lapses */
        av_log(AV_LOG_WARN, "camera_lease_failed", "camera", k->c.name, "error", err, NULL);
        k->lease_due = now + 1000;
        return k->held;
    }
    if (held != k->held)
        av_log(AV_LOG_INFO, held ? "camera_lease_taken" : "camera_lease_lost", "camera",
               k->c.name, "node", n->node_id, NULL);
    k->held = held;
    k->lease_due = now + (held ? n->o.lease_ms / 3 : 1000);
    return held;
}

/* ---- visits ---- */

static int grow_ids(av_camera__cam *k, int id)
{
    if (id < k->ids_cap)
        return 0;
    int cap = k->ids_cap ? k->ids_cap : 16;
    while (cap <= id)
        cap *= 2;
    int64_t *s = realloc(k->seen_seq, (size_t)cap * sizeof *s);
    if (!s)
        return -1;
    k->seen_seq = s;
    unsigned char *st = realloc(k->stored, (size_t)cap);
    if (!st)
        return -1;
    k->stored = st;
    memset(k->seen_seq + k->ids_cap, 0, (size_t)(cap - k->ids_cap) * sizeof *s);
    memset(k->stored + k->ids_cap, 0, (size_t)(cap - k->ids_cap));
    k->ids_cap = cap;
    return 0;
}

/* A visit as the store keeps it; times from tracker seconds. */
static void visit_of(const av_camera__cam *k, const av_video_track *t, int64_t base_ms,
                     av_store_camera_visit *v)
{
    memset(v, 0, sizeof *v);
    snprintf(v->camera, sizeof v->camera, "%s", k->c.name);
    v->first_ms = base_ms + (int64_t)llround(t->first_s * 1000);
    v->last_ms = base_ms + (int64_t)llround(t->last_s * 1000);
    snprintf(v->species, sizeof v->species, "%s", t->scientific);
    snprintf(v->common_name, sizeof v->common_name, "%s", t->common);
    snprintf(v->label, sizeof v->label, "%s", t->label);
    v->score = t->best_confidence;
    v->n_frames = t->n_frames;
    v->x1 = t->best.x1, v->y1 = t->best.y1, v->x2 = t->best.x2, v->y2 = t->best.y2;
    snprintf(v->node, sizeof v->node, "%s", k->node->node_id);
}

/* Store a finished visit and notify it. */
static void store_visit(av_camera__cam *k, const av_video_track *t, av_video_stills *stills,
                        int64_t base_ms)
{
    av_camera_node *n = k->node;
    av_store_camera_visit v;
    visit_of(k, t, base_ms, &v);
    size_t len = 0;
    const unsigned char *jpg = stills ? av_video_stills_thumb(stills, t, &len) : NULL;
    v.has_jpeg = jpg != NULL; /* the notification names its URL */
    int wanted = n->notifier && av_camera__notify_wanted(n->notifier, &v);
    char err[256];
    if (av_store_camera_visit_add(n->o.store, &v, jpg, jpg ? len : 0, &v.id, err, sizeof err) !=
        AV_STORE_OK) {
        av_log(AV_LOG_ERROR, "camera_visit_not_stored", "camera", k->c.name, "error", err, NULL);
        return;
    }
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)v.id);
    av_log(AV_LOG_INFO, "camera_visit", "camera", k->c.name, "id", id, "species",
           v.label, NULL);
    pthread_mutex_lock(&k->mu);
    k->st.visits_stored++;
    snprintf(k->st.last_species, sizeof k->st.last_species, "%s", v.label);
    pthread_mutex_unlock(&k->mu);
    av_camera__notify_species(n->notifier, k->c.name, v.label);
    if (wanted)
        av_camera__notify(n->notifier, &v);
}

/* Store the visits that ended (all of them when flush); when none is open
 * any more, start a fresh tracker so memory stays bounded. */
void av_camera__end_visits(av_camera__cam *k, int flush)
{
    if (!k->trk)
        return;
    const av_video_track *tr = NULL;
    int nt = av_video_tracker_tracks(k->trk, &tr), open = 0;
    for (int i = 0; i < nt; i++) {
        int id = tr[i].id;
        if (id < 0 || id >= k->ids_cap || k->stored[id])
            continue;
        if (flush || k->seq - k->seen_seq[id] > k->gap_frames) {
            store_visit(k, &tr[i], k->stills, k->base_ms);
            k->stored[id] = 1;
        } else {
            open++;
        }
    }
    pthread_mutex_lock(&k->mu);
    int was = k->st.bird_present;
    k->st.visits_open = open;
    k->st.bird_present = open > 0;
    pthread_mutex_unlock(&k->mu);
    if (was != (open > 0))
        av_camera__notify_presence(k->node->notifier, k->c.name, open > 0);
    if (open == 0 && nt > 0) {
        av_video_tracker_free(k->trk);
        av_video_stills_free(k->stills);
        k->trk = NULL;
        k->stills = NULL;
        memset(k->stored, 0, (size_t)k->ids_cap);
        memset(k->seen_seq, 0, (size_t)k->ids_cap * sizeof *k->seen_seq);
    }
}

static int make_tracker(av_camera__cam *k)
{
    if (k->trk)
        return 0;
    av_video_track_opts to = {.iou_min = 0.0, .max_gap = k->gap_frames};
    av_video_stills_opts so = {.thumb_side = THUMB_SIDE, .poster_side = 64,
                               .max_bytes = 16u << 20};
    if (av_video_tracker_new(&to, &k->trk) != AV_VIDEO_OK ||
        av_video_stills_new(&so, &k->stills) != AV_VIDEO_OK) {
        av_video_tracker_free(k->trk);
        k->trk = NULL;
        return -1;
    }
    k->base_ms = av_base_wall_ms();
    k->seq = 0;
    return 0;
}

/* ---- the CPU budget ---- */

/* CPU time of the calling thread: what an analysis costs, whatever else
 * the machine runs (wall time would charge the other load too). The
 * engine's helper threads (--threads above 1) are not in it. */
static double thread_cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static int budget_take(av_camera_node *n)
{
    pthread_mutex_lock(&n->budget_mu);
    int64_t now = av_base_mono_ms();
    n->tokens += (double)(now - n->tokens_mono) / 1000.0 * n->o.cpu_budget;
    n->tokens_mono = now;
    double cap = 2.0 * n->o.cpu_budget; /* a burst of two seconds at most */
    if (n->tokens > cap)
        n->tokens = cap;
    int ok = n->tokens > 0;
    pthread_mutex_unlock(&n->budget_mu);
    return ok;
}

static void budget_spend(av_camera_node *n, double seconds)
{
    pthread_mutex_lock(&n->budget_mu);
    n->tokens -= seconds;
    pthread_mutex_unlock(&n->budget_mu);
}

/* ---- the frame path ---- */

static void keep_last(av_camera__cam *k, int w, int h, const unsigned char *rgb,
                      const av_detect_det *dets, const int *ids, int nd)
{
    size_t bytes = (size_t)w * (size_t)h * 3;
    pthread_mutex_lock(&k->mu);
    if (w != k->last_w || h != k->last_h) {
        free(k->last_rgb);
        k->last_rgb = malloc(bytes);
        k->last_w = k->last_rgb ? w : 0;
        k->last_h = k->last_rgb ? h : 0;
    }
    if (k->last_rgb)
        memcpy(k->last_rgb, rgb, bytes);
    if (dets) { /* an analysed frame: its boxes replace the last ones */
        free(k->last_dets);
        free(k->last_ids);
        k->last_dets = nd ? malloc((size_t)nd * sizeof *dets) : NULL;
        k->last_ids = nd ? malloc((size_t)nd * sizeof *ids) : NULL;
        k->last_n = nd && k->last_dets && k->last_ids ? nd : 0;
        if (k->last_n) {
            memcpy(k->last_dets, dets, (size_t)nd * sizeof *dets);
            memcpy(k->last_ids, ids, (size_t)nd * sizeof *ids);
        }
    }
    k->last_frame_mono = av_base_mono_ms();
    pthread_mutex_unlock(&k->mu);
}

static void count_window(av_camera__cam *k, int analysed, int motion)
{
    int64_t now = av_base_mono_ms();
    pthread_mutex_lock(&k->mu);
    if (!k->win_start)
        k->win_start = now;
    k->win_frames++;
    k->win_analysed += analysed;
    k->st.frames++;
    k->st.analysed += analysed;
    k->st.motion_frames += motion;
    if (now - k->win_start >= WINDOW_MS) {
        double s = (double)(now - k->win_start) / 1000.0;
        k->st.fps = (double)k->win_frames / s;
        k->st.analysed_fps = (double)k->win_analysed / s;
        k->win_start = now;
        k->win_frames = k->win_analysed = 0;
    }
    pthread_mutex_unlock(&k->mu);
}

int av_camera__fps_take(int64_t *due, double fps)
{
    /* each frame is due one period after the last one was due (not after it
     * came), so jitter does not lower the rate; a long pause restarts it */
    int64_t now = av_base_mono_ms(), period = (int64_t)(1000.0 / fps);
    if (*due && now < *due)
        return 0;
    *due = *due && now - *due < period ? *due + period : now + period;
    return 1;
}

int av_camera__feed(av_camera__cam *k, int w, int h, const unsigned char *rgb, int flags)
{
    int force = flags & AV_CAMERA__FORCE;
    av_camera_node *n = k->node;
    if (atomic_load(&n->stop))
        return 1;
    if (!av_camera__lease_ok(k))
        return 1; /* another node took the camera over */
    if (!(flags & (AV_CAMERA__FORCE | AV_CAMERA__CAPPED)) &&
        !av_camera__fps_take(&k->take_mono, k->c.fps))
        return 0;
    av_camera__set_state(k, "live", "");
    if (make_tracker(k)) {
        av_camera__set_state(k, "live", "out of memory");
        return 0;
    }
    k->seq++;
    int open = 0;
    pthread_mutex_lock(&k->mu);
    open = k->st.visits_open;
    pthread_mutex_unlock(&k->mu);
    int motion = 1;
    if (k->c.motion && k->motion)
        motion = av_camera_motion_feed(k->motion, rgb, w, h, NULL);
    int analyse = n->o.pipe && (force || !k->c.motion || motion || open);
    if (analyse && !force && !budget_take(n))
        analyse = 0; /* over the node's CPU budget: this frame is only shown */
    if (!analyse) {
        keep_last(k, w, h, rgb, NULL, NULL, 0);
        count_window(k, 0, motion);
        av_camera__end_visits(k, 0);
        return 0;
    }
    av_detect_run_opts ro = {.max_pixels = n->o.max_pixels, .passes = n->o.passes,
                             .skip_passes = n->o.passes ? 0 : 1u << AV_DETECT_PASS_ZOOM};
    av_detect_result r;
    char err[256];
    double c0 = thread_cpu_s();
    av_detect_status ds = av_detect_run_rgb(n->o.pipe, w, h, rgb, &ro, &r, err, sizeof err);
    budget_spend(n, thread_cpu_s() - c0);
    if (ds != AV_DETECT_OK) {
        av_camera__set_state(k, "live", err);
        keep_last(k, w, h, rgb, NULL, NULL, 0);
        count_window(k, 0, motion);
        return 0;
    }
    int kept = 0; /* detections at or above the camera's min-score, in place */
    for (int i = 0; i < r.n_dets; i++)
        if (r.dets[i].confidence >= k->c.min_score)
            r.dets[kept++] = r.dets[i];
    if (kept > k->ids_n) {
        int *ids = realloc(k->ids, (size_t)kept * sizeof *ids);
        if (!ids) {
            av_detect_result_free(&r);
            return 0;
        }
        k->ids = ids;
        k->ids_n = kept;
    }
    double t = (double)(av_base_wall_ms() - k->base_ms) / 1000.0;
    if (kept && av_video_tracker_add(k->trk, (int)k->seq, t, r.dets, kept, k->ids) ==
                    AV_VIDEO_OK) {
        int ok = 1;
        for (int i = 0; i < kept && ok; i++) {
            ok = grow_ids(k, k->ids[i]) == 0;
            if (ok)
                k->seen_seq[k->ids[i]] = k->seq;
        }
        av_video_frame_view v = {.frame = (int)k->seq, .t = t, .width = w, .height = h,
                                 .rgb = rgb, .dets = r.dets, .track_ids = k->ids,
                                 .n_dets = kept};
        av_video_stills_hook(k->stills, &v);
    }
    keep_last(k, w, h, rgb, r.dets, k->ids, kept);
    av_detect_result_free(&r);
    count_window(k, 1, motion);
    av_camera__end_visits(k, 0);
    /* end_visits counts the open ones; a detection just made opens one */
    return 0;
}

int av_camera__tick(av_camera__cam *k)
{
    if (atomic_load(&k->node->stop) || !av_camera__lease_ok(k))
        return 1;
    int64_t now = av_base_mono_ms(), period = (int64_t)(1000.0 / k->c.fps);
    if (!k->trk || (k->take_mono && now < k->take_mono))
        return 0;
    k->take_mono = now + period;
    k->seq++;
    av_camera__end_visits(k, 0);
    return 0;
}

/* ---- clips from a watched folder ---- */

int av_camera__clip(av_camera__cam *k, const char *path, char *err, size_t errlen)
{
    av_camera_node *n = k->node;
    if (!n->o.pipe) {
        snprintf(err, errlen, "no models: clips cannot be analysed");
        return -1;
    }
    av_video_stills *stills = NULL;
    av_video_stills_opts so = {.thumb_side = THUMB_SIDE, .poster_side = 64};
    if (av_video_stills_new(&so, &stills) != AV_VIDEO_OK) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    av_video_opts vo = {.fps = k->c.fps, .limits = {.max_pixels = n->o.max_pixels},
                        .track = {.max_gap = (int)ceil(k->c.visit_gap_s * k->c.fps)},
                        .frame_hook = av_video_stills_hook, .frame_ud = stills};
    av_video_result r;
    int64_t base = av_base_wall_ms();
    double c0 = thread_cpu_s();
    av_video_status st = av_video_run_file(n->o.pipe, path, &vo, &r, err, errlen);
    budget_spend(n, thread_cpu_s() - c0);
    if (st != AV_VIDEO_OK) {
        av_video_stills_free(stills);
        return -1;
    }
    /* the clip ended just now: its visits are placed that long ago */
    base -= (int64_t)llround(r.duration_s * 1000);
    for (int i = 0; i < r.n_tracks; i++)
        store_visit(k, &r.tracks[i], stills, base);
    pthread_mutex_lock(&k->mu);
    k->st.frames += r.n_frames;
    k->st.analysed += r.n_frames;
    pthread_mutex_unlock(&k->mu);
    av_video_result_free(&r);
    av_video_stills_free(stills);
    return 0;
}
