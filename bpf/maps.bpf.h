/* maps.bpf.h - every BPF map of leakscope.bpf.o, with the value types only
 * BPF uses.  Each says what it holds, which units write and read it, and
 * what user space does with it (through the skeleton, leakscope.skel.h).
 *
 * Sizes: the loader resizes some before load; those say so.
 * Maps marked "not preallocated" take kernel memory as entries appear,
 * from the kernel's per-CPU BPF allocator caches, so a bound
 * (--max-allocs, --max-stacks) is not what every run pins.
 *
 * The order of definitions is part of the object's layout: the skeleton
 * lists first the maps that non-static functions (libbpf's USDT helpers,
 * stack_capture_once(), the programs) name directly, then the others in
 * this order.  A new map goes at the end.
 */
#ifndef LEAKSCOPE_MAPS_BPF_H
#define LEAKSCOPE_MAPS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
/* libbpf's USDT support, which python_gc.bpf.h's programs use, brings two
 * maps of its own: __bpf_usdt_specs and __bpf_usdt_ip_to_spec_id, which
 * libbpf fills when it attaches a USDT program and bpf_usdt_arg() reads. */
#include <bpf/usdt.bpf.h>
#include "leakscope.h"	/* the records shared with user space */
#include "unwind.h"	/* the unwind tables' records */

/* ---- the target filter and each thread's call --------------------------- */

/* tgid -> 1 for every traced process.  Written by user space (the
 * processes named or followed); read by is_target() (state.bpf.h) when
 * no single target_tgid is set. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_TARGETS);
	__type(key, __u32);
	__type(value, __u8);
} targets SEC(".maps");

/* Each thread's in-flight allocator call (struct inflight): task-local
 * storage, so a call costs a pointer lookup instead of a hash insert and
 * delete.  BPF only: inflight_of_current() (state.bpf.h), written by
 * inflight.bpf.h and the probes in leakscope.bpf.c. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct inflight);
} inflight SEC(".maps");

/* ---- outstanding memory ------------------------------------------------- */

/* Outstanding heap blocks (and --kernel's), (tgid, address) -> size,
 * stack, time.  Written by heap_insert()/heap_forget() (heap.bpf.h);
 * user space reads it for a report (ages, filters) and deletes the
 * blocks of exited processes.  Not preallocated; --max-allocs resizes
 * it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DEFAULT_MAX_ALLOCS);	/* resized by the loader */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct alloc_key);
	__type(value, struct alloc_rec);
} allocs SEC(".maps");

/* Per-stack aggregates (struct stack_agg): outstanding bytes and blocks,
 * allocation totals, ages.  Written by aggregate.bpf.h's functions (from
 * heap.bpf.h, regions.bpf.h, stack.bpf.h, kernel.bpf.h); user space
 * reads it every tick (its snapshot) and deletes the aggregates of
 * exited processes.  Not preallocated; resized by the loader from
 * --max-stacks. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DEFAULT_MAX_STACKS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct stack_key);
	__type(value, struct stack_agg);
} stack_aggs SEC(".maps");

/* ---- stacks ------------------------------------------------------------- */

/* Our own stack map: id (a hash of the frames) -> frames.  Unlike
 * BPF_MAP_TYPE_STACK_TRACE, which is direct-mapped and loses a stack on
 * every bucket collision (a quarter of 10k stacks in 16k buckets), it
 * only loses stacks when it is full.  Written by stack_capture_once()
 * and stack_keep() (stack.bpf.h, kernel.bpf.h); user space reads the
 * frames of a report's stacks.  Not preallocated; --max-stacks resizes
 * it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DEFAULT_MAX_STACKS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct stack_trace);
} stacks SEC(".maps");

/* The user stack being captured on this CPU (too big for the BPF stack).
 * BPF only: stack_capture_once() (stack.bpf.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stack_trace);
} stack_scratch SEC(".maps");

/* Kernel stacks (--kernel) have their own: the kmem tracepoints fire in
 * interrupts too, in the middle of a user stack's capture.  BPF only:
 * kernel_capture() (kernel.bpf.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stack_trace);
} kstack_scratch SEC(".maps");

/* ---- Python ------------------------------------------------------------- */

/* Python frames of a stack (same id as in `stacks`), when it has any.
 * Written by stack_capture_once() (stack.bpf.h), which announces each
 * new one (EV_PY_STACK); user space reads it then (to read the code
 * objects while they exist) and for a report's stacks.  Sized 1 by the
 * loader unless the target is Python. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DEFAULT_MAX_STACKS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct py_trace);
} py_stacks SEC(".maps");

/* The Python frames being walked on this CPU.  BPF only:
 * walk_python_stack() (python.bpf.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct py_trace);
} py_scratch SEC(".maps");

/* Code objects (address -> token) a hold has let user space read.
 * Written and read by py_hold_if_new() (python.bpf.h): a stack with a
 * code object not in it holds the `-- CMD` child.  Grows with use
 * (sized 1 by the loader unless the target may run Python); when full,
 * every new stack holds (names first, speed second). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, __u64);
} py_code_seen SEC(".maps");

/* Each Python process's interpreter layout, by tgid.  Written by user
 * space when it finds an interpreter (a process
 * without an entry runs no Python leakscope can read); read by
 * walk_python_stack() (python.bpf.h); deleted by the exec and exit
 * programs (leakscope.bpf.c).  Grows with use. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_PY_PROCS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct py_offsets);
} py_config SEC(".maps");

/* Each thread's PyThreadState, found once by searching the interpreter's
 * list, then only checked (its native_thread_id is still this thread).
 * BPF only: py_thread_state() (python.bpf.h). */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} py_threads SEC(".maps");

/* ---- mmap regions, counters, events ------------------------------------- */

/* Outstanding anonymous mmap regions, an array scanned with bpf_loop (a
 * free slot has tgid 0).  Written by regions.bpf.h (from inflight.bpf.h's
 * mmap/munmap/mremap); user space reads it for a report and frees the
 * slots of exited processes. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_MMAP_REGIONS);
	__type(key, __u32);
	__type(value, struct mmap_region);
} mmap_regions SEC(".maps");

/* enum counter -> count, per CPU: blocks, frees, and every drop by cause.
 * Written by count() (state.bpf.h); user space reads it every tick
 * (its snapshot) for the report's counters and warnings. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNT__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Events to user space (struct event, py_stack_event, gc_event): exec,
 * exit, new executable mappings, new Python stacks, GC collections, the
 * interpreter's finalize.  Written by emit() (state.bpf.h), stack.bpf.h
 * and python_gc.bpf.h; read by user space's event loop. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

/* ---- the Python walk's reads ------------------------------------------- */

/* The bytes of a frame and of a code object's token window, read at
 * once: per CPU, not on the stack (the frame walk runs four calls deep
 * and the verifier's stack budget is 512 bytes for the whole chain).
 * Only the capture that owns the CPU's scratch (stack_capture_once())
 * uses them, and it checks it still owns it after the walk.  BPF only:
 * python.bpf.h. */
struct py_read_buf {
	__u8 frame[PY_FRAME_READ];
	__u8 token[PY_TOKEN_READ];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct py_read_buf);
} py_read SEC(".maps");

/* ---- the DWARF unwinder (unwind.bpf.h; layouts in include/unwind.h) ----- */

/* The shared row pool: every binary's rows, a slice each.  Written by
 * user space's unwinder; read by uw_row() (unwind.bpf.h).
 * Resized by the loader with --unwind-rows (1 with --unwind fp). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UW_DEFAULT_ROWS);
	__type(key, __u32);
	__type(value, struct unwind_row);
} unwind_rows SEC(".maps");

/* binary number -> its slice of unwind_rows.  Written by user space's
 * unwinder; read by uw_lookup() (unwind.bpf.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UW_MAX_BINS);
	__type(key, __u32);
	__type(value, struct unwind_bin);
} unwind_bins SEC(".maps");

/* tgid -> the process's executable mappings, written by user space's
 * unwinder as they appear; read by uw_walk_stack(); dropped by
 * BPF at exec, exit and when listed code is unmapped (uw_forget,
 * uw_unmapped: unwind.bpf.h).  Not preallocated; sized 1 by the loader
 * with --unwind fp. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, UW_DEFAULT_PROCS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct unwind_proc);
} unwind_procs SEC(".maps");

/* (dev, inode) -> binary: for code mapped since the process's table
 * was written.  Written by user space's unwinder; read by uw_vma_cb()
 * (unwind.bpf.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, UW_MAX_BINS);
	__type(key, struct unwind_file_key);
	__type(value, struct unwind_file);
} unwind_files SEC(".maps");

/* The row last found for a return address, per CPU (struct
 * uw_cache_entry).  BPF only: uw_cached() and uw_step() (unwind.bpf.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, UW_CACHE_SLOTS);
	__type(key, __u32);
	__type(value, struct uw_cache_entry);
} unwind_cache SEC(".maps");

/* The user stack, read a chunk at a time: one read of UW_CHUNK bytes
 * serves the return addresses and saved rbps of ~10-20 small frames,
 * where a read each cost ~35 ns.  BPF only: uw_read() (unwind.bpf.h). */
#define UW_CHUNK	1024
struct uw_chunk {
	__u8 b[UW_CHUNK];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct uw_chunk);
} unwind_chunk SEC(".maps");

/* The walk's scalars live in a per-CPU map value, not on the stack: the
 * verifier tracks constants written to the stack and the loop's states
 * would not converge.  BPF only: the walk (unwind.bpf.h); its owner field
 * also tells stack_capture_once() (stack.bpf.h) whether this CPU's
 * scratch space is still its own. */
struct uw_walk {
	struct uw_regs r;
	__u64 tramp;		/* the uretprobe trampoline's address */
	__u64 base;		/* chunk: stack bytes [base, base + len) */
	__u32 len;
	__u8 no_chunks;		/* a chunk read failed (the stack's top is near) */
	__u64 ri;		/* the next pending return_instance (kernel) */
	__u32 stop;		/* enum uw_stop */
	__u8 first;		/* r is the frame the probe stopped in */
	__u8 entry;		/* ... at a function's entry (UW_ENTRY) */
	__u8 ri_loaded;
	__u8 pad;
	struct unwind_mapping vm;	/* a mapping found by uw_vma_mapping() */
	__u32 tgid;
	__u32 pad2;
	__u64 owner;		/* pid_tgid of the task capturing: BPF programs
				 * can be preempted (migration stays off), and
				 * another task on this CPU would reuse the
				 * per-CPU scratch space; see stack_capture() */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct uw_walk);
} unwind_walk SEC(".maps");

/* Processes that had no mapping table when a stack was walked, asked
 * for once (a child forked without exec, a process found by --all).
 * BPF only: uw_walk_stack() (unwind.bpf.h), which sends EV_EXEC_MAPPING
 * the first time. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, UW_DEFAULT_PROCS);
	__type(key, __u32);
	__type(value, __u8);
} unwind_asked SEC(".maps");

/* ---- CPython's GC ------------------------------------------------------- */

/* A collection under way in this thread: gc__start's time and generation. */
struct gc_start {
	__u64 ts_ns;
	__s32 generation;
	__u32 pad;
};

/* BPF only: python_gc_start sets it, python_gc_done reads it
 * (python_gc.bpf.h) and sends the pause as an EV_GC event. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct gc_start);
} gc_starts SEC(".maps");

#endif
