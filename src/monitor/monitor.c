/*
 * monitor.c - feedback form validation and satisfaction arithmetic.
 */
#include "monitor/monitor.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BIRDS 10000

static int parse_count(const char *s, int *out)
{
    if (!s)
        return -1;
    while (*s == ' ')
        s++;
    if (*s < '0' || *s > '9')
        return -1; /* rejects "", "-1", "+1", "abc" */
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    while (*end == ' ')
        end++;
    if (errno || *end || v > MAX_BIRDS)
        return -1;
    *out = (int)v;
    return 0;
}

int av_monitor_parse_vote(const char *vote, const char *gt, const char *pred,
                          av_monitor_vote *out, char *msg, size_t msglen)
{
    memset(out, 0, sizeof *out);
    out->ground_truth = out->predicted = -1;
    if (!vote || (strcmp(vote, "yes") != 0 && strcmp(vote, "no") != 0)) {
        snprintf(msg, msglen, "Please answer whether all birds were detected (yes or no).");
        return -1;
    }
    if (strcmp(vote, "yes") == 0) {
        out->yes = 1;
        return 0;
    }
    if (parse_count(gt, &out->ground_truth)) {
        snprintf(msg, msglen, "\"How many birds are in the picture?\" needs a whole number from"
                              " 0 to %d.", MAX_BIRDS);
        return -1;
    }
    if (parse_count(pred, &out->predicted)) {
        snprintf(msg, msglen, "\"How many birds got accurately detected?\" needs a whole number"
                              " from 0 to %d.", MAX_BIRDS);
        return -1;
    }
    if (out->predicted > out->ground_truth) {
        snprintf(msg, msglen, "The number of correctly detected birds (%d) cannot be more than"
                              " the birds in the picture (%d).", out->predicted, out->ground_truth);
        return -1;
    }
    return 0;
}

double av_monitor_satisfaction(const av_monitor_vote *v, int n_detections)
{
    if (v->yes)
        return 1.0;
    if (v->ground_truth <= 0)
        return n_detections > 0 || v->predicted > 0 ? 0.0 : 1.0;
    /* Correct boxes over every bird that was there or boxed (true birds plus
     * false boxes): "2 of 2 found" with two extra boxes is 50 %, not 100 %. */
    int p = v->predicted < 0 ? 0 : v->predicted > v->ground_truth ? v->ground_truth : v->predicted;
    int false_boxes = n_detections > p ? n_detections - p : 0;
    return (double)p / (v->ground_truth + false_boxes);
}
