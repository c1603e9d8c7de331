/* kernel_features.c - probes of what the running kernel offers (see kernel_features.h).
 * Each probe asks the kernel itself: a map created, a helper accepted by
 * the verifier, a program loaded, a tracepoint or a BTF field present. */
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "trace/kernel_features.h"
#include "probe/umulti.h"

static const struct {
	const char *name;
	const char *serves;
	bool required;
} feature_info[FEAT__COUNT] = {
	[FEAT_RINGBUF] = { "ring buffer map", "events from BPF", true },
	[FEAT_TASK_STORAGE] = { "task storage map", "each thread's allocator call", true },
	[FEAT_BPF_LOOP] = { "bpf_loop()", "stack walks", true },
	[FEAT_UPROBE] = { "uprobes", "allocator probes", true },
	[FEAT_TP_SYSCALLS] = { "syscalls:* tracepoints", "mmap/munmap/mremap", true },
	[FEAT_TP_SCHED] = { "sched:* tracepoints", "exec and exit", true },
	[FEAT_UPROBE_MULTI] = { "uprobe-multi links",
				"one link per file (else a perf event per site)", false },
	[FEAT_FIND_VMA] = { "bpf_find_vma()", "DWARF walk through code mapped late", false },
	[FEAT_PRIV_STACK] = { "private BPF stack",
			      "none needed: every call chain fits 512 bytes", false },
	[FEAT_CORE_FSBASE] = { "task thread.fsbase", "Python 3.8-3.10 threads", false },
	[FEAT_CORE_URETPROBE] = { "utask->return_instances",
				  "frames behind a uretprobe's trampoline", false },
	[FEAT_TP_KMEM] = { "kmem:* tracepoints", "--kernel", false },
	[FEAT_JIT] = { "BPF JIT", "speed (interpreted programs are slower)", false },
};

static bool map_type_ok(enum bpf_map_type t)
{
	return libbpf_probe_bpf_map_type(t, NULL) > 0;
}

static bool helper_ok(enum bpf_func_id id)
{
	return libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE, id, NULL) > 0;
}

static bool tracefs_has(const char *event)
{
	char path[160];

	snprintf(path, sizeof(path), "/sys/kernel/tracing/events/%s", event);
	if (!access(path, F_OK))
		return true;
	snprintf(path, sizeof(path), "/sys/kernel/debug/tracing/events/%s", event);
	return !access(path, F_OK);
}

#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), \
						.off = (o), .imm = (i) })

/* A uprobe-type program whose two frames (256 + 320 bytes) exceed the
 * 512 bytes a call chain may use on one stack: only a kernel that gives
 * such programs a private stack (each frame checked alone) loads it. */
static bool private_stack_ok(void)
{
	const struct bpf_insn insns[] = {
		INSN(BPF_ST | BPF_MEM | BPF_DW, BPF_REG_10, 0, -256, 0),
		INSN(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 2),	/* to sub */
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0),
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
		/* sub: */
		INSN(BPF_ST | BPF_MEM | BPF_DW, BPF_REG_10, 0, -320, 0),
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0),
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_KPROBE, NULL, "GPL", insns,
			       sizeof(insns) / sizeof(insns[0]), NULL);

	if (fd >= 0)
		close(fd);
	return fd >= 0;
}

/* A member of a kernel struct, by the kernel's own BTF. */
static bool btf_member(const struct btf *btf, const char *type, const char *member)
{
	int id = btf ? btf__find_by_name_kind(btf, type, BTF_KIND_STRUCT) : -1;
	const struct btf_type *t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	const struct btf_member *m;

	if (!t)
		return false;
	m = btf_members(t);
	for (int i = 0; i < btf_vlen(t); i++, m++)
		if (!strcmp(btf__name_by_offset(btf, m->name_off), member))
			return true;
	return false;
}

static bool jit_on(void)
{
	FILE *f = fopen("/proc/sys/net/core/bpf_jit_enable", "re");
	int v = 0;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v > 0;
}

void features__probe(struct features *f, bool all)
{
	struct btf *btf;
	struct utsname u;

	memset(f, 0, sizeof(*f));
	if (!uname(&u))
		snprintf(f->kernel, sizeof(f->kernel), "%s", u.release);
	f->has[FEAT_RINGBUF] = map_type_ok(BPF_MAP_TYPE_RINGBUF);
	f->has[FEAT_TASK_STORAGE] = map_type_ok(BPF_MAP_TYPE_TASK_STORAGE);
	f->has[FEAT_BPF_LOOP] = helper_ok(BPF_FUNC_loop);
	f->has[FEAT_FIND_VMA] = helper_ok(BPF_FUNC_find_vma);
	f->has[FEAT_UPROBE] = !access("/sys/bus/event_source/devices/uprobe/type", R_OK);
	f->has[FEAT_TP_SYSCALLS] = tracefs_has("syscalls/sys_enter_mmap") &&
				   tracefs_has("syscalls/sys_exit_mremap");
	f->has[FEAT_TP_SCHED] = tracefs_has("sched/sched_process_exec") &&
				tracefs_has("sched/sched_process_exit");
	f->has[FEAT_TP_KMEM] = tracefs_has("kmem/kmalloc") && tracefs_has("kmem/kfree");
	f->has[FEAT_UPROBE_MULTI] = umulti__supported();
	if (!all)	/* what only informs: not at every start (BTF is ~5 MB) */
		return;
	btf = btf__load_vmlinux_btf();
	f->has[FEAT_PRIV_STACK] = private_stack_ok();
	f->has[FEAT_CORE_FSBASE] = btf_member(btf, "thread_struct", "fsbase");
	f->has[FEAT_CORE_URETPROBE] = btf_member(btf, "uprobe_task", "return_instances") &&
				      btf_member(btf, "return_instance", "orig_ret_vaddr");
	f->has[FEAT_JIT] = jit_on();
	btf__free(btf);
}

const char *features__missing(const struct features *f)
{
	for (int i = 0; i < FEAT__COUNT; i++)
		if (feature_info[i].required && !f->has[i])
			return feature_info[i].name;
	return NULL;
}

void features__print(const struct features *f, FILE *out)
{
	fprintf(out, "kernel %s:\n", f->kernel);
	for (int i = 0; i < FEAT__COUNT; i++)
		fprintf(out, "  %-3s %-26s %s%s\n", f->has[i] ? "yes" : "no", feature_info[i].name,
			feature_info[i].serves, feature_info[i].required ? " (required)" : "");
}
