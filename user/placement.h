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
	char why[96];		/* one line: why here */
};

/* Chooses the probe site in code[0..len) (the function's bytes, at
 * virtual address vaddr).  nargs: integer arguments the probe reads (it
 * also reads the stack pointer).  movable: false for a function that also
 * gets a return probe (that one must stay at the entry, and a second site
 * would cost a second trap).  Returns 0, or -EINVAL if the first
 * instruction does not decode. */
int placement__choose(const uint8_t *code, size_t len, uint64_t vaddr,
		      int nargs, bool movable, struct placement *out);

#endif
