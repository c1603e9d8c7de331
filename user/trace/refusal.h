/* refusal.h - a program the kernel's verifier refused: which one, the
 * verifier's one-line reason, and the feature leakscope gives up to load
 * the rest (never all or nothing).  Pure: unit-tested on real logs.
 *
 * Verifiers differ between kernels (stack budget, how bounds travel
 * through copies, helpers and CO-RE fields that exist), so a program one
 * kernel takes another may refuse.  Programs that serve one feature cost
 * that feature; the allocator programs share the stack capture, whose
 * optional walks (Python frames, DWARF unwinding) are given up in turn
 * until the object loads.
 */
#ifndef LEAKSCOPE_REFUSAL_H
#define LEAKSCOPE_REFUSAL_H

#include <stdbool.h>
#include <stddef.h>

/* What a refused program costs (bits). */
enum refusal_loss {
	LOSS_PYTHON = 1 << 0,	/* the Python frame walk: native frames only */
	LOSS_DWARF = 1 << 1,	/* the DWARF unwinder: frame-pointer stacks */
	LOSS_KERNEL = 1 << 2,	/* --kernel's tracepoint programs */
	LOSS_PY_GC = 1 << 3,	/* CPython's GC pauses (USDT probes) */
	LOSS_PY_FINALIZE = 1 << 4, /* `-- python`: the hold at Py_FinalizeEx */
};

/* LEAKSCOPE_TEST_REFUSE=vmalloc: the vmalloc pair's code alone refused
 * (bpf/state.bpf.h REFUSE_VMALLOC; a test bit, no loss of its own). */
#define REFUSAL_TEST_VMALLOC (1 << 5)

/* What libbpf said while loading: the program it could not load and the
 * verifier's reason (the line before "processed N insns"). */
struct refusal {
	char prog[64];		/* "" until a program failed */
	char reason[256];
};

/* Feeds one message libbpf printed while loading. */
void refusal__feed(struct refusal *r, const char *msg);

/* The verifier's one-line reason in a program's load log, into out. */
void refusal__reason(const char *log, char *out, size_t n);

/* The next set of losses to try after prog was refused with the features
 * in `lost` given up, `enabled` being those asked for (enum refusal_loss
 * bits).  Returns the new set, or -1: nothing left to give up. */
int refusal__next(const char *prog, unsigned lost, unsigned enabled);

/* What giving up a loss bit means to the user, one line. */
const char *refusal__loss_text(enum refusal_loss l);

#endif
