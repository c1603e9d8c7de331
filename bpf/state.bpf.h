/* state.bpf.h - settings from the loader, the maps, counters, the target filter
 * and events: what every other unit uses. */
#ifndef LEAKSCOPE_STATE_BPF_H
#define LEAKSCOPE_STATE_BPF_H


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
 * refusal_loss bits, user/refusal.h): an out-of-frame stack read, which
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

/* tgid -> 1 for every traced process. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_TARGETS);
	__type(key, __u32);
	__type(value, __u8);
} targets SEC(".maps");

/* Per-thread in-flight call: task-local storage, so a call costs a
 * pointer lookup instead of a hash insert and delete. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct inflight);
} inflight SEC(".maps");

/* Outstanding blocks and per-stack aggregates.  Not preallocated: kernel
 * memory grows with what the target holds (--max-allocs / --max-stacks
 * are bounds, not what every run pins), entries come from the kernel's
 * per-CPU BPF allocator caches. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DEFAULT_MAX_ALLOCS);	/* resized by the loader */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct alloc_key);
	__type(value, struct alloc_rec);
} allocs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DEFAULT_MAX_STACKS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct stack_key);
	__type(value, struct stack_agg);
} stack_aggs SEC(".maps");

/* Our own stack map: id (a hash of the frames) -> frames.  Unlike
 * BPF_MAP_TYPE_STACK_TRACE, which is direct-mapped and loses a stack on
 * every bucket collision (a quarter of 10k stacks in 16k buckets), it
 * only loses stacks when it is full.  Allocated as stacks appear. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DEFAULT_MAX_STACKS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct stack_trace);
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stack_trace);
} stack_scratch SEC(".maps");

/* Kernel stacks (--kernel) have their own: the kmem tracepoints fire in
 * interrupts too, in the middle of a user stack's capture. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stack_trace);
} kstack_scratch SEC(".maps");

/* Python frames of a stack (same id as in `stacks`), when it has any.
 * Sized 1 by the loader unless the target is Python. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DEFAULT_MAX_STACKS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct py_trace);
} py_stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct py_trace);
} py_scratch SEC(".maps");

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

/* Code objects (address -> token) a hold has let user space read.  Grows
 * with use (sized 1 by the loader unless the target may run Python); when
 * full, every new stack holds (names first, speed second). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, __u64);
} py_code_seen SEC(".maps");

/* Each Python process's interpreter layout, by tgid (pushed by user
 * space when it finds one; a process without an entry runs no Python
 * leakscope can read).  Grows with use. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_PY_PROCS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct py_offsets);
} py_config SEC(".maps");

/* Each thread's PyThreadState, found once by searching the interpreter's
 * list, then only checked (its native_thread_id is still this thread). */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} py_threads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_MMAP_REGIONS);
	__type(key, __u32);
	__type(value, struct mmap_region);
} mmap_regions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNT__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

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
