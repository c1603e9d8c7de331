/* prober.c - the settings every probe shares, applied to each request
 * (see prober.h); attach.c plans the sites and attaches them.
 */
#include <errno.h>
#include <stdlib.h>

#include "probe/attach.h"
#include "probe/prober.h"
#include "procs/target.h"
#include "util/log.h"

struct prober {
	struct trace *t;
	struct prober_settings s;
};

struct prober *prober__new(struct trace *t, const struct prober_settings *s)
{
	struct prober *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->t = t;
	p->s = *s;
	return p;
}

void prober__free(struct prober *p)
{
	free(p);
}

/* What to plan for libs (NULL: nothing but py's pymalloc). */
static void opts_for(const struct prober *p, const struct target_libs *libs,
		     const struct cpython_elf *py, struct attach_opts *ao)
{
	if (libs)
		attach__opts_for(libs, ao);
	else
		*ao = (struct attach_opts){ 0 };
	ao->entry_only_sites = !p->s.placement;
	ao->mmap_wrappers = p->s.mmap_wrappers;
	if (py) {
		ao->pymalloc_path = py->path;
		ao->pymalloc_name = py->name;
	}
}

static struct attachment *plan_and_attach(struct prober *p, const struct attach_opts *ao,
					  pid_t pid)
{
	struct probe_plan plan;

	if (attach__plan(ao, &plan))
		return NULL;
	plan.multi_links = p->s.multi_links;
	if (log__verbosity() && pid > 0)
		attach__print_plan(stderr, &plan);
	return attach__probes(p->t, &plan, pid, p->s.empty);
}

struct attachment *prober__libs(struct prober *p, const struct target_libs *libs,
				pid_t pid)
{
	struct attach_opts ao;

	opts_for(p, libs, NULL, &ao);
	return plan_and_attach(p, &ao, pid);
}

struct attachment *prober__pymalloc(struct prober *p, const struct cpython_elf *py,
				    pid_t pid)
{
	struct attach_opts ao;

	opts_for(p, NULL, py, &ao);
	return plan_and_attach(p, &ao, pid);
}

struct attachment *prober__tracepoints(struct prober *p)
{
	return p->s.empty ? attach__nothing() : attach__tracepoints(p->t);
}

int prober__plan(struct prober *p, const struct target_libs *libs,
		 const struct cpython_elf *py, const char *title, FILE *out)
{
	struct attach_opts ao;
	struct probe_plan plan;

	opts_for(p, libs, py, &ao);
	if (attach__plan(&ao, &plan))
		return -EINVAL;
	if (title)
		fprintf(out, "%s\n", title);
	fprintf(out, "allocator: %s (%s%s%s)\n", target__kind_name(libs->kind),
		libs->alloc_name, libs->prefix[0] ? ", prefix " : "", libs->prefix);
	attach__print_plan(out, &plan);
	return 0;
}
