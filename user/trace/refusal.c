/* refusal.c - which program the verifier refused and why, and what to
 * give up for the rest to load (see refusal.h). */
#include <stdio.h>
#include <string.h>

#include "trace/refusal.h"

static void copy_line(char *out, size_t n, const char *s, size_t len)
{
	if (len >= n)
		len = n - 1;
	memcpy(out, s, len);
	out[len] = '\0';
}

/* Lines that close every log, refused or not: not the reason. */
static bool is_epilogue(const char *s, size_t len)
{
	static const char *const skip[] = {
		"processed ", "verification time", "stack depth", "Func#",
		"-- END PROG LOAD LOG", "Validating ",
	};

	for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		if (len >= strlen(skip[i]) && !strncmp(s, skip[i], strlen(skip[i])))
			return true;
	return false;
}

void refusal__reason(const char *log, char *out, size_t n)
{
	const char *last = NULL, *p = log;
	size_t last_len = 0;

	if (!n)
		return;
	out[0] = '\0';
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (!strncmp(p, "processed ", 10) && last)
			break;		/* the reason is the line before */
		if (len && !is_epilogue(p, len) && strncmp(p, "-- BEGIN PROG LOAD LOG", 22)) {
			last = p;
			last_len = len;
		}
		p = nl ? nl + 1 : NULL;
	}
	if (last)
		copy_line(out, n, last, last_len);
}

void refusal__feed(struct refusal *r, const char *msg)
{
	const char *log = strstr(msg, "-- BEGIN PROG LOAD LOG --");
	char name[64];

	if (!strncmp(msg, "libbpf: ", 8))	/* libbpf's own prefix */
		msg += 8;

	/* libbpf: "prog 'NAME': BPF program load failed: ..." */
	if (sscanf(msg, "prog '%63[^']': BPF program load failed", name) == 1 &&
	    strstr(msg, "BPF program load failed")) {
		if (!r->prog[0])
			snprintf(r->prog, sizeof(r->prog), "%s", name);
		if (!r->reason[0]) {	/* until the log says more */
			const char *why = strstr(msg, "failed: ");

			copy_line(r->reason, sizeof(r->reason), why ? why + 8 : msg,
				  strcspn(why ? why + 8 : msg, "\n"));
		}
	} else if (log && r->prog[0] && sscanf(msg, "prog '%63[^']'", name) == 1 &&
		   !strcmp(name, r->prog)) {
		char reason[sizeof(r->reason)];

		refusal__reason(log + strlen("-- BEGIN PROG LOAD LOG --"), reason, sizeof(reason));
		if (reason[0])
			snprintf(r->reason, sizeof(r->reason), "%s", reason);
	}
}

/* The feature a program serves alone, or 0: an allocator program (the
 * stack capture they share may be what was refused). */
static unsigned loss_of_prog(const char *prog)
{
	if (!strncmp(prog, "kmem_", 5))
		return LOSS_KERNEL;
	if (!strncmp(prog, "python_gc_", 10))
		return LOSS_PY_GC;
	if (!strcmp(prog, "python_finalize"))
		return LOSS_PY_FINALIZE;
	return 0;
}

int refusal__next(const char *prog, unsigned lost, unsigned enabled)
{
	/* the capture's optional walks, given up in this order: each alone
	 * (the one refused is then known), then both */
	static const unsigned walks[] = { 0, LOSS_PYTHON, LOSS_DWARF, LOSS_PYTHON | LOSS_DWARF };
	const unsigned both = LOSS_PYTHON | LOSS_DWARF;
	unsigned own = loss_of_prog(prog), i = 0;

	if (own) {
		if (!(enabled & own) || (lost & own))
			return -1;	/* not asked for, or given up already */
		return (int)(lost | own);
	}
	while (i < 3 && walks[i] != (lost & both))
		i++;
	for (i++; i < 4; i++)
		if ((walks[i] & enabled) == walks[i])
			return (int)((lost & ~both) | walks[i]);
	return -1;
}

const char *refusal__loss_text(enum refusal_loss l)
{
	switch (l) {
	case LOSS_PYTHON: return "Python frames (stacks show the interpreter's C frames only)";
	case LOSS_DWARF: return "the DWARF unwinder (stacks are walked by frame pointers, as with --unwind fp)";
	case LOSS_KERNEL: return "--kernel (kernel allocations are not traced)";
	case LOSS_PY_GC: return "CPython's GC pauses";
	case LOSS_PY_FINALIZE: return "reading code objects as `-- python` finalizes (lines of modules freed at exit may be missing)";
	}
	return "an unknown feature";
}
