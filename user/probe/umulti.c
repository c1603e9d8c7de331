/* umulti.c - uprobe-multi links (kernel >= 6.6): one link attaches one BPF
 * program at many offsets of one file, and detaching it waits for the
 * kernel's grace periods once, instead of once per probe (~100 ms each on
 * this VM).  Debian's libbpf 1.1 has no API for them: the link is created
 * with the raw bpf(BPF_LINK_CREATE) call, with the attribute layout of the
 * kernel's uapi (which the 6.1 headers lack, so it is spelled out here).
 * Programs attached this way must be loaded with expected_attach_type
 * BPF_TRACE_UPROBE_MULTI; whether the kernel has the feature is probed
 * before the real programs are loaded, and without it leakscope keeps
 * the perf-event uprobes.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/bpf.h>

#include "probe/umulti.h"

/* BPF_LINK_CREATE's attribute for uprobe-multi links (uapi, Linux 6.6) */
struct link_create_uprobe_multi {
	__u32 prog_fd;
	__u32 target_fd;
	__u32 attach_type;
	__u32 flags;
	__u64 path;
	__u64 offsets;
	__u64 ref_ctr_offsets;
	__u64 cookies;
	__u32 cnt;
	__u32 multi_flags;
	__u32 pid;
	__u32 pad;
	__u8 rest[64];	/* the rest of union bpf_attr: zero */
};

int umulti__link(int prog_fd, const char *path, const uint64_t *offsets, uint32_t n,
		 bool retprobe, pid_t pid)
{
	struct link_create_uprobe_multi a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.prog_fd = prog_fd;
	a.attach_type = UMULTI_ATTACH_TYPE;
	a.path = (uintptr_t)path;
	a.offsets = (uintptr_t)offsets;
	a.cnt = n;
	a.multi_flags = retprobe ? 1 /* BPF_F_UPROBE_MULTI_RETURN */ : 0;
	a.pid = pid > 0 ? (uint32_t)pid : 0;
	fd = syscall(__NR_bpf, BPF_LINK_CREATE, &a, sizeof(a));
	return fd < 0 ? -errno : fd;
}

/* "r0 = 0; exit", a kprobe-type program for uprobe-multi links. */
static int load_probe_prog(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_KPROBE;
	a.expected_attach_type = UMULTI_ATTACH_TYPE;
	a.insns = (uintptr_t)insns;
	a.insn_cnt = 2;
	a.license = (uintptr_t)"GPL";
	fd = syscall(__NR_bpf, BPF_PROG_LOAD, &a, sizeof(a));
	return fd < 0 ? -errno : fd;
}

struct self_text {
	uint64_t addr;		/* an instruction of ours */
	uint64_t off;		/* its offset in our executable's file */
};

static int find_self(struct dl_phdr_info *info, size_t size, void *data)
{
	struct self_text *t = data;

	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uint64_t lo = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) &&
		    t->addr >= lo && t->addr < lo + ph->p_filesz) {
			t->off = t->addr - lo + ph->p_offset;
			return 1;
		}
	}
	return 1;	/* the first object is the executable: stop there */
}

bool umulti__supported(void)
{
	struct self_text t = { .addr = (uintptr_t)umulti__supported };
	int prog = load_probe_prog(), link = -1;

	dl_iterate_phdr(find_self, &t);
	if (prog >= 0 && t.off)
		link = umulti__link(prog, "/proc/self/exe", &t.off, 1, false, getpid());
	if (link >= 0)
		close(link);
	if (prog >= 0)
		close(prog);
	return link >= 0;
}
