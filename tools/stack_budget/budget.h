/* budget.h - the BPF verifier's stack budget, computed from a compiled
 * object without loading it.
 *
 * The verifier adds up the stack frames along every call chain of a
 * program (entry -> static/global subprograms -> bpf_loop / bpf_find_vma
 * callbacks -> their callees), each frame rounded up, and refuses the
 * program when a chain passes 512 bytes.  budget__open() reads the object
 * (untrusted: every index is checked), measures each function's frame the
 * way the verifier does (the deepest r10-relative byte it touches) and
 * builds the call graph; the other calls answer questions about it.
 */
#ifndef LEAKSCOPE_BUDGET_H
#define LEAKSCOPE_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define BUDGET_MAX_FRAMES 8	/* the verifier's MAX_CALL_FRAMES */
#define BUDGET_MAX_STACK 512	/* the verifier's MAX_BPF_STACK */

struct budget;

/* One function of the object: a program (in a SEC() section) or a
 * subprogram (in .text). */
struct budget_func {
	const char *name;
	const char *section;
	bool entry;		/* a program the loader loads, not a subprogram */
	int depth_bytes;	/* deepest stack byte touched, unrounded */
	size_t ncallees;
	const size_t *callees;	/* function indices, in the order first referenced */
};

/* A call chain from a program down: frames[0] is the program. */
struct budget_chain {
	size_t nframes;
	size_t func[BUDGET_MAX_FRAMES];
	int frame_bytes[BUDGET_MAX_FRAMES];	/* each frame, rounded */
	int total_bytes;
};

/* Reads the BPF object at path.  NULL on failure, with errno set and a
 * message (what is wrong and what to do) in err. */
struct budget *budget__open(const char *path, char *err, size_t errlen);
void budget__free(struct budget *b);

size_t budget__count(const struct budget *b);
const struct budget_func *budget__func(const struct budget *b, size_t i);
/* Index of the function called name, or -1. */
long budget__find(const struct budget *b, const char *name);

/* A frame of depth_bytes as the verifier counts it: round 32 is 6.1's
 * (and the interpreter's) round_up(max(depth, 1), 32); round 16 is newer
 * kernels' with the JIT on, round_up(depth, 16), where an empty frame is
 * 0.  -EINVAL for any other round. */
int budget__frame_bytes(int depth_bytes, int round);

/* The chain of largest total starting at program func.  0, or -ELOOP
 * (recursion), -E2BIG (more than BUDGET_MAX_FRAMES frames, which the
 * verifier refuses), -EINVAL (bad round or index), with a message. */
int budget__worst_chain(const struct budget *b, size_t func, int round,
			struct budget_chain *out, char *err, size_t errlen);

/* The first chain the verifier's own walk (call sites in instruction
 * order, depth first) finds above limit bytes: what it reports as
 * "combined stack size of <nframes> calls is <total>".  1 if found, 0 if
 * no chain passes limit, or the errors of budget__worst_chain(). */
int budget__first_over(const struct budget *b, size_t func, int round,
		       int limit, struct budget_chain *out, char *err,
		       size_t errlen);

/* What budget__report() checks and shows. */
struct budget_opts {
	const char *label;	/* names the object in the heading */
	int budget_bytes;	/* a chain above this is over (issue 21: 448) */
	int round;		/* 32 (6.1) or 16 (JIT on newer kernels) */
	int first_over;		/* >0: also replay the verifier's walk at this limit */
	bool verbose;		/* list every function first */
};

/* Prints each program's worst chain and a verdict line to out (budget_report.c).
 * Returns how many programs are over budget or refused (recursion, too
 * deep), -1 for a round other than 16 or 32. */
int budget__report(const struct budget *b, const struct budget_opts *o, FILE *out);

#endif
