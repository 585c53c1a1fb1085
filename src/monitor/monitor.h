/*
 * monitor.h - feedback arithmetic and retraining indicators.
 *
 * The original computed satisfaction and running averages inline in its
 * Flask view; here they are small pure functions the web pages, the API
 * and the tests share.
 */
#ifndef AV_MONITOR_H
#define AV_MONITOR_H

#include <stddef.h>

/* Satisfaction threshold below which the model needs retraining (original: 90 %). */
#define AV_MONITOR_SATISFACTION_MIN 0.90

typedef struct av_monitor_vote {
    int yes;           /* vote == "yes" */
    int ground_truth;  /* birds in the picture; -1 when not given */
    int predicted;     /* birds correctly detected; -1 when not given */
} av_monitor_vote;

/*
 * Parse the feedback form fields (vote, ground_truth, predicted; any may be
 * NULL when missing). Returns 0 with *out filled, or -1 with a message for
 * the user in msg ("How many birds are in the picture? must be a whole
 * number"). Rules: vote must be yes or no; for no, both counts are required
 * whole numbers 0..10000 and predicted <= ground_truth.
 */
int av_monitor_parse_vote(const char *vote, const char *ground_truth, const char *predicted,
                          av_monitor_vote *out, char *msg, size_t msglen);

/* This image's satisfaction: 1 for yes; else the birds found over every
 * bird there or boxed: predicted / (ground_truth + the false boxes,
 * n_detections - predicted), in [0,1]; with ground_truth 0 it is 0 when the
 * model reported any bird (all false alarms) and 1 when it reported none. */
double av_monitor_satisfaction(const av_monitor_vote *v, int n_detections);

#endif
