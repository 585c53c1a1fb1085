/*
 * node.c - the cameras of one node: a thread per camera running its source
 * loop (source.c, stream.c) with reconnect backoff and the camera lease;
 * the frame path every source feeds is cam.c.
 *
 * Locking: a camera's status and last frame sit behind its mutex (read by
 * HTTP threads); its tracker, stills and motion gate belong to its thread.
 * The CPU budget is a node-wide token bucket behind its own mutex.
 */
#include "camera/cam_impl.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define DEAD_AFTER 3      /* failed connects in a row before a camera shows "dead" */

/* ---- the camera thread ---- */

static void *cam_main(void *arg)
{
    av_camera__cam *k = arg;
    av_camera_node *n = k->node;
    int64_t backoff = BACKOFF_MIN_MS;
    char err[512];
    while (!atomic_load(&n->stop)) {
        if (!av_camera__lease_ok(k)) {
            av_camera__set_state(k, "standby", "another node watches this camera");
            av_camera__sleep(k, 1000);
            continue;
        }
        err[0] = '\0';
        int rc = k->c.kind == AV_CAMERA_SNAPSHOT ? av_camera__run_snapshot(k, err, sizeof err)
                 : k->c.kind == AV_CAMERA_FOLDER ? av_camera__run_folder(k, err, sizeof err)
                                                 : av_camera__run_stream(k, err, sizeof err);
        if (atomic_load(&n->stop))
            break;
        if (!k->held)
            continue; /* the lease was lost while watching: standby, no retry */
        if (rc > 0) {
            backoff = BACKOFF_MIN_MS; /* it worked for a while: retry soon */
            k->fails = 0;
        }
        k->fails++;
        av_camera__set_state(k, k->fails >= DEAD_AFTER ? "dead" : "reconnecting",
                             err[0] ? err : "the source ended");
        if (av_camera__sleep(k, backoff))
            break;
        av_camera__reconnected(k);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    av_camera__end_visits(k, 1); /* a stop ends the visits in progress: store them */
    if (k->held) {
        char e[256];
        av_store_camera_lease_release(n->o.store, k->c.name, n->node_id, e, sizeof e);
    }
    av_camera__set_state(k, "stopped", NULL);
    return NULL;
}

/* ---- retention ---- */

#define RETENTION_PERIOD_MS (3600 * 1000)

static void *keeper_main(void *arg)
{
    av_camera_node *n = arg;
    int64_t next = av_base_mono_ms();
    while (!atomic_load(&n->stop)) {
        if (av_base_mono_ms() >= next) {
            char err[256];
            int64_t dropped = 0, before = av_base_wall_ms() -
                                          (int64_t)n->o.retention_days * 86400 * 1000;
            if (av_store_camera_prune(n->o.store, before, n->o.keep_best, 0, &dropped, err,
                                      sizeof err) != AV_STORE_OK)
                av_log(AV_LOG_WARN, "camera_retention_failed", "error", err, NULL);
            else if (dropped) {
                char d[24];
                snprintf(d, sizeof d, "%lld", (long long)dropped);
                av_log(AV_LOG_INFO, "camera_retention", "frames_dropped", d, NULL);
            }
            next = av_base_mono_ms() + RETENTION_PERIOD_MS;
        }
        usleep(200 * 1000);
    }
    return NULL;
}

/* ---- start, stop, status ---- */

static void cam_free(av_camera__cam *k)
{
    av_camera_motion_free(k->motion);
    av_video_tracker_free(k->trk);
    av_video_stills_free(k->stills);
    free(k->seen_seq);
    free(k->stored);
    free(k->ids);
    free(k->last_rgb);
    free(k->last_dets);
    free(k->last_ids);
    pthread_mutex_destroy(&k->mu);
}

void av_camera_node_stop(av_camera_node *n)
{
    if (!n)
        return;
    atomic_store(&n->stop, 1);
    for (int i = 0; i < n->n; i++)
        if (n->cams[i].started)
            pthread_join(n->cams[i].th, NULL);
    if (n->keeper_started)
        pthread_join(n->keeper, NULL);
    av_camera__frigate_stop(n->frigate);
    av_camera__notifier_stop(n->notifier); /* after the cameras: their last visits go out */
    for (int i = 0; i < n->n; i++)
        cam_free(&n->cams[i]);
    free(n->cams);
    av_video_stills_free(n->draw);
    pthread_mutex_destroy(&n->budget_mu);
    free(n);
}

int av_camera_node_start(const av_camera_node_opts *o, av_camera_node **out, char *err,
                         size_t errlen)
{
    *out = NULL;
    if (!o || !o->store || o->n_cams < 0 || o->n_cams > AV_CAMERA_MAX ||
        (o->n_cams && !o->cams)) {
        snprintf(err, errlen, "cameras: a store and at most %d cameras are needed",
                 AV_CAMERA_MAX);
        return -1;
    }
    av_camera_node *n = calloc(1, sizeof *n);
    if (!n) {
        snprintf(err, errlen, "cameras: out of memory");
        return -1;
    }
    n->o = *o;
    if (n->o.lease_ms <= 0)
        n->o.lease_ms = 30000;
    if (!(n->o.cpu_budget > 0)) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        n->o.cpu_budget = cores > 0 ? (double)cores : 1.0;
    }
    if (n->o.max_pixels <= 0)
        n->o.max_pixels = 50LL * 1000 * 1000;
    if (n->o.max_bytes <= 0)
        n->o.max_bytes = 30LL * 1000 * 1000;
    if (o->node_id && *o->node_id) {
        snprintf(n->node_id, sizeof n->node_id, "%s", o->node_id);
    } else {
        char host[64] = "localhost";
        gethostname(host, sizeof host - 1);
        snprintf(n->node_id, sizeof n->node_id, "%s:%ld", host, (long)getpid());
    }
    pthread_mutex_init(&n->budget_mu, NULL);
    n->tokens = n->o.cpu_budget;
    n->tokens_mono = av_base_mono_ms();
    av_video_stills_opts so = {.poster_side = 960};
    n->cams = o->n_cams ? calloc((size_t)o->n_cams, sizeof *n->cams) : NULL;
    int ok = 1;
    const char *names[AV_CAMERA_MAX];
    for (int i = 0; i < o->n_cams; i++)
        names[i] = o->cams[i].name;
    if (o->notify)
        n->notifier = av_camera__notifier_start(o->notify, o->store, names, o->n_cams, &ok,
                                                err, errlen);
    if (!ok) {
        av_camera_node_stop(n);
        return -1;
    }
    if ((o->n_cams && !n->cams) || av_video_stills_new(&so, &n->draw) != AV_VIDEO_OK) {
        av_camera_node_stop(n);
        snprintf(err, errlen, "cameras: out of memory");
        return -1;
    }
    n->n = o->n_cams;
    for (int i = 0; i < n->n; i++) {
        av_camera__cam *k = &n->cams[i];
        k->node = n;
        k->c = o->cams[i];
        pthread_mutex_init(&k->mu, NULL);
        snprintf(k->st.name, sizeof k->st.name, "%s", k->c.name);
        k->st.kind = k->c.kind;
        av_store_redact_url(k->c.url, k->st.url_shown, sizeof k->st.url_shown);
        snprintf(k->st.state, sizeof k->st.state, "starting");
        /* live frames a visit may go unseen: visit-gap at the camera's rate */
        double rate = k->c.kind == AV_CAMERA_SNAPSHOT ? fmin(k->c.fps, 1.0 / k->c.interval_s)
                                                      : k->c.fps;
        k->gap_frames = (int)ceil(k->c.visit_gap_s * rate);
        if (k->gap_frames < 1)
            k->gap_frames = 1;
        k->motion = av_camera_motion_new(k->c.motion_threshold);
        if (!k->motion) {
            av_camera_node_stop(n);
            snprintf(err, errlen, "cameras: out of memory");
            return -1;
        }
    }
    for (int i = 0; i < n->n; i++) {
        if (pthread_create(&n->cams[i].th, NULL, cam_main, &n->cams[i]) != 0) {
            av_camera_node_stop(n);
            snprintf(err, errlen, "cameras: cannot start a thread");
            return -1;
        }
        n->cams[i].started = 1;
    }
    if (o->frigate_url && *o->frigate_url) {
        av_camera__frigate_env fe = {.store = o->store, .pipe = o->pipe,
                                     .notifier = n->notifier, .lease_ms = n->o.lease_ms,
                                     .max_bytes = n->o.max_bytes, .max_pixels = n->o.max_pixels};
        snprintf(fe.mqtt_url, sizeof fe.mqtt_url, "%s", o->notify ? o->notify->mqtt_url : "");
        snprintf(fe.frigate_url, sizeof fe.frigate_url, "%s", o->frigate_url);
        snprintf(fe.topic, sizeof fe.topic, "%s", o->frigate_topic ? o->frigate_topic : "");
        snprintf(fe.node_id, sizeof fe.node_id, "%s", n->node_id);
        if (!(n->frigate = av_camera__frigate_start(&fe, err, errlen))) {
            av_camera_node_stop(n);
            return -1;
        }
    }
    if (n->o.retention_days > 0) {
        if (pthread_create(&n->keeper, NULL, keeper_main, n) != 0) {
            av_camera_node_stop(n);
            snprintf(err, errlen, "cameras: cannot start a thread");
            return -1;
        }
        n->keeper_started = 1;
    }
    *out = n;
    return 0;
}

int av_camera_node_status(av_camera_node *n, av_camera_status **out, int *count)
{
    *out = NULL;
    *count = 0;
    if (!n || !n->n)
        return 0;
    av_camera_status *s = calloc((size_t)n->n, sizeof *s);
    if (!s)
        return -1;
    int64_t now = av_base_mono_ms();
    struct timespec cpu;
    for (int i = 0; i < n->n; i++) {
        av_camera__cam *k = &n->cams[i];
        clockid_t cid;
        double cpu_s = -1;
        if (k->started && pthread_getcpuclockid(k->th, &cid) == 0 &&
            clock_gettime(cid, &cpu) == 0)
            cpu_s = (double)cpu.tv_sec + cpu.tv_nsec / 1e9;
        pthread_mutex_lock(&k->mu);
        s[i] = k->st;
        s[i].last_frame_age_s = k->last_frame_mono ? (double)(now - k->last_frame_mono) / 1000.0
                                                   : -1.0;
        pthread_mutex_unlock(&k->mu);
        s[i].cpu_s = cpu_s;
    }
    *out = s;
    *count = n->n;
    return 0;
}

int av_camera_node_frame(av_camera_node *n, const char *name, unsigned char **jpeg, size_t *len)
{
    *jpeg = NULL;
    *len = 0;
    for (int i = 0; n && name && i < n->n; i++) {
        av_camera__cam *k = &n->cams[i];
        if (strcmp(k->c.name, name))
            continue;
        /* copy under the lock, draw and encode outside it */
        pthread_mutex_lock(&k->mu);
        size_t bytes = (size_t)k->last_w * (size_t)k->last_h * 3;
        unsigned char *rgb = bytes ? malloc(bytes) : NULL;
        int nd = k->last_n, w = k->last_w, h = k->last_h;
        av_detect_det *d = nd ? malloc((size_t)nd * sizeof *d) : NULL;
        int *ids = nd ? malloc((size_t)nd * sizeof *ids) : NULL;
        int ok = rgb && (!nd || (d && ids));
        if (ok) {
            memcpy(rgb, k->last_rgb, bytes);
            if (nd) {
                memcpy(d, k->last_dets, (size_t)nd * sizeof *d);
                memcpy(ids, k->last_ids, (size_t)nd * sizeof *ids);
            }
        }
        pthread_mutex_unlock(&k->mu);
        int rc = -1;
        if (ok) {
            av_video_frame_view v = {.width = w, .height = h, .rgb = rgb, .dets = d,
                                     .track_ids = ids, .n_dets = nd};
            rc = av_video_stills_draw(n->draw, &v, jpeg, len) == 0 ? 0 : -1;
        }
        free(rgb);
        free(d);
        free(ids);
        return rc;
    }
    return -1;
}

json_t *av_camera_status_json(const av_camera_status *s)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:f, s:f, s:I, s:I, s:I, s:i, s:i, s:I,"
                          " s:s, s:b}",
                          "name", s->name, "kind", av_camera_kind_name(s->kind), "url",
                          s->url_shown, "state", s->state, "error", s->error, "fps",
                          round(s->fps * 100) / 100, "analysed_fps",
                          round(s->analysed_fps * 100) / 100, "frames", (json_int_t)s->frames,
                          "analysed", (json_int_t)s->analysed, "motion_frames",
                          (json_int_t)s->motion_frames, "reconnects", s->reconnects,
                          "visits_open", s->visits_open, "visits_stored",
                          (json_int_t)s->visits_stored, "last_species", s->last_species,
                          "bird_present", s->bird_present);
    if (!j)
        return NULL;
    json_object_set_new(j, "last_frame_age_s",
                        s->last_frame_age_s < 0 ? json_null()
                                                : json_real(round(s->last_frame_age_s * 10) / 10));
    json_object_set_new(j, "cpu_s",
                        s->cpu_s < 0 ? json_null() : json_real(round(s->cpu_s * 100) / 100));
    return j;
}
