/* placement.h - where on a function to put its entry uprobe.
 *
 * The kernel emulates a few instructions at a probe (push of a register,
 * relative jmp/call/jcc: ~0.5 us a hit here) and single-steps the rest
 * (~17 us).  For an entry-only probe, the probe may move forward to the
 * first emulated instruction when every instruction skipped is provably
 * harmless: endbr64; a NULL test of the first argument whose branch only
 * returns; or a straight-line instruction that writes no argument
 * register, no stack pointer and no memory.  Instructions are decoded with
 * Capstone, never guessed.
 *
 * A site shared by an entry and a return probe moves too, under stricter
 * rules: a uretprobe takes the return address from [rsp] when its site is
 * hit, so every instruction skipped must leave rsp and memory alone
 * (memory: [rsp] among it) and must not branch — every call reaches the
 * site, with rsp still at the return address.  The NULL-test skip is not
 * allowed there (a call returning through it would skip the return probe).
 */
#ifndef LEAKSCOPE_PLACEMENT_H
#define LEAKSCOPE_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct placement {
	uint64_t offset;	/* bytes from the function's start */
	bool emulated;		/* the kernel emulates the instruction there */
	char insn[200];		/* that instruction, e.g. "push rbp" */
	char why[160];		/* one line: why here */
};

/* How a site may move (the values of false and true for the first two). */
enum place_mode {
	PLACE_FIXED = 0,	/* at the entry (--no-placement) */
	PLACE_ENTRY_ONLY = 1,	/* an entry probe alone */
	PLACE_SHARED = 2,	/* an entry and a return probe at one site */
};

/* Chooses the probe site in code[0..len) (the function's bytes, at
 * virtual address vaddr).  nargs: integer arguments the probe reads (it
 * also reads the stack pointer).  mode: enum place_mode.  Returns 0, or
 * -EINVAL if the first instruction does not decode. */
int placement__choose(const uint8_t *code, size_t len, uint64_t vaddr,
		      int nargs, int mode, struct placement *out);

#endif
