/* tui.h - `leakscope top`: a live, top-style view of outstanding memory
 * per call stack (ncurses).  It draws the same struct report the text and
 * JSON formats print; key handlers return what changed (htop-style) and
 * the session decides what to do. */
#ifndef LEAKSCOPE_TUI_H
#define LEAKSCOPE_TUI_H

#include <stdbool.h>

#include "report/report.h"

struct tui;

enum tui_result {
	TUI_HANDLED,	/* nothing to redo */
	TUI_REDRAW,	/* the view changed: draw again */
	TUI_INTERVAL,	/* + or -: the refresh interval changed */
	TUI_QUIT,	/* q: detach and leave */
};

/* Takes over the terminal.  sample_period: --sample-bytes (0: every
 * allocation traced), shown in the header. */
struct tui *tui__new(double sample_period);

/* Gives the terminal back. */
void tui__free(struct tui *t);

/* Reads every pending key; may change *interval_s or paused. */
enum tui_result tui__handle_keys(struct tui *t, int *interval_s);

/* True while paused with `p`: the session stops collecting. */
bool tui__paused(const struct tui *t);

/* Takes a new report (stacks owned by the caller until the next one) and
 * the seconds since attach; draws with one doupdate(). */
void tui__update(struct tui *t, const struct report *r, double attached_s,
		 int interval_s);

/* Draws the last report again (after a key, a resize). */
void tui__draw(struct tui *t);

#endif
