/* elfsym.h - find a function's file offset in an ELF file (for uprobes). */
#ifndef LEAKSCOPE_ELFSYM_H
#define LEAKSCOPE_ELFSYM_H

#include <stdint.h>
#include <sys/types.h>

struct elfsym;

/* Opens an ELF file; NULL with errno set if it is not a readable ELF. */
struct elfsym *elfsym__open(const char *path);
void elfsym__close(struct elfsym *e);

/* True if the file has a PT_INTERP (a dynamically linked program). */
int elfsym__is_dynamic(struct elfsym *e);

/* Looks `name` up among defined functions (.dynsym, then .symtab) and
 * gives its file offset, the unit uprobes are placed by, and its size in
 * bytes (st_size, 0 if unknown).  0 or -ENOENT. */
int elfsym__func(struct elfsym *e, const char *name, uint64_t *off,
		 uint64_t *size);

/* Looks up an exported data object (.dynsym) and gives its address
 * relative to where the file's offset 0 is mapped.  0 or -ENOENT. */
int elfsym__object(struct elfsym *e, const char *name, uint64_t *addr);

/* Reads len bytes at file offset off.  Returns bytes read or -errno. */
ssize_t elfsym__read(struct elfsym *e, uint64_t off, void *buf, size_t len);

#endif
