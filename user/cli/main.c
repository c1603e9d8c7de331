/* main.c - leakscope's loader sequence: parse arguments, check the
 * machine, open the output (the sink), find the targets, load the BPF
 * programs (trace.c), build the process table and probe it, run the
 * session, and undo everything in reverse order.  One path for one
 * process, several (-p A -p B), --comm, --all and --kernel.  Every
 * failure path goes through `cleanup`, so no probe outlives leakscope.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "probe/attach.h"
#include "probe/prober.h"
#include "cli/cli.h"
#include "trace/kernel_features.h"
#include "probe/keeper.h"
#include "procs/launch.h"
#include "leakscope.h"
#include "trace/preflight.h"
#include "sink/privs.h"
#include "procs/procs.h"
#include "python/python.h"
#include "trace/refusal.h"
#include "loop/session.h"
#include "sink/sink.h"
#include "procs/syswide.h"
#include "procs/target.h"
#include "trace/trace.h"
#include "unwind/unwinder.h"
#include "util/log.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = 1;
}

/* libbpf's messages: its warnings with -v, its debug lines with -v -v. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list args)
{
	if (log__verbosity() < (level == LIBBPF_DEBUG ? 2 : 1))
		return 0;
	return vfprintf(stderr, fmt, args);
}

static void install_signals(void)
{
	/* SA_RESTART: a report being written into a full pipe when Ctrl-C
	 * comes is finished, not cut (stdio drops what an interrupted write
	 * did not write); the waits (epoll, poll) still wake at once */
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);	/* a closed stdout ends in an error, not a kill */
}

/* The processes named on the command line (-p ..., -- CMD's child), with
 * the allocator each one calls. */
struct targets {
	pid_t pids[MAX_PIDS];
	struct target_libs *libs;	/* one per pid */
	int n;
	struct child child;		/* -- CMD */
	bool python;			/* one of them may run Python */
};

/* -p PID...: each checked, its allocator found, its interpreter seen. */
static int find_pids(const struct options *o, struct targets *tg)
{
	tg->libs = calloc(o->npids ? o->npids : 1, sizeof(*tg->libs));
	if (!tg->libs)
		return -ENOMEM;
	for (int i = 0; i < o->npids; i++) {
		static struct py_target py;
		pid_t pid = target__check_pid(o->pids[i]);

		if (pid < 0 || target__find_libs(pid, pid, o->obj, NULL, &tg->libs[tg->n]))
			return -EINVAL;
		tg->pids[tg->n++] = pid;
		if (!o->no_python && !tg->python) {
			python__detect(pid, &py);
			tg->python = py.status != PY_NONE;
		}
	}
	return 0;
}

/* -- CMD: forked, waiting to exec; its allocator found in our image (the
 * child still runs it: its libc is the one it will map). */
static int find_child(const struct options *o, struct targets *tg)
{
	tg->libs = calloc(1, sizeof(*tg->libs));
	if (!tg->libs || launch__prepare(o->cmd, o->obj, &tg->child))
		return -EINVAL;
	tg->pids[tg->n] = tg->child.pid;
	if (target__find_libs(getpid(), tg->child.pid, o->obj, tg->child.path, &tg->libs[0]))
		return -EINVAL;
	tg->n = 1;
	tg->python = !o->no_python;	/* it may exec one: the session looks */
	return 0;
}

/* LEAKSCOPE_TEST_REFUSE=python,dwarf,kernel,vmalloc: the test suite has these
 * features' BPF code refused, as an older kernel's verifier may. */
static unsigned refuse_for_test(void)
{
	const char *e = getenv("LEAKSCOPE_TEST_REFUSE");

	if (!e)
		return 0;
	return (strstr(e, "python") ? LOSS_PYTHON : 0) | (strstr(e, "dwarf") ? LOSS_DWARF : 0) |
	       (strstr(e, "kernel") ? LOSS_KERNEL : 0) | (strstr(e, "vmalloc") ? REFUSAL_TEST_VMALLOC : 0);
}

/* What the kernel refused is what the rest of the trace goes without. */
static int adopt_losses(struct options *o, struct targets *tg, unsigned lost)
{
	if (lost & LOSS_DWARF)
		o->unwind_fp = true;
	if (lost & LOSS_PYTHON) {
		o->no_python = true;
		tg->python = false;
		if (o->python_only) {
			log__error("--python-only needs the Python frame walk "
				"this kernel refused\n");
			return -ENOTSUP;
		}
	}
	if ((lost & LOSS_KERNEL) && o->kernel) {
		o->kernel = false;
		if (!tg->n && !o->all && !o->comm) {
			log__error("nothing left to trace without --kernel\n");
			return -ENOTSUP;
		}
	}
	return 0;
}

static struct trace *load(struct options *o, struct targets *tg)
{
	struct trace_config c = {
		.sample_bytes = o->sample_bytes,
		.only_tgid = tg->n == 1 && !o->kernel ? tg->pids[0] : 0,
		.trace_all = o->all || o->comm,
		.comm = o->comm,
		.kernel = o->kernel,
		.unwind_fp = o->unwind_fp,
		.python = tg->python || ((o->all || o->comm) && !o->no_python),
		.python_holds = o->cmd && !o->no_python,
		.uprobe_multi = o->uprobe_multi,
		.max_allocs = o->max_allocs,
		.max_stacks = o->max_stacks,
		.unwind_rows = o->unwind_rows,
		.refuse_for_test = refuse_for_test(),
	};
	struct trace *t = trace__open(&c);

	if (t && adopt_losses(o, tg, trace__lost(t))) {
		trace__free(t);
		return NULL;
	}
	return t;
}

/* The DWARF unwind tables (not with --unwind fp). */
static struct unwinder *make_unwinder(struct trace *t, const struct options *o)
{
	struct unwinder_maps maps = {
		.rows_fd = trace__map_fd(t, TRACE_MAP_UNWIND_ROWS),
		.bins_fd = trace__map_fd(t, TRACE_MAP_UNWIND_BINS),
		.procs_fd = trace__map_fd(t, TRACE_MAP_UNWIND_PROCS),
		.files_fd = trace__map_fd(t, TRACE_MAP_UNWIND_FILES),
		.max_rows = o->unwind_rows,
	};

	if (o->unwind_fp)
		return NULL;
	return unwinder__new(&maps);
}

/* The one prober (t: NULL for `leakscope probes`, which only plans);
 * after load(): what the kernel refused may have turned --unwind fp on. */
static struct prober *make_prober(struct trace *t, const struct options *o)
{
	struct prober_settings s = {
		.placement = !o->no_placement,
		.multi_links = o->uprobe_multi,
		.empty = o->empty_probes,
		.mmap_wrappers = o->unwind_fp,
	};

	return prober__new(t, &s);
}

static struct procs *make_procs(struct trace *t, struct unwinder *u, struct prober *pr,
				const struct options *o, const struct targets *tg)
{
	struct procs_config c = {
		.trace = t,
		.prober = pr,
		.unw = u,
		.python = !o->no_python,
		.pymalloc = o->pymalloc,
		.several = cli__multi(o),
		.python_hint_only = o->all,
	};

	return procs__new(&c);
}

/* --pymalloc for a process named with -p: it must run a CPython we read. */
static int check_pymalloc(const struct options *o, const struct proc *pr, pid_t pid)
{
	const struct py_target *py = procs__python(pr);

	if (!o->pymalloc || o->cmd || (py && py->status == PY_SUPPORTED))
		return 0;
	log__error("--pymalloc: %s (PID %d)\n",
		!py || py->status == PY_NONE ? "no CPython interpreter in the target"
		: "its Python is not supported (see above)", pid);
	return -ENOENT;
}

/* The named targets: selected in BPF, tables written (before the probes:
 * their first allocations are walked right), interpreters found,
 * allocators probed. */
static int add_targets(struct trace *t, struct procs *p, struct unwinder *u,
		       const struct options *o, struct targets *tg)
{
	for (int i = 0; i < tg->n; i++) {
		pid_t pid = tg->pids[i];
		struct proc *pr = procs__add(p, pid, !o->cmd);

		if (!pr || trace__add_target(t, pid))
			return -EINVAL;
		if (u && o->cmd)	/* the command maps these; its tables come as it does */
			unwinder__preload_program(u, tg->child.path);
		else if (u)
			unwinder__sync(u, pid);	/* one that is gone: its exit ends the trace */
		procs__look_python(p, pr);
		if (check_pymalloc(o, pr, pid) || stop_requested ||
		    procs__probe(p, pr, &tg->libs[i]))
			return -EINVAL;
		if (o->cmd && tg->child.traced) {	/* hold it where it would outrun us */
			trace__hold(t, pid, &tg->child.holds_sent);
			procs__set_held(p, pr);
		}
	}
	return 0;
}

static const char *until(const struct options *o)
{
	switch (o->command) {
	case CMD_RECORD: return "the profile is written at the end (--duration, Ctrl-C, exit)";
	case CMD_SERVE: return "serving until Ctrl-C or SIGTERM";
	default: return o->count ? "stops after the last report" : "Ctrl-C to stop";
	}
}

static void say_tracing(const struct options *o, const struct targets *tg,
			const struct procs *p, const struct syswide *sw, int nklinks)
{
	const struct target_libs *l = &tg->libs[0];

	if (tg->n == 1 && !o->kernel)
		log__error("tracing PID %d through %s%s%s (%d probe sites); %s\n",
			tg->pids[0], l->kind == ALLOC_LIBC ? "" : target__kind_name(l->kind),
			l->kind == ALLOC_LIBC ? "" : " in ", l->alloc_name,
			procs__count_sites(p), until(o));
	else if (tg->n)
		log__error("tracing %d processes (%d probe sites)%s; %s\n",
			tg->n, procs__count_sites(p), o->kernel ? " and the kernel" : "", until(o));
	else if (sw)
		log__error("tracing %s%s through %d C librar%s (%d probe sites)%s; %s\n",
			o->comm ? "every process named " : "every process", o->comm ? o->comm : "",
			sw->nlibc, sw->nlibc == 1 ? "y" : "ies", syswide__count(sw),
			o->kernel ? " and the kernel" : "", until(o));
	else
		log__error("tracing the kernel's allocations (%d tracepoints); %s\n",
			nklinks, until(o));
}

/* After the "tracing" line (the first line a caller waits for). */
static void unwind_announce(struct unwinder *u, const struct options *o)
{
	if (!u)
		return;
	unwinder__print_summary(u, stderr);
	if (o->verbose)
		unwinder__print_tables(u, stderr);
}

static int trace_and_report(struct options *o, struct sink *sink)
{
	static struct targets tg;
	static struct syswide sw;
	struct trace *t = NULL;
	struct unwinder *u = NULL;
	struct procs *p = NULL;
	struct prober *pr = NULL;
	struct attachment *shared = NULL;	/* the tracepoints of every process */
	struct session s = { 0 };
	bool system_wide = o->all || o->comm, started = false;
	int nklinks = 0, rc = 1;

	tg.child = (struct child){ .pid = -1, .go_fd = -1, .err_fd = -1 };
	if ((o->cmd ? find_child(o, &tg) : find_pids(o, &tg)) || !(t = load(o, &tg)))
		goto cleanup;
	u = make_unwinder(t, o);
	if (!(pr = make_prober(t, o)) || !(p = make_procs(t, u, pr, o, &tg)))
		goto cleanup;
	if (u && system_wide)
		unwinder__sync_all(u, o->comm);
	if (system_wide)
		procs__scan_host(p, o->comm);
	if (o->kernel && (nklinks = trace__attach_kernel(t)) < 0)
		goto cleanup;
	if (stop_requested || add_targets(t, p, u, o, &tg) ||
	    (system_wide && syswide__attach(&sw, pr, o, o->no_python ? NULL : procs__python_mapped,
					    p)))
		goto failed;
	/* mmap/munmap/mremap, exec, exit: once, for every process traced (not
	 * with --kernel alone; none for the benchmark's floor), after the
	 * targets' interpreters are known (an arena mapped before would have
	 * no Python frames) */
	if ((tg.n || system_wide) && !(shared = prober__tracepoints(pr)))
		goto failed;
	if (stop_requested)
		goto interrupted;
	if (o->cmd && launch__go(&tg.child))
		goto cleanup;
	started = true;
	say_tracing(o, &tg, p, system_wide ? &sw : NULL, nklinks);
	if (system_wide)
		procs__say_pythons(p);
	unwind_announce(u, o);
	sink__attach(sink, t);	/* serve: BPF run-time stats on (needs CAP_SYS_ADMIN) */
	/* serve: everything is attached and the port bound; a long-lived
	 * agent that parses HTTP keeps only what tracing needs from here */
	if (o->command == CMD_SERVE) {
		int err = privs__drop_for_serve();

		if (err) {
			log__error("cannot drop privileges: %s; not serving\n",
				strerror(-err));
			goto cleanup;
		}
	}
	s = (struct session){
		.opts = o, .trace = t, .procs = p, .sw = system_wide ? &sw : NULL,
		.child = o->cmd ? &tg.child : NULL, .sink = sink,
		.report_pid = tg.n == 1 && !o->kernel ? tg.pids[0] : 0,
		.python = tg.python || (system_wide && !o->no_python),
		.stop = &stop_requested,
	};
	rc = session__run(&s);
	if (s.report_pid)
		log__error("detaching from PID %d\n", s.report_pid);
	else
		log__error("detaching\n");
	if (o->cmd && tg.child.pid > 0 && !s.child_gone)
		launch__detach(&tg.child);	/* it runs on, untraced */
	tg.child.pid = -1;		/* reaped, or detached and left running */
	goto cleanup;

failed:		/* said why, unless a Ctrl-C cut it short */
	if (!stop_requested)
		goto cleanup;
interrupted:	/* Ctrl-C before tracing began: undo, report nothing */
	log__error("interrupted before tracing began; nothing attached\n");
	rc = 130;
cleanup:
	procs__free(p);		/* every process's probes */
	syswide__detach(&sw);
	attach__free(shared);
	prober__free(pr);
	unwinder__free(u);
	trace__free(t);
	if (!started && tg.child.pid > 0 && tg.child.go_fd >= 0)
		launch__abort(&tg.child);
	free(tg.libs);
	return rc;
}

/* `leakscope probes -v`: the unwind tables a target's binaries give
 * (compiled, not loaded). */
static void print_tables(const struct options *o, pid_t pid)
{
	struct unwinder_maps none = { -1, -1, -1, -1, o->unwind_rows };
	struct unwinder *u = unwinder__new(&none);

	if (!u)
		return;
	if (pid)
		unwinder__sync(u, pid);
	else if (o->cmd)
		unwinder__preload_program(u, o->cmd[0]);
	printf("unwind tables:\n");
	unwinder__print_tables(u, stdout);
	unwinder__print_summary(u, stdout);
	unwinder__free(u);
}

/* The plan of one target's allocator (and --pymalloc's). */
static int print_plan(struct prober *pr, const struct options *o, pid_t pid,
		      const char *cmd_path)
{
	struct target_libs libs;
	static struct py_target py;
	struct cpython_elf pyelf = { 0 };
	char title[32];

	if (target__find_libs(pid ? pid : getpid(), pid ? pid : -1, o->obj, cmd_path, &libs))
		return -EINVAL;
	if (o->pymalloc && pid) {
		python__detect(pid, &py);
		if (py.status != PY_SUPPORTED) {
			log__error("--pymalloc: %s (PID %d)\n", py.status == PY_NONE
				? "no CPython interpreter in the target"
				: "its Python is not supported (see above)", pid);
			return -ENOENT;
		}
		pyelf = (struct cpython_elf){ .path = py.open_path, .name = py.module };
	}
	snprintf(title, sizeof(title), "PID %d:", pid);
	if (prober__plan(pr, &libs, pyelf.path ? &pyelf : NULL, o->npids > 1 ? title : NULL,
			 stdout))
		return -EINVAL;
	if (o->verbose && !o->unwind_fp)
		print_tables(o, pid);
	return 0;
}

/* `leakscope probes`: nothing is loaded, attached or started. */
static int list_probes(const struct options *o)
{
	struct prober *pr;
	int rc = 0;

	if (o->all || o->comm || (o->kernel && !o->npids)) {
		log__error("`probes` shows the plan for -p PID (one or more) "
			"or -- CMD; --all and --comm probe every C library the host's "
			"processes map, as `leakscope --all -v` lists\n");
		return 2;
	}
	if (!(pr = make_prober(NULL, o)))
		return 1;
	for (int i = 0; i < o->npids && !rc; i++) {
		pid_t pid = target__check_pid(o->pids[i]);

		if (pid < 0 || print_plan(pr, o, pid, NULL))
			rc = 1;
	}
	if (!rc && o->cmd && print_plan(pr, o, 0, strchr(o->cmd[0], '/') ? o->cmd[0] : NULL))
		rc = 1;
	prober__free(pr);
	return rc;
}

/* What this kernel offers: listed with -v (and by --version -v, which
 * stops there); a missing requirement stops leakscope, named. */
static int check_kernel(struct options *o)
{
	struct features f;
	const char *missing;

	features__probe(&f, o->verbose || o->version);
	if (o->verbose)
		features__print(&f, o->version ? stdout : stderr);
	if (o->version)
		return 1;
	missing = features__missing(&f);
	if (missing) {
		log__error("this kernel (%s) lacks %s, which leakscope needs; "
			"it runs on Linux 6.1 and newer (README: Supported kernels)\n",
			f.kernel, missing);
		return -ENOTSUP;
	}
	o->uprobe_multi = !o->no_uprobe_multi && f.has[FEAT_UPROBE_MULTI];
	return 0;
}

int main(int argc, char **argv)
{
	struct options o;
	struct sink *sink;
	int err, rc;

	/* First: a SIGINT inherited as ignored (background jobs) would
	 * otherwise be lost if it came before the handler. */
	install_signals();
	err = cli__parse(argc, argv, &o, stderr);
	if (err)
		return err > 0 ? 0 : 2;
	log__set_verbosity(o.verbose);
	libbpf_set_print(libbpf_print);
	if (preflight__check())
		return 1;
	if (check_kernel(&o))
		return o.version ? 0 : 1;
	if (o.command == CMD_PROBES)
		return list_probes(&o);
	/* the output first: a wrong -o or a port in use fails now, not after
	 * the whole trace */
	sink = sink__new(&o);
	if (!sink)
		return o.command == CMD_RECORD && !strcmp(o.output, "-") ? 2 : 1;
	/* before any probe: it holds them all, so that they go cleanly even
	 * if leakscope is killed while detaching */
	err = keeper__start();
	if (err)
		log__error("cannot start the keeper process (%s): a SIGKILL "
			"while detaching could leave a probe behind\n", strerror(-err));
	rc = trace_and_report(&o, sink);
	sink__free(sink);
	keeper__finish();	/* our references are closed: the probes go now */
	return rc;
}
