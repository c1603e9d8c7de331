/* elfsym.c - resolves function symbols to file offsets with libelf.
 *
 * The file comes from another process (maybe a container's): every size
 * and index libelf hands back is checked before it is used.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbols/elfsym.h"

struct elfsym {
	int fd;
	Elf *elf;
};

struct elfsym *elfsym__open(const char *path)
{
	struct elfsym *e;

	if (elf_version(EV_CURRENT) == EV_NONE) {
		errno = EINVAL;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (e->fd < 0)
		goto err;
	/* read with pread, never mapped: a target can truncate the file under
	 * us, and a mapping would then kill leakscope with SIGBUS */
	e->elf = elf_begin(e->fd, ELF_C_READ, NULL);
	if (!e->elf || elf_kind(e->elf) != ELF_K_ELF ||
	    gelf_getclass(e->elf) != ELFCLASS64) {
		errno = ENOEXEC;
		goto err;
	}
	return e;
err:
	elfsym__close(e);
	return NULL;
}

void elfsym__close(struct elfsym *e)
{
	int saved = errno;

	if (!e)
		return;
	if (e->elf)
		elf_end(e->elf);
	if (e->fd >= 0)
		close(e->fd);
	free(e);
	errno = saved;
}

int elfsym__is_dynamic(struct elfsym *e)
{
	size_t phnum;
	GElf_Phdr ph;

	if (elf_getphdrnum(e->elf, &phnum))
		return 0;
	for (size_t i = 0; i < phnum; i++)
		if (gelf_getphdr(e->elf, i, &ph) && ph.p_type == PT_INTERP)
			return 1;
	return 0;
}

/* Virtual address -> file offset through the PT_LOAD that contains it. */
static int vaddr_to_offset(Elf *elf, uint64_t vaddr, uint64_t *off)
{
	size_t phnum;
	GElf_Phdr ph;

	if (elf_getphdrnum(elf, &phnum))
		return -ENOEXEC;
	for (size_t i = 0; i < phnum; i++) {
		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD ||
		    !(ph.p_flags & PF_X))
			continue;
		if (vaddr >= ph.p_vaddr && vaddr < ph.p_vaddr + ph.p_filesz) {
			*off = vaddr - ph.p_vaddr + ph.p_offset;
			return 0;
		}
	}
	return -ENOENT;
}

static int find_in_section(Elf *elf, Elf_Scn *scn, const char *name, int type,
			   uint64_t *vaddr, uint64_t *size)
{
	GElf_Shdr sh;
	Elf_Data *data;
	GElf_Sym sym;
	size_t n;

	if (!gelf_getshdr(scn, &sh) || !sh.sh_entsize)
		return -ENOENT;
	data = elf_getdata(scn, NULL);
	if (!data)
		return -ENOENT;
	n = data->d_size / sh.sh_entsize;
	for (size_t i = 0; i < n; i++) {
		const char *s;

		/* An IFUNC's address is its resolver: never probe that. */
		if (!gelf_getsym(data, i, &sym) || sym.st_shndx == SHN_UNDEF ||
		    GELF_ST_TYPE(sym.st_info) != type)
			continue;
		s = elf_strptr(elf, sh.sh_link, sym.st_name);
		if (s && !strcmp(s, name)) {
			*vaddr = sym.st_value;
			*size = sym.st_size;
			return 0;
		}
	}
	return -ENOENT;
}

ssize_t elfsym__read(struct elfsym *e, uint64_t off, void *buf, size_t len)
{
	ssize_t n = pread(e->fd, buf, len, off);

	return n < 0 ? -errno : n;
}

int elfsym__func(struct elfsym *e, const char *name, uint64_t *off,
		 uint64_t *size)
{
	static const uint32_t order[] = { SHT_DYNSYM, SHT_SYMTAB };
	uint64_t vaddr;

	for (size_t k = 0; k < 2; k++) {
		Elf_Scn *scn = NULL;

		while ((scn = elf_nextscn(e->elf, scn))) {
			GElf_Shdr sh;

			if (!gelf_getshdr(scn, &sh) || sh.sh_type != order[k])
				continue;
			if (!find_in_section(e->elf, scn, name, STT_FUNC, &vaddr, size))
				return vaddr_to_offset(e->elf, vaddr, off);
		}
	}
	return -ENOENT;
}

int elfsym__object(struct elfsym *e, const char *name, uint64_t *addr)
{
	Elf_Scn *scn = NULL;
	uint64_t vaddr, size, base = UINT64_MAX;
	size_t phnum;
	GElf_Phdr ph;

	if (elf_getphdrnum(e->elf, &phnum))
		return -ENOEXEC;
	for (size_t i = 0; i < phnum; i++)	/* the segment mapped at file offset 0 */
		if (gelf_getphdr(e->elf, i, &ph) && ph.p_type == PT_LOAD &&
		    ph.p_offset == 0 && ph.p_vaddr < base)
			base = ph.p_vaddr;
	if (base == UINT64_MAX)
		return -ENOEXEC;
	while ((scn = elf_nextscn(e->elf, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM)
			continue;
		if (!find_in_section(e->elf, scn, name, STT_OBJECT, &vaddr, &size)) {
			if (vaddr < base)
				return -ENOEXEC;
			*addr = vaddr - base;
			return 0;
		}
	}
	return -ENOENT;
}
