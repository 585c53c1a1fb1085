/*
 * guard_opts.c - the settings behind guard.h for `aviary serve` and
 * `aviary model-server`.
 */
#include "cli/cli.h"

#include "log/log.h"

#include <stdio.h>

av_guard_opts av_cli_guard_opts(const av_config *cfg)
{
    long nofile = av_guard_raise_nofile();
    av_guard_opts o = {.total = cfg->max_conns,
                       .per_ip = cfg->max_conns_per_client > 0 ? cfg->max_conns_per_client : -1,
                       .header_s = cfg->header_timeout_s,
                       .request_s = cfg->request_timeout_s};
    av_guard_opts eff;
    av_guard_effective(&o, &eff);
    char total[24], per[24], files[24];
    snprintf(total, sizeof total, "%d", eff.total);
    snprintf(per, sizeof per, "%d", eff.per_ip);
    snprintf(files, sizeof files, "%ld", nofile);
    if (eff.total < cfg->max_conns)
        av_log(AV_LOG_WARN, "connection_limit_lowered", "max_conns", total, "open_files", files,
               "note", "raise the open-file limit (ulimit -n, LimitNOFILE=) for more", NULL);
    av_log(AV_LOG_DEBUG, "connection_limits", "max_conns", total, "per_client", per, NULL);
    return o;
}
