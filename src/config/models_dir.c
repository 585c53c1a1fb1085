/*
 * models_dir.c - where the models are looked for when no setting names them:
 * ./models (a source tree after scripts/setup), then the installed folder.
 */
#include "config/config.h"

#include <stdio.h>
#include <unistd.h>

static int has_pipeline(const char *dir)
{
    char path[AV_CONFIG_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/pipeline.json", dir);
    return access(path, R_OK) == 0;
}

av_config_models_from av_config_find_models(av_config *c, const char *installed)
{
    if (c->models_set)
        return AV_CONFIG_MODELS_GIVEN;
    if (!installed)
        installed = av_config_installed_models;
    if (has_pipeline("models")) {
        snprintf(c->models_dir, sizeof c->models_dir, "models");
        return AV_CONFIG_MODELS_CWD;
    }
    if (has_pipeline(installed)) {
        snprintf(c->models_dir, sizeof c->models_dir, "%s", installed);
        return AV_CONFIG_MODELS_INSTALLED;
    }
    snprintf(c->models_dir, sizeof c->models_dir, "models");
    return AV_CONFIG_MODELS_NONE;
}

const char *av_config_models_from_name(av_config_models_from from)
{
    switch (from) {
    case AV_CONFIG_MODELS_GIVEN: return "--models/AVIARY_MODELS";
    case AV_CONFIG_MODELS_CWD: return "./models";
    case AV_CONFIG_MODELS_INSTALLED: return "installed";
    case AV_CONFIG_MODELS_NONE: break;
    }
    return "none";
}

void av_config_models_hint(const av_config *c, char *out, size_t outlen)
{
    if (c->models_set)
        snprintf(out, outlen,
                 "the models folder %s (from --models, AVIARY_MODELS or the config file) "
                 "lacks them; fetch them with `scripts/setup --models` in Aviary's source "
                 "tree and name that tree's models/ folder, or install them there with "
                 "`make install`",
                 c->models_dir);
    else
        snprintf(out, outlen,
                 "models are looked for in --models DIR (or AVIARY_MODELS), then ./models, "
                 "then %s; fetch them with `scripts/setup --models` in Aviary's source tree, "
                 "then run `make install` there (or start aviary in that tree)",
                 av_config_installed_models);
}
