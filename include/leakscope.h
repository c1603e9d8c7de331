/* leakscope.h - the whole contract between the BPF programs and user space.
 *
 * Everything that crosses the boundary is defined here with fixed-width
 * types; units are in the names (_bytes, _ns).  bpf/leakscope.bpf.c includes
 * it after vmlinux.h, user space after <stdint.h>-based shims below.
 */
#ifndef LEAKSCOPE_H
#define LEAKSCOPE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define MAX_STACK_DEPTH		127	/* PERF_MAX_STACK_DEPTH */
#define DEFAULT_MAX_ALLOCS	(1u << 20)	/* outstanding heap blocks */
#define DEFAULT_MAX_STACKS	65536	/* distinct call stacks */
#define MAX_MMAP_REGIONS	4096	/* outstanding anonymous mmaps */
#define MAX_TARGETS		64

/* The stack id that is not in the stack map. */
#define STACK_ID_LOST		0	/* stack could not be captured */

/* Which allocator entry point a probe sits on. */
enum alloc_fn {
	FN_MALLOC = 0,
	FN_CALLOC,
	FN_REALLOC,
	FN_REALLOCARRAY,
	FN_POSIX_MEMALIGN,
	FN_ALIGNED_ALLOC,	/* also memalign: one address in glibc */
	FN_VALLOC,
	FN_PVALLOC,
	FN_FREE,
	FN_CXX_NEW,		/* operator new / new[] and their variants */
	FN_MMAP,		/* syscall */
	FN_MUNMAP,		/* syscall */
	FN_MREMAP,		/* syscall */
	FN__COUNT,
};

/* The key the aggregation is done by.  `id` is a 64-bit hash of the
 * captured frames, the key of the `stacks` map; a later unwinder may fill
 * it differently without touching anything that aggregates by it.
 * lead_pc, when not 0, is a frame that goes in front of the captured ones:
 * the caller's return address read from [rsp] at a function-entry probe,
 * which frame-pointer walking misses. */
struct stack_key {
	__u32 tgid;
	__u32 pad;
	__u64 id;
	__u64 lead_pc;
};

/* One captured stack, innermost frame first (return addresses). */
struct stack_trace {
	__u32 nr;
	__u8 stop;		/* enum uw_stop: why the DWARF walk ended */
	__u8 fp_first;		/* 1 + index of the first frame found by its frame
				 * pointer (code without a table), 0 = none */
	__u16 pad;
	__u64 ips[MAX_STACK_DEPTH];
};

/* Per-stack aggregate, updated atomically in BPF on every alloc and free. */
struct stack_agg {
	__s64 outstanding_bytes;
	__s64 outstanding_allocs;
	/* set when the stack's count goes 0 -> 1, cleared at 1 -> 0: it has
	 * held memory without a break since then.  For a leaking stack that
	 * is exactly its oldest block; otherwise an upper bound on its age. */
	__u64 held_since_ns;
	__u64 last_alloc_ns;	/* newest block: all blocks are at least this old */
	/* every block allocated since attach, freed or not (pprof's alloc_*):
	 * exact; when sampling, estimates sum(size/p) and sum(1/p) in Q16 */
	__u64 alloc_bytes;
	__u64 alloc_count;
};

/* One outstanding heap block, keyed by (tgid, address). */
struct alloc_key {
	__u32 tgid;
	__u32 pad;
	__u64 addr;
};

struct alloc_rec {
	__u64 size_bytes;
	__u64 ts_ns;		/* bpf_ktime_get_ns() at allocation */
	struct stack_key stack;
};

/* One outstanding anonymous mmap region (slot in an array; tgid 0 = free). */
struct mmap_region {
	__u32 tgid;
	__u32 pad;
	__u64 start;
	__u64 len_bytes;
	__u64 ts_ns;
	struct stack_key stack;
};

/* Global counters, a per-CPU array indexed by this enum. */
enum counter {
	CNT_ALLOCS = 0,		/* successful allocations recorded */
	CNT_FREES,		/* frees that matched a recorded block */
	CNT_UNTRACKED_FREES,	/* frees of blocks allocated before attach */
	CNT_FAILED_ALLOCS,	/* NULL / MAP_FAILED returns, not recorded */
	CNT_NESTED_CALLS,	/* allocator calls made inside another one */
	CNT_DROP_ALLOC_MAP_FULL,
	CNT_DROP_STACK_LOST,	/* the stack map (--max-stacks) is full */
	CNT_DROP_STACK_AGG_FULL,
	CNT_DROP_INFLIGHT_FULL,	/* no memory for a thread's in-flight state */
	CNT_DROP_MMAP_TABLE_FULL,
	CNT_DROP_EVENTS_LOST,	/* ring buffer full */
	CNT_DROP_MISSED_RETURN,	/* a call unwound (exception, longjmp) past its return probe */
	CNT_DROP_UNREADABLE,	/* posix_memalign's result could not be read */
	CNT_DROP_STACK_EMPTY,	/* not one user frame could be read */
	CNT_DROP_STACK_PREEMPTED, /* another task took this CPU's scratch space
				   * mid-capture (preemptible kernels) */
	/* Stacks cut short (their bytes are counted, on a shorter stack),
	 * by why the walk ended: CNT_UNWIND_STOP_BASE + enum uw_stop. */
	CNT_UNWIND_NO_TABLE,	/* code with no table and no frame pointer */
	CNT_UNWIND_NO_ROW,	/* a binary's table has no row for the address */
	CNT_UNWIND_STOP_ROW,	/* a CFI rule the BPF walk cannot follow */
	CNT_UNWIND_UNREADABLE,	/* stack memory could not be read */
	CNT_UNWIND_DEPTH,	/* deeper than MAX_STACK_DEPTH frames */
	CNT_UNWIND_BAD_FRAME,	/* the CFA did not move up the stack */
	CNT_UNWIND_FP_FALLBACK,	/* some frames walked by frame pointer (marked) */
	CNT__COUNT,
};
#define CNT_UNWIND_STOP_BASE	(CNT_UNWIND_NO_TABLE - 1)	/* + enum uw_stop */
#define CNT_DROP__END		CNT_UNWIND_NO_TABLE	/* drops: [CNT_DROP_ALLOC_MAP_FULL, this) */

/* In-flight state of the outermost allocator call of one thread, in the
 * thread's task-local storage.  Nested calls (realloc(NULL,n) -> malloc, malloc -> mmap,
 * operator new -> malloc) are told apart by the user stack pointer: they
 * run deeper than entry_sp.  A call that enters, or returns, *above* it
 * means the in-flight call was unwound past its return probe. */
struct inflight {
	__u32 fn;		/* enum alloc_fn of the outermost call */
	__u8 entry_only;	/* no return probe (operator new): a nested
				 * allocator call is adopted to learn the address */
	__u8 sampled;		/* record the new block (--sample-bytes decided) */
	__u8 active;		/* a call is in flight (else the rest is stale) */
	__u8 pad;
	__u64 entry_sp;		/* user rsp at entry: points at the return address */
	__u64 adopt_sp;		/* entry rsp of the adopted nested call, 0 = none */
	__u64 retry_sp;		/* entry_only: the adopted call returned NULL there;
				 * only a call at that rsp (new's retry after its
				 * new_handler) is adopted next, not an allocation
				 * made deeper (the exception new throws) */
	struct stack_key stack;	/* entry_only: the stack captured at entry */
	__u64 size_bytes;
	__u64 old_addr;		/* realloc/mremap: the block being moved */
	__u64 out_ptr;		/* posix_memalign: where the result is stored */
	__u64 aux;		/* munmap/mremap: length argument */
	/* the last free-family call of this thread (cleared by any allocator
	 * call): an operator delete that tail-calls free, or a free calling
	 * the allocator's own free, hand the same block on once more */
	__u64 last_free_addr;
	__u64 last_free_sp;
	__u64 last_free_ns;
};

/* ---- CPython ------------------------------------------------------------
 * Where the interpreter keeps its frames, for the BPF walk at allocation
 * time; filled by user space (user/python.c) from per-version tables or
 * the interpreter's own _Py_DebugOffsets.  runtime_addr 0: not Python. */
#define MAX_PY_DEPTH	48
#define MAX_PY_PROCS	4096	/* Python processes traced at once (py_config) */
#define PY_FRAME_READ	128	/* bytes of a frame read at once (covers 3.6's f_lasti) */
#define PY_MAX_THREADS	256	/* thread states searched for the current one */
#define PY_OWNED_BY_CSTACK 3	/* 3.12+: a shim frame of the C stack */

/* How a thread state names its thread (py_offsets.thread_match). */
enum py_thread_match {
	PY_MATCH_TID = 0,	/* 3.11+: .native_thread_id == the kernel's tid */
	PY_MATCH_FSBASE,	/* <= 3.10: .thread_id == pthread_self() == the
				 * thread's fs base (x86-64 glibc's TCB) */
};

/* What runtime_addr points at (py_offsets.runtime_kind). */
enum py_runtime_kind {
	PY_RUNTIME_STATE = 0,	/* _PyRuntime (3.7+): interpreters.head */
	PY_RUNTIME_CURRENT_TS,	/* 3.6: _PyThreadState_Current, the thread
				 * state holding the GIL */
};

/* The frames a thread state points at (py_offsets.frame_kind). */
enum py_frame_kind {
	PY_FRAME_INTERP = 0,	/* 3.11+: _PyInterpreterFrame, instruction pointer */
	PY_FRAME_OBJECT,	/* <= 3.10: PyFrameObject, int f_lasti */
};

struct py_offsets {
	__u64 runtime_addr;		/* &_PyRuntime in the target (3.6: see runtime_kind) */
	__u32 interpreters_head;	/* _PyRuntimeState.interpreters.head */
	__u32 threads_head;		/* PyInterpreterState.threads.head / tstate_head */
	__u32 ts_next;			/* PyThreadState.next */
	__u32 ts_native_thread_id;	/* .native_thread_id, or .thread_id (<= 3.10) */
	__u32 ts_cframe;		/* 3.11/3.12: .cframe; 0 = none */
	__u32 ts_current_frame;		/* .cframe->current_frame, .current_frame, .frame */
	__u32 fr_code;			/* f_code / f_executable */
	__u32 fr_previous;		/* previous / f_back */
	__u32 fr_instr;			/* prev_instr / instr_ptr / f_lasti */
	__u32 fr_owner;			/* 0 = no owner field (3.11, <= 3.10) */
	__u32 co_code_adaptive;		/* PyCodeObject: first instruction (3.11+) */
	/* Read with each frame, to notice a code object's address reused
	 * by another: co_qualname (co_name <= 3.10), co_filename and
	 * co_firstlineno, in one read of PY_TOKEN_READ bytes from
	 * co_token_base (py_code_token() makes the token of them). */
	__u32 co_token;
	__u32 co_token_file;
	__u32 co_token_line;
	__u32 co_token_base;
	__u8 thread_match;		/* enum py_thread_match */
	__u8 runtime_kind;		/* enum py_runtime_kind */
	__u8 frame_kind;		/* enum py_frame_kind */
	__u8 pad[5];
};

#define PY_TOKEN_READ	96

/* A code object's identity beyond its address: its name and file string
 * objects and first line.  A module body freed and another module's
 * loaded at the same address ("<module>" is one interned string) differ
 * in the file; BPF and user space compute it alike. */
static inline __u64 py_code_token(__u64 name, __u64 file, __s32 line)
{
	__u64 h = name ^ (file << 32 | file >> 32);

	return (h ^ (__u64)(__u32)line * 0x9e3779b97f4a7c15ULL) | 1;
}

/* One Python frame as captured: user space reads the code object for
 * file, function and line (instr: 3.11+ code units from the first
 * instruction; <= 3.10 the frame's f_lasti as it is: bytes up to 3.9,
 * code units in 3.10; -1 before the first one). */
struct py_frame {
	__u64 code;
	__u64 token;
	__s32 instr;
	__u32 pad;
};

struct py_trace {
	__u32 nr;
	__u32 truncated;	/* deeper than MAX_PY_DEPTH */
	struct py_frame f[MAX_PY_DEPTH];
};

/* Events sent to user space through the ring buffer. */
enum event_type {
	EV_EXEC_MAPPING = 1,	/* target mapped executable code (refresh modules) */
	EV_EXEC,		/* target called execve */
	EV_EXIT,		/* target's thread group exited */
	EV_GC,			/* a Python GC collection ended (struct gc_event) */
	EV_PY_STACK,		/* a new stack with Python frames: read its code
				 * objects while they exist */
	EV_PY_FINALIZE,		/* `-- python`: the interpreter begins to finalize;
				 * its thread is held (HOLD_SIGNAL) for leakscope */
};

struct event {
	__u32 type;
	__u32 tgid;
};

/* EV_PY_STACK: which stack (its id in `stacks` and `py_stacks`). */
struct py_stack_event {
	__u32 type;
	__u32 tgid;
	__u64 id;
};

/* `-- CMD`: the signal a BPF program sends the child's main thread to hold
 * it in a ptrace stop while leakscope reads what is about to vanish; the
 * child never receives it (SIGURG: ignored by default, in case it ever did). */
#define HOLD_SIGNAL	23	/* SIGURG on x86-64 */

/* CPython's gc__start/gc__done USDT probes: one event per collection. */
struct gc_event {
	__u32 type;		/* EV_GC */
	__u32 tgid;
	__s32 generation;
	__u32 pad;
	__u64 pause_ns;
	__s64 collected;	/* objects collected (gc__done's argument) */
};

#include "sampling.h"	/* the byte-sampling probability, shared too */
#include "unwind.h"	/* the DWARF unwind tables, shared too */

#endif /* LEAKSCOPE_H */
