/* guard.c - SIGBUS as an error, around calls that map others' files.
 *
 * leakscope reads the files it parses itself with pread (elfsym, the
 * unwinder, the symbolizer's libdwfl callbacks), but libbpf's USDT
 * support parses the interpreter's notes through a mapping of its own.
 * A process can truncate that file while it is mapped: touching the
 * mapping then raises SIGBUS.  Inside guard__call the handler jumps back
 * out of the library; anywhere else SIGBUS keeps its default (a bug of
 * ours should still crash loudly).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>

#include "util/guard.h"

static sigjmp_buf *active;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	if (active)
		siglongjmp(*active, 1);
	signal(SIGBUS, SIG_DFL);	/* not ours to catch: die of it */
	raise(SIGBUS);
}

int guard__call(int (*fn)(void *arg), void *arg)
{
	struct sigaction sa, old;
	sigjmp_buf here;
	int ret;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &old))
		return fn(arg);
	if (sigsetjmp(here, 1)) {
		ret = -EFAULT;
	} else {
		active = &here;
		ret = fn(arg);
	}
	active = NULL;
	sigaction(SIGBUS, &old, NULL);
	return ret;
}
