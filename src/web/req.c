/*
 * req.c - what depends on who asks: the guest rights in force, whether the
 * request may do something, the HTML that differs for the owner (CSRF
 * input, account navigation, delete button), and query-string values.
 * It reads r->auth as auth.c set it and answers nothing itself, so pages,
 * responses and auth.c all build on it.
 */
#include "web/internal.h"

#include <stdio.h>
#include <string.h>

int av_web__guest_bits(const av_web *w)
{
    int g = w->o.guest ? w->o.guest : AV_WEB_GUEST_DEFAULT;
    if (g & (AV_WEB_GUEST_UPLOAD | AV_WEB_GUEST_VOTE))
        g |= AV_WEB_GUEST_VIEW;
    return g;
}

int av_web__may(const av_web__req *r, int right)
{
    if (r && r->auth.owner)
        return 1;
    return !r || !r->w || (av_web__guest_bits(r->w) & right) != 0;
}

void av_web__csrf_input(const av_web__req *r, av_web__buf *b)
{
    if (r && r->auth.by_session)
        av_web__buf_fmt(b, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">", r->auth.csrf);
}

void av_web__account_nav(const av_web__req *r, av_web__buf *b)
{
    if (!r || !r->w || !r->w->o.store)
        return;
    if (!r->auth.owner) {
        av_web__buf_str(b, "<a href=\"/login\">Sign in</a>");
        return;
    }
    av_web__buf_str(b, "<a href=\"/settings\">Settings</a><form class=\"inline\" method=\"post\""
                       " action=\"/logout\">");
    av_web__csrf_input(r, b);
    av_web__buf_str(b, "<button type=\"submit\" class=\"link\">Sign out ");
    av_web__buf_html(b, r->auth.user);
    av_web__buf_str(b, "</button></form>");
}

void av_web__owner_tools(const av_web__req *r, av_web__buf *b, const char *id)
{
    if (!r || !r->auth.owner || !av_store_valid_id(id))
        return;
    av_web__buf_fmt(b, "<form class=\"card owner\" method=\"post\" action=\"/uploads/%s/delete\">",
                    id);
    av_web__csrf_input(r, b);
    av_web__buf_str(b, "<button type=\"submit\" class=\"danger\">Delete this upload</button> "
                       "<span class=\"meta\">Removes the file, its results and its vote from"
                       " every node.</span></form>");
}

const char *av_web__arg(struct MHD_Connection *c, const char *key)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
    return v && *v ? v : NULL;
}
