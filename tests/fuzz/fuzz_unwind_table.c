/* fuzz_unwind_table.c - libFuzzer harness for the table compiler
 * (user/unwind_table.c): whatever bytes a traced process's file holds,
 * unwind_table__build_mem() must return an error or a well-formed table,
 * without crashing, hanging, leaking or allocating without bound.  Built
 * and run by tests/fuzz/fuzz.mk (`make fuzz`).
 *
 * Compiled with -DUNWIND_FUZZ_SEED, the same file is instead a small
 * program whose call-frame information uses most rules the compiler maps
 * (rbp frames, PLT, undefined return address, registers, expressions,
 * remember/restore state, a signal frame, a personality routine with
 * -fexceptions): fuzz.mk builds seeds from it,
 * so the corpus starts from ELF files that reach every part of the
 * compiler rather than from random bytes that fail in the ELF header.
 */
#ifdef UNWIND_FUZZ_SEED

#include <stdio.h>

__asm__(
	"	.text\n"
	"	.p2align 4\n"
	"	.globl seed_rbp_frame\n"
	"	.type seed_rbp_frame,@function\n"
	"seed_rbp_frame:\n"
	"	.cfi_startproc\n"
	"	push %rbp\n"
	"	.cfi_def_cfa_offset 16\n"
	"	.cfi_offset %rbp, -16\n"
	"	mov %rsp, %rbp\n"
	"	.cfi_def_cfa_register %rbp\n"
	"	.cfi_remember_state\n"
	"	pop %rbp\n"
	"	.cfi_def_cfa %rsp, 8\n"
	"	.cfi_restore %rbp\n"
	"	ret\n"
	"	.cfi_restore_state\n"
	"	nop\n"
	"	.cfi_escape 0x14, 0x06, 0x02\n"
	"	nop\n"
	"	.cfi_escape 0x10, 0x06, 0x02, 0x76, 0x00\n"
	"	nop\n"
	"	.cfi_register %rbp, %rbx\n"
	"	nop\n"
	"	.cfi_undefined %rbp\n"
	"	ret\n"
	"	.cfi_endproc\n"
	"	.p2align 4\n"
	"	.globl seed_outermost\n"
	"	.type seed_outermost,@function\n"
	"seed_outermost:\n"
	"	.cfi_startproc\n"
	"	.cfi_undefined %rip\n"
	"	nop\n"
	"	.cfi_def_cfa %rbx, 16\n"
	"	nop\n"
	"	.cfi_escape 0x12, 0x07, 0x01\n"
	"	ret\n"
	"	.cfi_endproc\n"
	"	.p2align 4\n"
	"	.globl seed_signal\n"
	"	.type seed_signal,@function\n"
	"seed_signal:\n"
	"	.cfi_startproc\n"
	"	.cfi_signal_frame\n"
	"	.cfi_escape 0x0f, 0x0b, 0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a, 0x3a, 0x2a, 0x33, 0x24, 0x22\n"
	"	nop\n"
	"	.cfi_offset %rip, -16\n"
	"	ret\n"
	"	.cfi_endproc\n");

/* With -fexceptions, a cleanup gives a CIE with a personality routine
 * and an LSDA ("zPLR"). */
static void seed_cleanup(char **p)
{
	puts(*p);
}

int main(int argc, char **argv)
{
	char *name __attribute__((cleanup(seed_cleanup))) = argv[0];

	puts(name);		/* a PLT entry */
	return argc > 5;
}

#else /* the harness */

#include <elf.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "unwind/unwind_table.h"

/* Everything the BPF side relies on; abort() is what libFuzzer reports. */
static void check(const struct unwind_table *t)
{
	for (uint32_t i = 0; i < t->nr_rows; i++) {
		const struct unwind_row *r = &t->rows[i];

		if ((i && t->rows[i - 1].pc >= r->pc) || uw_cfa_kind(r) > UW_CFA_STOP ||
		    uw_rbp_kind(r) > UW_RBP_UNDEF)
			abort();
		if (unwind_table__lookup(t, r->pc) != (unwind_table__row_is_gap(r) ? NULL : r))
			abort();
	}
	if (t->nr_rows && !unwind_table__row_is_gap(&t->rows[t->nr_rows - 1]))
		abort();
}

#define WRAP_FRAME_ADDR	0x80000000u	/* .eh_frame's address in a wrapped input */

/* Inputs starting with 'E' or 'D' are the bytes of an .eh_frame or a
 * .debug_frame: they are wrapped into a minimal x86-64 ELF (one
 * executable segment over [0, 4 GiB), the section, .shstrtab), so that
 * mutations hit the CFI rather than the ELF structure.  Anything else is
 * a whole ELF file. */
static void *wrap(const uint8_t *data, size_t size, size_t *len)
{
	static const char shstr[] = "\0.eh_frame\0.debug_frame\0.shstrtab";
	bool eh = data[0] == 'E';
	size_t n = size - 1;
	/* the section last: a read past its end is one past the allocation */
	size_t off_str = sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr);
	size_t off_sh = (off_str + sizeof(shstr) + 7) & ~(size_t)7;
	size_t off_sec = off_sh + 3 * sizeof(Elf64_Shdr);
	char *img = calloc(1, off_sec + n);
	Elf64_Ehdr *h = (Elf64_Ehdr *)img;
	Elf64_Phdr *ph;
	Elf64_Shdr *sh;

	if (!img)
		return NULL;
	memcpy(h->e_ident, ELFMAG, SELFMAG);
	h->e_ident[EI_CLASS] = ELFCLASS64;
	h->e_ident[EI_DATA] = ELFDATA2LSB;
	h->e_ident[EI_VERSION] = EV_CURRENT;
	h->e_type = ET_DYN;
	h->e_machine = EM_X86_64;
	h->e_version = EV_CURRENT;
	h->e_ehsize = sizeof(*h);
	h->e_phoff = sizeof(*h);
	h->e_phentsize = sizeof(Elf64_Phdr);
	h->e_phnum = 1;
	h->e_shoff = off_sh;
	h->e_shentsize = sizeof(Elf64_Shdr);
	h->e_shnum = 3;
	h->e_shstrndx = 2;
	ph = (Elf64_Phdr *)(img + sizeof(*h));
	ph->p_type = PT_LOAD;
	ph->p_flags = PF_R | PF_X;
	ph->p_memsz = 0xffffffffu;
	ph->p_align = 0x1000;
	memcpy(img + off_sec, data + 1, n);
	memcpy(img + off_str, shstr, sizeof(shstr));
	sh = (Elf64_Shdr *)(img + off_sh);
	sh[1].sh_name = eh ? 1 : 11;
	sh[1].sh_type = SHT_PROGBITS;
	sh[1].sh_flags = eh ? SHF_ALLOC : 0;
	sh[1].sh_addr = eh ? WRAP_FRAME_ADDR : 0;
	sh[1].sh_offset = off_sec;
	sh[1].sh_size = n;
	sh[1].sh_addralign = 8;
	sh[2].sh_name = 24;
	sh[2].sh_type = SHT_STRTAB;
	sh[2].sh_offset = off_str;
	sh[2].sh_size = sizeof(shstr);
	sh[2].sh_addralign = 1;
	*len = off_sec + n;
	return img;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct unwind_table *t = NULL;
	void *buf;
	size_t len = size;

	if (size && (data[0] == 'E' || data[0] == 'D')) {
		buf = wrap(data, size, &len);
	} else {
		/* elf_memory() wants a writable buffer: a copy, exactly sized
		 * so that AddressSanitizer sees any read past the end */
		buf = malloc(size ? size : 1);
		if (buf)
			memcpy(buf, data, size);
	}
	if (!buf)
		return 0;
	if (!unwind_table__build_mem(buf, len, &t)) {
		check(t);
		unwind_table__free(t);
	}
	free(buf);
	return 0;
}

#endif
