/* linkmap.c - reads a process's link map from its memory.
 *
 * /proc/PID/auxv gives the executable's program headers (AT_PHDR,
 * AT_PHNUM); PT_PHDR against AT_PHDR gives its load bias, PT_DYNAMIC its
 * dynamic section, whose DT_DEBUG the dynamic linker points at its
 * r_debug; r_debug.r_map is the head of the list of struct link_map
 * (l_addr, l_name, l_ld, l_next, l_prev: the public part, <link.h>).
 * Everything is read with pread from /proc/PID/mem and bounded: the
 * process is untrusted (a loop in the list ends at LINKMAP_MAX).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "procs/linkmap.h"

static int rd(int fd, uint64_t addr, void *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len, (off_t)addr);

	return n == (ssize_t)len ? 0 : -EIO;
}

/* AT_PHDR and AT_PHNUM of pid. */
static int auxv_phdr(pid_t pid, uint64_t *phdr, uint64_t *phnum)
{
	char path[64];
	uint64_t av[2];
	int fd, found = 0;

	snprintf(path, sizeof(path), "/proc/%d/auxv", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (read(fd, av, sizeof(av)) == sizeof(av) && av[0] != AT_NULL) {
		if (av[0] == AT_PHDR)
			*phdr = av[1], found |= 1;
		else if (av[0] == AT_PHNUM)
			*phnum = av[1], found |= 2;
	}
	close(fd);
	return found == 3 ? 0 : -ENOENT;
}

/* The executable's DT_DEBUG value (its r_debug), or 0. */
static uint64_t find_r_debug(int mem, uint64_t phdr, uint64_t phnum)
{
	uint64_t bias = 0, dyn = 0;
	bool have_bias = false;
	Elf64_Dyn d;

	if (phnum > 256)
		return 0;
	for (uint64_t i = 0; i < phnum; i++) {
		Elf64_Phdr ph;

		if (rd(mem, phdr + i * sizeof(ph), &ph, sizeof(ph)))
			return 0;
		if (ph.p_type == PT_PHDR) {
			bias = phdr - ph.p_vaddr;
			have_bias = true;
		} else if (ph.p_type == PT_DYNAMIC) {
			dyn = ph.p_vaddr;
		}
	}
	if (!dyn || !have_bias)
		return 0;	/* static, or no PT_PHDR to place it */
	for (int i = 0; i < 4096; i++) {
		if (rd(mem, bias + dyn + i * sizeof(d), &d, sizeof(d)) || d.d_tag == DT_NULL)
			return 0;
		if (d.d_tag == DT_DEBUG)
			return d.d_un.d_ptr;
	}
	return 0;
}

int linkmap__read(pid_t pid, struct linkmap_entry *out, int max)
{
	uint64_t phdr = 0, phnum = 0, rdebug, lm;
	char path[64];
	int mem, n = 0, err;

	err = auxv_phdr(pid, &phdr, &phnum);
	if (err)
		return err;
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	mem = open(path, O_RDONLY | O_CLOEXEC);
	if (mem < 0)
		return -errno;
	rdebug = find_r_debug(mem, phdr, phnum);
	/* struct r_debug { int r_version; struct link_map *r_map; ... } */
	if (!rdebug || rd(mem, rdebug + 8, &lm, 8) || !lm) {
		close(mem);
		return -ENOENT;
	}
	while (lm && n < max && n < LINKMAP_MAX) {
		uint64_t l[5];	/* l_addr, l_name, l_ld, l_next, l_prev */
		struct linkmap_entry *e = &out[n];

		if (rd(mem, lm, l, sizeof(l)))
			break;
		e->base = l[0];
		e->dyn = l[2];
		e->name[0] = 0;
		if (l[1] && pread(mem, e->name, sizeof(e->name) - 1, (off_t)l[1]) <= 0)
			e->name[0] = 0;
		e->name[sizeof(e->name) - 1] = 0;
		n++;
		lm = l[3];
	}
	close(mem);
	return n ? n : -ENOENT;
}
