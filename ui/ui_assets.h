/* ui_assets.h - the dashboard's static files (the HTML, CSS and JavaScript of
 * ui/ and its vendor/ folder), compiled into the binary by ui/embed.py and
 * served under /ui/ (handlers/ui.c). */
#ifndef CUTOVER_UI_ASSETS_H
#define CUTOVER_UI_ASSETS_H

#include <stddef.h>

typedef struct co_ui_asset {
    const char *name;         /* path under /ui/, e.g. "app.js", "vendor/uplot.min.css" */
    const char *content_type; /* static */
    const unsigned char *data;
    size_t len;
} co_ui_asset;

extern const co_ui_asset co_ui_assets[];
extern const size_t co_ui_assets_count;

#endif
