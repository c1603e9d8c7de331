/* pyproc.c - the Python side of a traced process (see pyproc.h). */
#include <stdio.h>
#include <stdlib.h>

#include <bpf/libbpf.h>

#include "leakscope.h"
#include "probe/attach.h"
#include "probe/keeper.h"
#include "probe/prober.h"
#include "python/pygc.h"
#include "python/pyproc.h"
#include "python/pysym.h"
#include "python/python.h"
#include "symbols/elfsym.h"
#include "trace/trace.h"
#include "util/log.h"

static void say_python(const struct pyproc *pp, const struct pyproc_env *env, pid_t pid,
		       const char *comm)
{
	const struct py_target *py = pp->py;
	char ver[32];

	if (!env->several) {
		python__announce(py);
		return;
	}
	python__version_str(py, ver, sizeof(ver));
	if (py->status == PY_SUPPORTED)
		log__error("PID %d (%s): Python %s (%s): Python frames in every stack\n",
			   pid, comm, ver, py->module);
	else
		pyproc__say_unsupported(pp, pid, comm);
}

/* The interpreter's gc__start/gc__done USDT probes, if it has them. */
static void attach_gc(struct pyproc *pp, const struct pyproc_env *env, pid_t pid)
{
	pp->gc = calloc(1, sizeof(*pp->gc));
	if (pp->gc && !pygc__attach(pp->gc, env->trace, pid, pp->py->open_path))
		return;
	free(pp->gc);
	pp->gc = NULL;
	if (!env->several)
		log__error("no gc__start/gc__done USDT probes in %s "
			"(built without --with-dtrace): no GC statistics\n", pp->py->module);
}

/* A held child: held again as the interpreter begins to finalize, to
 * read the code objects finalization frees. */
static void attach_hold(struct pyproc *pp, const struct pyproc_env *env, pid_t pid)
{
	struct bpf_program *prog = trace__prog(env->trace, "python_finalize");
	uint64_t off = 0, size;
	struct elfsym *e;

	if (!prog)		/* refused by this kernel: said at load */
		return;
	/* the function's entry: its symbol's own address, read by elfsym
	 * (pread; libbpf's lookup by name would map the file) */
	e = elfsym__open(pp->py->open_path);
	if (e && !elfsym__func(e, "Py_FinalizeEx", &off, &size))
		pp->hold = bpf_program__attach_uprobe(prog, false, pid, pp->py->open_path, off);
	elfsym__close(e);
	if (pp->hold)
		keeper__hold(bpf_link__fd(pp->hold));
	else
		log__error("no Py_FinalizeEx in %s: leaks made just before "
			"the interpreter exits may show \"??\"\n", pp->py->module);
}

void pyproc__look(struct pyproc *pp, const struct pyproc_env *env, pid_t pid,
		  const char *comm, bool held, bool quiet)
{
	if (pp->py && pp->py->status != PY_NONE)
		return;
	if (!pp->py && !(pp->py = calloc(1, sizeof(*pp->py))))
		return;
	python__detect(pid, pp->py);
	if (pp->py->status == PY_SUPPORTED &&
	    (python__push(trace__map_fd(env->trace, TRACE_MAP_PY_CONFIG), pid, pp->py) ||
	     !(pp->pysym = pysym__new(pid, pp->py))))
		pp->py->status = PY_UNSUPPORTED;
	if (!quiet)
		say_python(pp, env, pid, comm);
	if (pp->py->status != PY_SUPPORTED)
		return;
	attach_gc(pp, env, pid);
	if (held)
		attach_hold(pp, env, pid);
	if (env->pymalloc) {
		struct cpython_elf elf = { .path = pp->py->open_path, .name = pp->py->module };

		pp->pymalloc = prober__pymalloc(env->prober, &elf, pid);
	}
}

bool pyproc__none(const struct pyproc *pp)
{
	return !pp->py || pp->py->status == PY_NONE;
}

bool pyproc__supported(const struct pyproc *pp)
{
	return pp->py && pp->py->status == PY_SUPPORTED;
}

bool pyproc__unsupported(const struct pyproc *pp)
{
	return pp->py && pp->py->status == PY_UNSUPPORTED;
}

static void drop_links(struct pyproc *pp, bool release)
{
	if (pp->hold && release)
		keeper__release(bpf_link__fd(pp->hold));
	bpf_link__destroy(pp->hold);
	pp->hold = NULL;
	if (release)
		attach__release(pp->pymalloc);
	else
		attach__free(pp->pymalloc);
	pp->pymalloc = NULL;
}

void pyproc__drop(struct pyproc *pp, bool release)
{
	if (pp->gc) {
		pygc__detach(pp->gc);
		free(pp->gc);
		pp->gc = NULL;
	}
	drop_links(pp, release);
	pysym__free(pp->pysym);
	pp->pysym = NULL;
	free(pp->py);
	pp->py = NULL;
}

void pyproc__retire(struct pyproc *pp, struct pyproc *old)
{
	if (pp->gc)		/* its probes go now; its numbers stay a while */
		pygc__detach(pp->gc);
	if (old) {
		old->py = pp->py;
		old->pysym = pp->pysym;
		old->gc = pp->gc;
		pp->py = NULL;
		pp->pysym = NULL;
		pp->gc = NULL;
	}
	pyproc__drop(pp, true);
}

void pyproc__gc_event(struct pyproc *pp, const void *ev)
{
	if (pp->gc)
		pygc__event(pp->gc, ev);
}

void pyproc__prefetch(struct pyproc *pp, const struct py_trace *pt)
{
	if (!pp->pysym)
		return;
	for (__u32 i = 0; i < pt->nr && i < MAX_PY_DEPTH; i++)
		pysym__prefetch(pp->pysym, &pt->f[i]);
}

void pyproc__describe(const struct pyproc *pp, pid_t pid, const char *comm,
		      char *buf, size_t len)
{
	char ver[32];

	if (!pyproc__supported(pp)) {
		*buf = 0;
		return;
	}
	python__version_str(pp->py, ver, sizeof(ver));
	snprintf(buf, len, "PID %d (%s, Python %s)", pid, comm, ver);
}

void pyproc__say_unsupported(const struct pyproc *pp, pid_t pid, const char *comm)
{
	if (pyproc__unsupported(pp))
		log__error("PID %d (%s): %s (%s); native stacks only\n",
			pid, comm, pp->py->why, pp->py->module);
}
