/* tui.c - the `leakscope top` screen.
 *
 *   header : target, time attached, outstanding bytes + sparkline,
 *            allocations/s, frees/s, drops, sampling mode
 *   table  : one row per stack - bytes, blocks, growth/s, class, age, and
 *            where the program allocated (its site, report/site.h:
 *            function, file:line)
 *   detail : Enter shows the selected stack's every frame
 *   keys   : b c g a sort, < > move the sort column, / filter, p pause,
 *            + - interval, arrows/j k select, Enter detail, q quit
 *
 * The screen is built with erase() + wnoutrefresh() and shown with one
 * doupdate() per refresh: no flicker.  Cost per refresh: sorting and
 * filtering the report's stacks, O(n log n).
 */
#include <curses.h>
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "report/report_text.h"
#include "report/site.h"
#include "sink/tui.h"

#define SPARK_LEN 32

enum sort_col { SORT_BYTES, SORT_COUNT, SORT_GROWTH, SORT_AGE, SORT__COUNT };

static const char *const sort_names[SORT__COUNT] = { "bytes", "blocks", "growth/s", "age" };

struct tui {
	double sample_period;
	bool utf8;
	/* the last report and what was derived from it */
	const struct report *r;
	double attached_s;
	int interval_s;
	int *order;		/* visible rows: indices into r->stacks */
	int norder, caporder;
	double spark[SPARK_LEN];	/* outstanding bytes, oldest first */
	int nspark;
	uint64_t prev_allocs, prev_frees;
	double prev_t, allocs_per_s, frees_per_s;
	/* view state */
	enum sort_col sort;
	int selected, top_row;
	bool paused, detail, prompting;
	char filter[64], input[64];
};

/* ---- helpers ------------------------------------------------------------- */

static const char *base_name(const char *path)
{
	const char *b = path ? strrchr(path, '/') : NULL;

	return b ? b + 1 : path;
}

static double age_s(const struct report *r, const struct report_stack *s)
{
	return s->oldest_ts_ns && r->now_ns > s->oldest_ts_ns
	       ? (r->now_ns - s->oldest_ts_ns) / 1e9 : 0;
}

static bool matches_filter(const struct tui *t, const struct report_stack *s)
{
	if (!t->filter[0])
		return true;
	for (int i = 0; i < s->nframes; i++) {
		const struct frame *f = &s->frames[i];

		if ((f->function && strcasestr(f->function, t->filter)) ||
		    (f->file && strcasestr(f->file, t->filter)))
			return true;
	}
	return false;
}

static const struct tui *sort_ctx;	/* qsort has no context argument */

static double sort_key(const struct report_stack *s)
{
	switch (sort_ctx->sort) {
	case SORT_COUNT: return s->allocs;
	case SORT_GROWTH: return s->growth_bytes_per_s;
	case SORT_AGE: return age_s(sort_ctx->r, s);
	default: return s->bytes;
	}
}

/* Several processes: the rank of a stack's process (biggest first). */
static size_t proc_rank(const struct report *r, const struct report_stack *s)
{
	for (size_t i = 0; i < r->nprocs; i++)
		if (r->procs[i].pid == (pid_t)s->key.tgid)
			return i;
	return r->nprocs;
}

static int cmp_rows(const void *a, const void *b)
{
	const struct report_stack *x = &sort_ctx->r->stacks[*(const int *)a];
	const struct report_stack *y = &sort_ctx->r->stacks[*(const int *)b];
	double kx = sort_key(x), ky = sort_key(y);

	if (sort_ctx->r->multi) {	/* grouped by process first */
		size_t px = proc_rank(sort_ctx->r, x), py = proc_rank(sort_ctx->r, y);

		if (px != py)
			return px < py ? -1 : 1;
	}
	if (kx != ky)
		return kx < ky ? 1 : -1;
	return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

/* Filters and sorts the rows of the current report. */
static void build_order(struct tui *t)
{
	t->norder = 0;
	if (!t->r)
		return;
	if ((int)t->r->nstacks > t->caporder) {
		int *o = realloc(t->order, t->r->nstacks * sizeof(*o));

		if (!o)
			return;
		t->order = o;
		t->caporder = t->r->nstacks;
	}
	for (size_t i = 0; i < t->r->nstacks; i++)
		if (matches_filter(t, &t->r->stacks[i]))
			t->order[t->norder++] = i;
	sort_ctx = t;
	qsort(t->order, t->norder, sizeof(*t->order), cmp_rows);
	if (t->selected >= t->norder)
		t->selected = t->norder ? t->norder - 1 : 0;
}

/* ---- drawing ------------------------------------------------------------- */

static void draw_sparkline(const struct tui *t)
{
	static const char *const blocks[] = { "\u2581", "\u2582", "\u2583", "\u2584",
					      "\u2585", "\u2586", "\u2587", "\u2588" };
	static const char ascii[] = "_.-=+*#@";
	double lo = INFINITY, hi = -INFINITY;

	for (int i = 0; i < t->nspark; i++) {
		lo = fmin(lo, t->spark[i]);
		hi = fmax(hi, t->spark[i]);
	}
	for (int i = 0; i < t->nspark; i++) {
		int level = hi > lo ? (int)((t->spark[i] - lo) / (hi - lo) * 7.999) : 0;

		if (t->utf8)
			addstr(blocks[level]);
		else
			addch(ascii[level]);
	}
}

static void draw_header(const struct tui *t)
{
	const struct report *r = t->r;
	char b[32], py[256];
	int h = (int)t->attached_s / 3600, m = (int)t->attached_s / 60 % 60;
	int s = (int)t->attached_s % 60;

	attron(A_BOLD);
	if (r->multi)
		mvprintw(0, 0, "leakscope top - %zu processes (top: %d %s)", r->nprocs,
			 r->nprocs ? r->procs[0].pid : 0, r->nprocs ? r->procs[0].comm : "-");
	else
		mvprintw(0, 0, "leakscope top - pid %d (%s)", r->pid, r->comm);
	attroff(A_BOLD);
	if (!r->multi) {
		char svc[200];

		report__service(&r->labels, svc, sizeof(svc));
		if (svc[0])
			printw("   %s", svc);
	}
	printw("   attached %02d:%02d:%02d   every %d s%s", h, m, s, t->interval_s,
	       t->paused ? "   [PAUSED]" : "");
	report_text__python(py, sizeof(py), r);
	if (py[0])
		printw("   %s", py);
	report_text__bytes(b, sizeof(b), r->totals.outstanding_bytes);
	mvprintw(1, 0, "outstanding %s in %lld blocks  ", b,
		 (long long)r->totals.outstanding_allocs);
	draw_sparkline(t);
	report_text__bytes(b, sizeof(b), (double)r->totals.kernel_mem_bytes);
	mvprintw(2, 0, "allocs/s %.0f   frees/s %.0f   kernel %s   dropped %llu%s   ",
		 t->allocs_per_s, t->frees_per_s, b, (unsigned long long)r->totals.dropped,
		 r->totals.dropped ? " (numbers are a lower bound)" : "");
	if (t->sample_period)
		printw("sampling 1 per %.0f bytes (estimates)", t->sample_period);
	else
		printw("every allocation traced");
	mvprintw(3, 0, "%zu stacks   sort: %s   filter: %s", r->nstacks_total,
		 sort_names[t->sort], t->filter[0] ? t->filter : "(none)");
}

static void draw_row(const struct tui *t, int y, int idx, bool selected)
{
	const struct report_stack *s = &t->r->stacks[idx];
	const struct frame *f = site__frame(s);
	char b[32], g[32], where[512];

	report_text__bytes(b, sizeof(b), s->bytes);
	report_text__bytes(g, sizeof(g), s->growth_bytes_per_s);
	char who[64] = "";

	if (s->comm)	/* several processes: which one */
		snprintf(who, sizeof(who), "%u %s: ", s->key.tgid, s->comm);
	if (f && f->file)
		snprintf(where, sizeof(where), "%s%s  %s:%d", who, f->function ? f->function : "??",
			 base_name(f->file), f->line);
	else
		snprintf(where, sizeof(where), "%s%s  [%s]", who, f && f->function ? f->function : "??",
			 f && f->module ? base_name(f->module) : "?");
	if (selected)
		attron(A_REVERSE);
	mvprintw(y, 0, "%10s %9lld %10s/s %-8s %8.1f  %s", b, (long long)s->allocs, g,
		 classify__name(s->cls), age_s(t->r, s), where);
	clrtoeol();
	if (selected)
		attroff(A_REVERSE);
}

#define PROC_ROWS 5	/* processes listed above the stacks (several processes) */

/* Several processes: the biggest ones; returns the rows used. */
static int draw_procs(const struct tui *t)
{
	const struct report *r = t->r;
	int n = r->nprocs < PROC_ROWS ? (int)r->nprocs : PROC_ROWS;
	char b[32], g[32];

	attron(A_BOLD | A_UNDERLINE);
	mvprintw(5, 0, "%7s %-16s %10s %9s %12s %-8s", "PID", "COMM", "BYTES", "BLOCKS",
		 "GROWTH", "CLASS");
	attroff(A_BOLD | A_UNDERLINE);
	for (int i = 0; i < n; i++) {
		const struct report_proc *p = &r->procs[i];

		report_text__bytes(b, sizeof(b), p->bytes);
		report_text__bytes(g, sizeof(g), p->growth_bytes_per_s);
		mvprintw(6 + i, 0, "%7d %-16.16s %10s %9lld %10s/s %-8s", p->pid, p->comm, b,
			 (long long)p->allocs, g, classify__name(p->cls));
	}
	return n + 2;
}

static void draw_table(struct tui *t)
{
	int y0 = 5 + (t->r->multi ? draw_procs(t) : 0);
	int rows = LINES - y0 - 2;

	attron(A_BOLD | A_UNDERLINE);
	mvprintw(y0, 0, "%10s %9s %12s %-8s %8s  %s", "BYTES", "BLOCKS", "GROWTH",
		 "CLASS", "AGE s", t->r->multi ? "WHERE (process: first frame of its own)"
		 : "WHERE (first frame outside the allocator)");
	attroff(A_BOLD | A_UNDERLINE);
	if (rows < 1)
		return;
	if (t->selected < t->top_row)
		t->top_row = t->selected;
	if (t->selected >= t->top_row + rows)
		t->top_row = t->selected - rows + 1;
	for (int i = 0; i < rows && t->top_row + i < t->norder; i++)
		draw_row(t, y0 + 1 + i, t->order[t->top_row + i], t->top_row + i == t->selected);
}

static void draw_detail(const struct tui *t)
{
	const struct report_stack *s = &t->r->stacks[t->order[t->selected]];
	char b[32];

	report_text__bytes(b, sizeof(b), s->bytes);
	attron(A_BOLD);
	mvprintw(5, 0, "stack: %s in %lld blocks, %s, %.1f s  (any key: back)", b,
		 (long long)s->allocs, classify__name(s->cls), age_s(t->r, s));
	attroff(A_BOLD);
	for (int i = 0; i < s->nframes && 6 + i < LINES - 1; i++) {
		const struct frame *f = &s->frames[i];

		mvprintw(6 + i, 0, "#%-2d %s%s  %s:%d  [%s]", i,
			 f->function ? f->function : "??", f->inlined ? " (inlined)" : "",
			 f->file ? f->file : "?", f->line, f->module ? base_name(f->module) : "?");
	}
}

static void draw_footer(const struct tui *t)
{
	if (t->prompting)
		mvprintw(LINES - 1, 0, "filter (function or file, Enter to apply, Esc to cancel): %s",
			 t->input);
	else
		mvprintw(LINES - 1, 0, "q quit  b c g a sort  < > column  Enter stack  / filter"
			 "  p pause  + - interval");
}

void tui__draw(struct tui *t)
{
	erase();
	if (t->r) {
		draw_header(t);
		if (t->detail && t->norder)
			draw_detail(t);
		else
			draw_table(t);
	} else {
		mvprintw(0, 0, "leakscope top: waiting for the first report...");
	}
	draw_footer(t);
	wnoutrefresh(stdscr);
	doupdate();
}

/* ---- state updates -------------------------------------------------------- */

void tui__update(struct tui *t, const struct report *r, double attached_s,
		 int interval_s)
{
	double dt = attached_s - t->prev_t;

	if (t->r && dt > 0) {
		t->allocs_per_s = (r->totals.allocs - t->prev_allocs) / dt;
		t->frees_per_s = (r->totals.frees - t->prev_frees) / dt;
	}
	t->prev_allocs = r->totals.allocs;
	t->prev_frees = r->totals.frees;
	t->prev_t = attached_s;
	if (t->nspark == SPARK_LEN)
		memmove(t->spark, t->spark + 1, (SPARK_LEN - 1) * sizeof(t->spark[0]));
	else
		t->nspark++;
	t->spark[t->nspark - 1] = r->totals.outstanding_bytes;
	t->r = r;
	t->attached_s = attached_s;
	t->interval_s = interval_s;
	build_order(t);
	tui__draw(t);
}

bool tui__paused(const struct tui *t)
{
	return t->paused;
}

static enum tui_result prompt_key(struct tui *t, int c)
{
	size_t n = strlen(t->input);

	if (c == 27) {				/* Esc */
		t->prompting = false;
	} else if (c == '\n' || c == KEY_ENTER) {
		snprintf(t->filter, sizeof(t->filter), "%s", t->input);
		t->prompting = false;
		t->selected = t->top_row = 0;
		build_order(t);
	} else if ((c == KEY_BACKSPACE || c == 127 || c == 8) && n) {
		t->input[n - 1] = '\0';
	} else if (c >= 32 && c < 127 && n + 1 < sizeof(t->input)) {
		t->input[n] = c;
		t->input[n + 1] = '\0';
	}
	return TUI_REDRAW;
}

static enum tui_result key(struct tui *t, int c, int *interval_s)
{
	if (t->prompting)
		return prompt_key(t, c);
	if (t->detail && c != KEY_RESIZE && c != 'q') {
		t->detail = false;
		return TUI_REDRAW;
	}
	switch (c) {
	case 'q': case 'Q':
		return TUI_QUIT;
	case 'b': t->sort = SORT_BYTES; break;
	case 'c': t->sort = SORT_COUNT; break;
	case 'g': t->sort = SORT_GROWTH; break;
	case 'a': t->sort = SORT_AGE; break;
	case '<': t->sort = (t->sort + SORT__COUNT - 1) % SORT__COUNT; break;
	case '>': t->sort = (t->sort + 1) % SORT__COUNT; break;
	case 'p': case ' ':
		t->paused = !t->paused;
		return TUI_REDRAW;
	case '+': case '=':
		*interval_s = *interval_s < 3600 ? *interval_s + 1 : 3600;
		t->interval_s = *interval_s;
		return TUI_INTERVAL;
	case '-':
		*interval_s = *interval_s > 1 ? *interval_s - 1 : 1;
		t->interval_s = *interval_s;
		return TUI_INTERVAL;
	case '/':
		t->prompting = true;
		snprintf(t->input, sizeof(t->input), "%s", t->filter);
		return TUI_REDRAW;
	case '\n': case KEY_ENTER:
		t->detail = t->norder > 0;
		return TUI_REDRAW;
	case KEY_UP: case 'k':
		if (t->selected > 0)
			t->selected--;
		return TUI_REDRAW;
	case KEY_DOWN: case 'j':
		if (t->selected + 1 < t->norder)
			t->selected++;
		return TUI_REDRAW;
	case KEY_RESIZE:
		return TUI_REDRAW;
	default:
		return TUI_HANDLED;
	}
	t->selected = t->top_row = 0;	/* a new sort starts at the top */
	build_order(t);
	return TUI_REDRAW;
}

enum tui_result tui__handle_keys(struct tui *t, int *interval_s)
{
	enum tui_result res = TUI_HANDLED;
	int c;

	while ((c = getch()) != ERR) {
		enum tui_result k = key(t, c, interval_s);

		if (k == TUI_QUIT)
			return k;
		if (k > res)
			res = k;
	}
	if (res != TUI_HANDLED)
		tui__draw(t);
	return res;
}

struct tui *tui__new(double sample_period)
{
	struct tui *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->sample_period = sample_period;
	setlocale(LC_ALL, "");
	t->utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8");
	initscr();
	cbreak();
	noecho();
	nodelay(stdscr, TRUE);
	keypad(stdscr, TRUE);
	curs_set(0);
	set_escdelay(25);
	tui__draw(t);
	return t;
}

void tui__free(struct tui *t)
{
	if (!t)
		return;
	endwin();
	free(t->order);
	free(t);
}
