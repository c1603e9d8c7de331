/* state.bpf.h - settings from the loader, counters, the target filter, the
 * hold of the `-- CMD` child and events: what every other unit uses. */
#ifndef LEAKSCOPE_STATE_BPF_H
#define LEAKSCOPE_STATE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "leakscope.h"
#include "sampling.h"	/* struct sample_tables */
#include "maps.bpf.h"

/* Set by the loader before load.  sample_period 0: record everything.
 * target_tgid: the one traced process (a compare, not a map lookup, on
 * every call); 0 = consult the targets map. */
const volatile __u64 sample_period = 0;
const volatile __u32 target_tgid = 0;
/* --all / --comm: every process but leakscope itself (self_tgid), or
 * those whose command name is comm_filter. */
const volatile bool trace_all = false;
const volatile __u32 self_tgid = 0;
const volatile char comm_filter[16] = {};
/* --kernel: the kmem/percpu/vmalloc tracepoints record kernel memory */
const volatile bool kernel_enabled = false;
const volatile struct sample_tables sample_tab = {};
/* Set by the loader: the target may be Python (py_config is filled in
 * once its interpreter is found, maybe only after exec). */
const volatile bool python_enabled = false;

/* The test suite's way to see a feature's code refused by the verifier,
 * as an older kernel may refuse it (LEAKSCOPE_TEST_REFUSE; enum
 * refusal_loss bits, user/trace/refusal.h): an out-of-frame stack read, which
 * every verifier refuses, on that feature's path.  0: the branch is
 * pruned at load (read-only data are constants to the verifier). */
const volatile __u32 refuse_for_test = 0;
#define REFUSE_PYTHON	1
#define REFUSE_DWARF	2
#define REFUSE_KERNEL	4
#define REFUSE_VMALLOC	32	/* the vmalloc pair alone (past enum refusal_loss) */
static __always_inline void refused_for_test(__u32 feature)
{
	if (refuse_for_test & feature)
		asm volatile("r0 = *(u64 *)(r10 + 8)" ::: "r0");
}

/* `-- CMD`: the ptraced child's main thread (0: hold nobody).  It is held
 * (HOLD_SIGNAL, taken back by leakscope, its tracer) where what leakscope
 * must know would otherwise come too late or be gone: at exec and each
 * new executable mapping (its unwind table and Python's layout are in
 * place before that code runs), at a Python stack with a code object user
 * space has not read (module bodies and code made on the fly are freed
 * within microseconds), as the interpreter begins to finalize.  Set by
 * user space before the child runs; holds_sent counts holds. */
volatile __u32 hold_tid = 0;
__u64 holds_sent = 0;

static __always_inline void count(enum counter c)
{
	__u32 key = c;
	__u64 *v = bpf_map_lookup_elem(&counters, &key);

	if (v)
		(*v)++;
}

static __always_inline __u32 current_tgid(void)
{
	return bpf_get_current_pid_tgid() >> 32;
}

static __always_inline bool comm_matches(void)
{
	struct task_struct *t = bpf_get_current_task_btf();
	char comm[16];

	/* the process's name (its leader's), not a thread's */
	if (bpf_probe_read_kernel_str(comm, sizeof(comm), t->group_leader->comm) < 0)
		return false;
	for (int i = 0; i < 16; i++) {
		if (comm[i] != comm_filter[i])
			return false;
		if (!comm[i])
			break;
	}
	return true;
}

static __always_inline bool is_target(__u32 tgid)
{
	if (target_tgid)
		return tgid == target_tgid;
	if (trace_all)
		return tgid != self_tgid && (!comm_filter[0] || comm_matches());
	return bpf_map_lookup_elem(&targets, &tgid) != NULL;
}

/* The current thread's in-flight state: NULL if it has none (and create
 * is false) or memory ran out (counted).  Only `active` ones are live. */
static __always_inline struct inflight *inflight_of_current(bool create)
{
	struct inflight *cur;

	cur = bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), 0,
				   create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
	if (!cur && create)
		count(CNT_DROP_INFLIGHT_FULL);
	return cur;
}

/* The thread's live in-flight call, or NULL. */
static __always_inline struct inflight *inflight_live(void)
{
	struct inflight *cur = inflight_of_current(false);

	return cur && cur->active ? cur : NULL;
}

/* The current thread is the child leakscope may hold. */
static __always_inline bool holding_current(void)
{
	return hold_tid && bpf_get_current_pid_tgid() == ((__u64)hold_tid << 32 | hold_tid);
}

/* Holds the current thread until user space has taken the HOLD_SIGNAL
 * back: it stops on its way back to user mode. */
static __always_inline void hold_current(void)
{
	__sync_fetch_and_add(&holds_sent, 1);
	bpf_send_signal_thread(HOLD_SIGNAL);
}

static __always_inline void emit(enum event_type type, __u32 tgid)
{
	struct event ev = { .type = type, .tgid = tgid };

	if (bpf_ringbuf_output(&events, &ev, sizeof(ev), 0))
		count(CNT_DROP_EVENTS_LOST);
}

/* The kernel's uretprobe trampoline in this process: while a probed call
 * is live, its return address slot holds this address. */
static __always_inline __u64 uretprobe_trampoline(void)
{
	struct task_struct *task = bpf_get_current_task_btf();

	return BPF_CORE_READ(task, mm, uprobes_state.xol_area, vaddr);
}

#endif
