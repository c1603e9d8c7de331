/* main.c - leakscope's loader sequence: parse arguments, check the
 * machine, find the target, open/load/attach the BPF programs, run the
 * session, and undo everything in reverse order.  Every failure path
 * goes through `cleanup`, so no probe outlives leakscope.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "attach.h"
#include "cli.h"
#include "keeper.h"
#include "launch.h"
#include "leakscope.h"
#include "leakscope.skel.h"
#include "preflight.h"
#include "sampler.h"
#include "multi.h"
#include "python.h"
#include "serve.h"
#include "session.h"
#include "target.h"
#include "umulti.h"
#include "unwinder.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = 1;
}

static bool verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list args)
{
	if (level == LIBBPF_DEBUG || !verbose)
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

/* --kernel's programs: loaded only when asked, and only for tracepoints
 * this kernel has (vmalloc's are recent). */
static void kernel_autoload(struct leakscope_bpf *skel, bool on)
{
	struct { struct bpf_program *p; const char *event; } kp[] = {
		{ skel->progs.kmem_kmalloc, "kmem/kmalloc" },
		{ skel->progs.kmem_kfree, "kmem/kfree" },
		{ skel->progs.kmem_cache_alloc, "kmem/kmem_cache_alloc" },
		{ skel->progs.kmem_cache_free, "kmem/kmem_cache_free" },
		{ skel->progs.kmem_page_alloc, "kmem/mm_page_alloc" },
		{ skel->progs.kmem_page_free, "kmem/mm_page_free" },
		{ skel->progs.kmem_percpu_alloc, "percpu/percpu_alloc_percpu" },
		{ skel->progs.kmem_percpu_free, "percpu/percpu_free_percpu" },
		{ skel->progs.kmem_vmap_alloc, "vmalloc/alloc_vmap_area" },
		{ skel->progs.kmem_vmap_free, "vmalloc/free_vmap_area_noflush" },
	};
	char path[128];

	for (size_t i = 0; i < sizeof(kp) / sizeof(kp[0]); i++) {
		snprintf(path, sizeof(path), "/sys/kernel/tracing/events/%s", kp[i].event);
		bpf_program__set_autoload(kp[i].p, on && !access(path, F_OK));
	}
}

/* Attaches every loaded kernel program (--kernel). */
static int attach_kernel(struct leakscope_bpf *skel, struct bpf_link **links, int *n)
{
	struct bpf_program *p;

	bpf_object__for_each_program(p, skel->obj) {
		if (strncmp(bpf_program__name(p), "kmem_", 5) || !bpf_program__autoload(p))
			continue;
		links[*n] = bpf_program__attach(p);
		if (!links[*n]) {
			fprintf(stderr, "leakscope: cannot attach %s: %s\n", bpf_program__name(p),
				strerror(errno));
			return -errno;
		}
		(*n)++;
	}
	return 0;
}

/* Uprobe programs loaded for uprobe-multi links (they then cannot go
 * through perf events: the choice is made once, before loading). */
static void for_uprobe_multi(struct leakscope_bpf *skel)
{
	struct bpf_program *p;

	bpf_object__for_each_program(p, skel->obj) {
		const char *sec = bpf_program__section_name(p);

		if (p == skel->progs.python_finalize)
			continue;	/* one site, attached through perf (python_hold) */
		if (!strncmp(sec, "uprobe", 6) || !strncmp(sec, "uretprobe", 9))
			bpf_program__set_expected_attach_type(p, UMULTI_ATTACH_TYPE);
	}
}

static int load_bpf(struct leakscope_bpf **out, const struct options *o, pid_t pid,
		    bool python)
{
	struct leakscope_bpf *skel = leakscope_bpf__open();
	int err;

	if (!skel) {
		fprintf(stderr, "leakscope: cannot open the BPF object: %s\n", strerror(errno));
		return -errno;
	}
	skel->rodata->sample_period = o->sample_bytes;
	skel->rodata->target_tgid = pid;
	skel->rodata->python_enabled = python;
	skel->rodata->trace_all = o->all || o->comm;
	skel->rodata->kernel_enabled = o->kernel;
	skel->rodata->unwind_dwarf = !o->unwind_fp;
	kernel_autoload(skel, o->kernel);
	skel->rodata->self_tgid = getpid();
	if (o->comm)
		strncpy((char *)skel->rodata->comm_filter, o->comm,
			sizeof(skel->rodata->comm_filter) - 1);
	sampling__init_tables((struct sample_tables *)&skel->rodata->sample_tab);
	if (o->uprobe_multi)
		for_uprobe_multi(skel);
	bpf_map__set_max_entries(skel->maps.allocs, o->max_allocs);
	bpf_map__set_max_entries(skel->maps.stacks, o->max_stacks);
	/* aggregates: a stack's per process (and lead pc), and each process's
	 * lost-stack aggregate even when the stack map is full (its bytes
	 * stay counted): room beyond --max-stacks, used only if needed */
	bpf_map__set_max_entries(skel->maps.stack_aggs, o->max_stacks + o->max_stacks / 4 + 4096);
	bpf_map__set_max_entries(skel->maps.py_stacks, o->max_stacks);
	if (!python)
		bpf_map__set_max_entries(skel->maps.py_code_seen, 1);
	bpf_map__set_max_entries(skel->maps.unwind_rows, o->unwind_fp ? 1 : o->unwind_rows);
	if (o->unwind_fp)
		bpf_map__set_max_entries(skel->maps.unwind_procs, 1);
	err = leakscope_bpf__load(skel);
	if (err) {
		fprintf(stderr, "leakscope: the kernel refused the BPF programs: %s%s\n",
			strerror(-err), o->verbose ? "" : " (run with -v for the verifier log)");
		leakscope_bpf__destroy(skel);
		return err;
	}
	*out = skel;
	return 0;
}

/* The DWARF unwind tables (not with --unwind fp). */
static struct unwinder *make_unwinder(struct leakscope_bpf *skel, const struct options *o)
{
	struct unwinder_maps maps = {
		.rows_fd = bpf_map__fd(skel->maps.unwind_rows),
		.bins_fd = bpf_map__fd(skel->maps.unwind_bins),
		.procs_fd = bpf_map__fd(skel->maps.unwind_procs),
		.files_fd = bpf_map__fd(skel->maps.unwind_files),
		.max_rows = o->unwind_rows,
	};

	if (o->unwind_fp)
		return NULL;
	return unwinder__new(&maps);
}

/* The tables of the processes traced from the start: before the probes,
 * so that their first allocations are walked right. */
static void unwind_targets(struct unwinder *u, const pid_t *pids, int n,
			   const struct options *o)
{
	if (!u)
		return;
	for (int i = 0; i < n; i++)
		unwinder__sync(u, pids[i]);	/* one that is gone: its exit ends the trace */
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

static int add_target(struct leakscope_bpf *skel, pid_t pid)
{
	__u32 key = pid;
	__u8 one = 1;

	if (bpf_map_update_elem(bpf_map__fd(skel->maps.targets), &key, &one, BPF_ANY)) {
		fprintf(stderr, "leakscope: cannot register PID %d: %s\n", pid, strerror(errno));
		return -errno;
	}
	return 0;
}

/* The probe plan for the libraries found: what `leakscope probes` prints. */
static int make_plan(const struct target_libs *libs, const struct options *o,
		     const struct py_target *py, struct probe_plan *plan)
{
	struct attach_opts ao;

	attach__opts_for(libs, o->no_placement, &ao);
	ao.mmap_wrappers = o->unwind_fp;

	if (o->pymalloc) {
		if (py->status != PY_SUPPORTED) {
			fprintf(stderr, "leakscope: --pymalloc: %s\n", py->status == PY_NONE
				? "no CPython interpreter in the target"
				: "its Python is not supported (see above)");
			return -ENOENT;
		}
		ao.pymalloc_path = py->open_path;
		ao.pymalloc_name = py->module;
	}

	plan->multi_links = false;
	if (attach__plan(&ao, plan))
		return -EINVAL;
	plan->multi_links = o->uprobe_multi;
	return 0;
}

/* `leakscope probes -v`: the unwind tables the target's binaries give
 * (compiled, not loaded). */
static void print_tables(const struct options *o, pid_t pid)
{
	struct unwinder_maps none = { -1, -1, -1, -1, o->unwind_rows };
	struct unwinder *u = unwinder__new(&none);

	if (!u)
		return;
	if (o->pid)
		unwinder__sync(u, pid);
	else if (o->cmd)
		unwinder__preload_program(u, o->cmd[0]);
	printf("unwind tables:\n");
	unwinder__print_tables(u, stdout);
	unwinder__print_summary(u, stdout);
	unwinder__free(u);
}

/* `leakscope probes`: nothing is loaded, attached or started. */
static int list_probes(const struct options *o)
{
	struct target_libs libs;
	struct probe_plan plan;
	static struct py_target py;
	pid_t pid = getpid();

	if (o->pid) {
		pid = target__check_pid(o->pid);
		if (pid < 0)
			return 1;
	}
	if (o->pid && o->pymalloc)
		python__detect(pid, &py);
	if (target__find_libs(pid, o->pid ? pid : -1, o->obj,
			      o->cmd && strchr(o->cmd[0], '/') ? o->cmd[0] : NULL, &libs) ||
	    make_plan(&libs, o, &py, &plan))
		return 1;
	printf("allocator: %s (%s%s%s)\n", target__kind_name(libs.kind), libs.alloc_name,
	       libs.prefix[0] ? ", prefix " : "", libs.prefix);
	attach__print_plan(stdout, &plan);
	if (o->verbose && !o->unwind_fp)
		print_tables(o, pid);
	return 0;
}

/* Several processes: -p A -p B, --all, --comm NAME. */
static int run_multi(struct options *o, struct session *s)
{
	static struct multi m;
	struct leakscope_bpf *skel = NULL;
	struct bpf_link *klinks[16];
	int rc = 1, nklinks = 0;

	for (int i = 0; i < o->npids; i++)
		if (target__check_pid(o->pids[i]) < 0)
			return 1;
	if (load_bpf(&skel, o, 0, false))
		return 1;
	for (int i = 0; i < o->npids; i++)
		if (add_target(skel, o->pids[i]))
			goto out;
	s->unw = make_unwinder(skel, o);
	if (o->all || o->comm)
		unwinder__sync_all(s->unw, o->comm);
	unwind_targets(s->unw, o->pids, o->npids, o);
	if (o->kernel && attach_kernel(skel, klinks, &nklinks))
		goto out;
	if (stop_requested || ((o->npids || o->all || o->comm) && multi__attach(&m, skel, o)))
		goto out;
	if (stop_requested) {
		fprintf(stderr, "leakscope: interrupted before tracing began; nothing attached\n");
		rc = 130;
		goto out;
	}
	if (!o->npids && !o->all && !o->comm)
		fprintf(stderr, "leakscope: tracing the kernel's allocations (%d tracepoints); %s\n",
			nklinks, o->record ? "the profile is written at the end" : "Ctrl-C to stop");
	else if (o->npids)
		fprintf(stderr, "leakscope: tracing %d processes (%d probe sites)%s; %s\n",
			m.npids, multi__count(&m), o->kernel ? " and the kernel" : "",
			o->record ? "the profile is written at the end" : "Ctrl-C to stop");
	else
		fprintf(stderr, "leakscope: tracing %s%s through %d C librar%s (%d probe sites)%s; %s\n",
			o->comm ? "every process named " : "every process", o->comm ? o->comm : "",
			m.nlibc, m.nlibc == 1 ? "y" : "ies", multi__count(&m),
			o->kernel ? " and the kernel" : "",
			o->record ? "the profile is written at the end" : "Ctrl-C to stop");
	unwind_announce(s->unw, o);
	s->opts = o;
	s->skel = skel;
	s->multi = &m;
	s->pid = 0;
	s->stop = &stop_requested;
	rc = session__run(s);
out:
	multi__detach(&m);
	unwinder__free(s->unw);
	while (nklinks)
		bpf_link__destroy(klinks[--nklinks]);
	if (s->profile && s->profile != stdout)	/* not written: removed */
		outfile__abort(&s->outfile);
	leakscope_bpf__destroy(skel);
	return rc;
}

int main(int argc, char **argv)
{
	struct options o;
	struct leakscope_bpf *skel = NULL;
	struct attachment *attach = NULL;
	struct target_libs libs;
	struct probe_plan plan;
	struct child child = { .pid = -1, .go_fd = -1, .err_fd = -1 };
	struct session s = { 0 };
	static struct py_target py;
	bool python = false;
	pid_t pid;
	int err, rc = 1;

	/* First: a SIGINT inherited as ignored (background jobs) would
	 * otherwise be lost if it came before the handler. */
	install_signals();
	err = cli__parse(argc, argv, &o, stderr);
	if (err)
		return err > 0 ? 0 : 2;
	verbose = o.verbose;
	libbpf_set_print(libbpf_print);
	if (preflight__check())
		return 1;
	o.uprobe_multi = !o.no_uprobe_multi && umulti__supported();
	if (o.list_probes)
		return list_probes(&o);
	/* before any probe: it holds them all, so that they go cleanly even
	 * if leakscope is killed while detaching */
	err = keeper__start();
	if (err)
		fprintf(stderr, "leakscope: cannot start the keeper process (%s): a SIGKILL "
			"while detaching could leave a probe behind\n", strerror(-err));
	/* `record`: a wrong -o must fail now, not after the whole trace */
	if (o.record && o.format == FORMAT_PPROF && !strcmp(o.output, "-") &&
	    isatty(STDOUT_FILENO)) {
		fprintf(stderr, "leakscope: a pprof profile is binary: give -o FILE "
			"(e.g. -o heap.pb.gz), redirect stdout, or --format folded\n");
		return 2;
	}
	if (o.record) {		/* a new file next to -o, renamed into place at the end */
		if (strcmp(o.output, "-") && outfile__open(&s.outfile, o.output))
			return 1;
		s.profile = strcmp(o.output, "-") ? s.outfile.f : stdout;
	}
	/* `serve`: a port in use must fail now too */
	if (o.serve && !(s.serve = serve__new(o.listen, o.web_config)))
		return 1;
	if (cli__multi(&o)) {
		rc = run_multi(&o, &s);
		keeper__finish();
		return rc;
	}

	if (o.cmd) {
		if (launch__prepare(o.cmd, o.obj, &child))
			goto cleanup;
		pid = child.pid;
		/* the child still runs our image: its libc is the one it will map */
		err = target__find_libs(getpid(), pid, o.obj, child.path, &libs);
	} else {
		pid = target__check_pid(o.pid);
		if (pid < 0)
			goto cleanup;
		err = target__find_libs(pid, pid, o.obj, NULL, &libs);
		if (!o.no_python)
			python__detect(pid, &py);
	}
	/* `-- CMD`: the interpreter appears after exec; the session looks */
	python = !o.no_python && (o.cmd || py.status == PY_SUPPORTED);
	if (err || make_plan(&libs, &o, &py, &plan) || load_bpf(&skel, &o, pid, python) ||
	    add_target(skel, pid))
		goto cleanup;
	s.unw = make_unwinder(skel, &o);
	if (s.unw && o.cmd)	/* the command maps these; its tables come as it does */
		unwinder__preload_program(s.unw, child.path);
	unwind_targets(s.unw, &pid, o.cmd ? 0 : 1, &o);
	if (py.status == PY_SUPPORTED &&
	    python__push(bpf_map__fd(skel->maps.py_config), &py))
		py.status = PY_NONE;
	python__announce(&py);
	if (stop_requested)
		goto interrupted;
	if (o.verbose)
		attach__print_plan(stderr, &plan);
	attach = attach__probes(skel, &plan, pid, o.empty_probes);
	if (!attach)
		goto cleanup;
	if (stop_requested)
		goto interrupted;
	if (o.cmd && child.traced) {	/* hold it where it would outrun us */
		skel->bss->hold_tid = child.pid;
		child.holds_sent = (const volatile unsigned long long *)&skel->bss->holds_sent;
	}
	if (o.cmd && launch__go(&child))
		goto cleanup;
	fprintf(stderr, "leakscope: tracing PID %d through %s%s%s (%d probe sites); %s\n",
		pid, libs.kind == ALLOC_LIBC ? "" : target__kind_name(libs.kind),
		libs.kind == ALLOC_LIBC ? "" : " in ", libs.alloc_name, attach__count(attach),
		o.record ? "the profile is written at the end (--duration, Ctrl-C, exit)"
		: o.serve ? "serving until Ctrl-C or SIGTERM" : o.count ? "stops after the last report" : "Ctrl-C to stop");
	unwind_announce(s.unw, &o);

	s.opts = &o;
	s.skel = skel;
	s.attach = &attach;
	s.pid = pid;
	s.alloc_lib = libs.alloc_name;
	s.cxx_lib = libs.has_cxx && !libs.alloc_cxx ? libs.cxx_name : NULL;
	s.child = o.cmd ? &child : NULL;
	s.py = python ? &py : NULL;
	s.stop = &stop_requested;
	rc = session__run(&s);
	child.pid = -1;		/* reaped, or detached and left running */
	goto cleanup;

interrupted:	/* Ctrl-C before tracing began: undo, report nothing */
	fprintf(stderr, "leakscope: interrupted before tracing began; nothing attached\n");
	rc = 130;
cleanup:
	if (s.profile && s.profile != stdout)	/* not written: interrupted early */
		outfile__abort(&s.outfile);
	attach__free(attach);
	unwinder__free(s.unw);
	serve__free(s.serve);
	leakscope_bpf__destroy(skel);
	keeper__finish();	/* our references are closed: the probes go now */
	if (child.pid > 0 && child.go_fd >= 0)
		launch__abort(&child);
	return rc;
}
