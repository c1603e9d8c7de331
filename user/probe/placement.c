/* placement.c - probe placement by instruction decoding (Capstone).
 *
 * Cost: decoding a whole function once per probe site at attach time (to
 * check that no branch lands inside the skipped prefix); nothing later.
 */
#include <capstone/capstone.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "probe/placement.h"

#define MAX_SKIPPED 16	/* instructions a probe may move past */

/* The argument registers of the SysV x86-64 ABI, with every alias. */
static const x86_reg arg_regs[6][4] = {
	{ X86_REG_RDI, X86_REG_EDI, X86_REG_DI, X86_REG_DIL },
	{ X86_REG_RSI, X86_REG_ESI, X86_REG_SI, X86_REG_SIL },
	{ X86_REG_RDX, X86_REG_EDX, X86_REG_DX, X86_REG_DL },
	{ X86_REG_RCX, X86_REG_ECX, X86_REG_CX, X86_REG_CL },
	{ X86_REG_R8, X86_REG_R8D, X86_REG_R8W, X86_REG_R8B },
	{ X86_REG_R9, X86_REG_R9D, X86_REG_R9W, X86_REG_R9B },
};

static bool is_jcc(unsigned id)
{
	switch (id) {
	case X86_INS_JAE: case X86_INS_JA: case X86_INS_JBE: case X86_INS_JB:
	case X86_INS_JE: case X86_INS_JGE: case X86_INS_JG: case X86_INS_JLE:
	case X86_INS_JL: case X86_INS_JNE: case X86_INS_JNO: case X86_INS_JNP:
	case X86_INS_JNS: case X86_INS_JO: case X86_INS_JP: case X86_INS_JS:
		return true;
	default:
		return false;
	}
}

static bool has_imm_operand(const cs_insn *in)
{
	const cs_x86 *x = &in->detail->x86;

	return x->op_count == 1 && x->operands[0].type == X86_OP_IMM;
}

/* What the kernel emulates at a uprobe on this kernel (NOTES.md):
 * push of a register, and relative jmp/call/jcc. */
static bool emulated(const cs_insn *in)
{
	const cs_x86 *x = &in->detail->x86;

	if (in->id == X86_INS_PUSH)
		return x->op_count == 1 && x->operands[0].type == X86_OP_REG;
	if (in->id == X86_INS_JMP || in->id == X86_INS_CALL || is_jcc(in->id))
		return has_imm_operand(in);
	return false;
}

static bool is_endbr64(const cs_insn *in)
{
	static const uint8_t endbr64[4] = { 0xf3, 0x0f, 0x1e, 0xfa };

	return in->size == 4 && !memcmp(in->bytes, endbr64, 4);
}

static bool is_branch(const cs_insn *in)
{
	for (int i = 0; i < in->detail->groups_count; i++) {
		switch (in->detail->groups[i]) {
		case CS_GRP_JUMP: case CS_GRP_CALL: case CS_GRP_RET:
		case CS_GRP_INT: case CS_GRP_IRET:
			return true;
		}
	}
	return in->id == X86_INS_SYSCALL || in->id == X86_INS_SYSENTER;
}

static bool writes_reg(csh cs, const cs_insn *in, const x86_reg *aliases, int n)
{
	cs_regs rd, wr;
	uint8_t nrd = 0, nwr = 0;

	if (cs_regs_access(cs, in, rd, &nrd, wr, &nwr) != CS_ERR_OK)
		return true;	/* unknown: assume the worst */
	for (int i = 0; i < nwr; i++)
		for (int k = 0; k < n; k++)
			if (wr[i] == aliases[k])
				return true;
	return false;
}

static bool writes_memory(const cs_insn *in)
{
	const cs_x86 *x = &in->detail->x86;

	for (int i = 0; i < x->op_count; i++)
		if (x->operands[i].type == X86_OP_MEM &&
		    (x->operands[i].access & CS_AC_WRITE))
			return true;
	return false;
}

/* Straight-line, and leaves the arguments, the stack pointer and memory
 * as they were: the probe may be placed after it. */
static bool harmless(csh cs, const cs_insn *in, int nargs)
{
	static const x86_reg sp[] = { X86_REG_RSP, X86_REG_ESP, X86_REG_SP, X86_REG_SPL };

	if (is_branch(in) || writes_memory(in) || writes_reg(cs, in, sp, 4))
		return false;
	for (int a = 0; a < nargs && a < 6; a++)
		if (writes_reg(cs, in, arg_regs[a], 4))
			return false;
	return true;
}

static bool reg_is_arg0(x86_reg r)
{
	for (int k = 0; k < 4; k++)
		if (arg_regs[0][k] == r)
			return true;
	return false;
}

/* `test %rdi,%rdi` - the first argument against NULL. */
static bool is_null_test_of_arg0(const cs_insn *in)
{
	const cs_x86 *x = &in->detail->x86;

	return in->id == X86_INS_TEST && x->op_count == 2 &&
	       x->operands[0].type == X86_OP_REG && x->operands[1].type == X86_OP_REG &&
	       x->operands[0].reg == x->operands[1].reg && reg_is_arg0(x->operands[0].reg);
}

/* Does the instruction at target (inside code) only return? */
static bool only_returns(csh cs, const uint8_t *code, size_t len,
			 uint64_t vaddr, uint64_t target)
{
	const uint8_t *p;
	size_t n;
	uint64_t a = target;
	cs_insn *in;
	bool ret;

	if (target < vaddr || target >= vaddr + len)
		return false;
	p = code + (target - vaddr);
	n = len - (target - vaddr);
	in = cs_malloc(cs);
	if (!in)
		return false;
	ret = cs_disasm_iter(cs, &p, &n, &a, in) && in->id == X86_INS_RET &&
	      in->detail->x86.op_count == 0;
	cs_free(in, 1);
	return ret;
}

static uint64_t branch_target(const cs_insn *in)
{
	return in->detail->x86.operands[0].imm;
}

/* Is the instruction at p a `je` whose target only returns? */
static bool je_only_returns(csh cs, const uint8_t *code, size_t len,
			    uint64_t vaddr, const uint8_t *p, size_t n, uint64_t a)
{
	cs_insn *in = cs_malloc(cs);
	bool ok;

	if (!in)
		return false;
	ok = cs_disasm_iter(cs, &p, &n, &a, in) && in->id == X86_INS_JE &&
	     has_imm_operand(in) &&
	     only_returns(cs, code, len, vaddr, branch_target(in));
	cs_free(in, 1);
	return ok;
}

/* True if a relative branch anywhere in the function lands in
 * (vaddr, vaddr + upto]: moving the probe there would skip that path. */
static bool branch_into(csh cs, const uint8_t *code, size_t len,
			uint64_t vaddr, uint64_t upto)
{
	const uint8_t *p = code;
	size_t n = len;
	uint64_t a = vaddr;
	cs_insn *in = cs_malloc(cs);
	bool hit = false;

	if (!in)
		return true;
	while (!hit && cs_disasm_iter(cs, &p, &n, &a, in)) {
		bool rel = (in->id == X86_INS_JMP || in->id == X86_INS_CALL ||
			    is_jcc(in->id) || in->id == X86_INS_LOOP ||
			    in->id == X86_INS_JRCXZ) && has_imm_operand(in);
		uint64_t t;

		if (!rel)
			continue;
		t = branch_target(in);
		hit = t > vaddr && t <= vaddr + upto;
	}
	cs_free(in, 1);
	return hit;
}

static void describe(const cs_insn *in, struct placement *out)
{
	snprintf(out->insn, sizeof(out->insn), "%s%s%s", in->mnemonic,
		 in->op_str[0] ? " " : "", in->op_str);
}

/* Walks the prefix; returns the offset of the first emulated instruction
 * reached over skippable ones only, or 0 if there is none.  why says
 * what was skipped. */
static uint64_t find_site(csh cs, const uint8_t *code, size_t len,
			  uint64_t vaddr, int nargs, bool shared, cs_insn *in,
			  char *why, size_t whylen)
{
	const uint8_t *p = code;
	size_t n = len;
	uint64_t a = vaddr;
	bool endbr = false, null_test = false;
	int other = 0;

	for (int k = 0; k < MAX_SKIPPED && cs_disasm_iter(cs, &p, &n, &a, in); k++) {
		if (k > 0 && emulated(in)) {
			snprintf(why, whylen, "moved past %s%s%s%s%s%s",
				 endbr ? "endbr64" : "",
				 endbr && (null_test || other) ? ", " : "",
				 null_test ? "a NULL test whose branch only returns" : "",
				 null_test && other ? ", " : "",
				 other ? "code that keeps the arguments" : "",
				 shared ? "; rsp and [rsp] unchanged: the return probe too" : "");
			return in->address - vaddr;
		}
		if (is_endbr64(in)) {
			endbr = true;
		} else if (!shared && is_null_test_of_arg0(in) &&
			   je_only_returns(cs, code, len, vaddr, p, n, a)) {
			cs_disasm_iter(cs, &p, &n, &a, in);	/* skip the je too */
			null_test = true;
		} else if (harmless(cs, in, nargs)) {
			other++;
		} else {
			return 0;
		}
	}
	return 0;
}

int placement__choose(const uint8_t *code, size_t len, uint64_t vaddr,
		      int nargs, int mode, struct placement *out)
{
	bool movable = mode != PLACE_FIXED, shared = mode == PLACE_SHARED;
	const uint8_t *p = code;
	size_t n = len;
	uint64_t a = vaddr, site;
	char why[sizeof(out->why)];
	cs_insn *in;
	csh cs;
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
		return -ENOMEM;
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	in = cs_malloc(cs);
	if (!in || !cs_disasm_iter(cs, &p, &n, &a, in)) {
		err = -EINVAL;
		goto out;
	}
	out->emulated = emulated(in);
	describe(in, out);
	if (out->emulated) {
		snprintf(out->why, sizeof(out->why), "entry");
		goto out;
	}
	snprintf(out->why, sizeof(out->why), movable ? "entry: no safe later site"
		 : "entry");
	if (!movable)
		goto out;
	site = find_site(cs, code, len, vaddr, nargs, shared, in, why, sizeof(why));
	if (!site || branch_into(cs, code, len, vaddr, site)) {
		if (site)
			snprintf(out->why, sizeof(out->why), "entry: a branch lands in the prefix");
		goto out;
	}
	/* re-decode the chosen instruction for the description */
	p = code + site;
	n = len - site;
	a = vaddr + site;
	if (!cs_disasm_iter(cs, &p, &n, &a, in)) {
		err = -EINVAL;
		goto out;
	}
	out->offset = site;
	out->emulated = true;
	snprintf(out->why, sizeof(out->why), "%s", why);
	describe(in, out);
out:
	if (in)
		cs_free(in, 1);
	cs_close(&cs);
	return err;
}
