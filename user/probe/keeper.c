/* keeper.c - probe links held by a process that is not killed with us.
 *
 * The kernel removes a uprobe when the last reference to its link goes.
 * If that last reference is dropped by a task with SIGKILL pending (an
 * OOM kill or `systemctl kill -s KILL` of leakscope while it detaches),
 * unregistering can fail: "failed to unregister, leaking uprobe", and an
 * int3 may stay in the target's code for good.  So every link fd is also
 * passed (SCM_RIGHTS) to a keeper: a child forked at start-up, in a
 * session of its own (Ctrl-C and SIGTERM are for leakscope), ignoring
 * catchable signals.  leakscope's own closes then never drop the last
 * reference; the keeper drops it, either when told (a normal exit: it
 * closes everything, concurrently so that grace periods overlap, and
 * exits) or when the socket says leakscope is gone (killed).  It holds
 * nothing else: no map, no program, no file of a target.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/kcmp.h>
#include <unistd.h>

#include "probe/keeper.h"

#define KEEPER_MAX_FDS	4096
#define KEEPER_THREADS	16

static int sock = -1;		/* leakscope's end */
static pid_t keeper_pid = -1;

struct fdset {
	int fd[KEEPER_MAX_FDS];
	int n;
};

static void *close_some(void *arg)
{
	struct fdset *s = arg;

	for (int i = 0; i < s->n; i++)
		close(s->fd[i]);
	return NULL;
}

/* The keeper closes what it holds in up to KEEPER_THREADS threads. */
static void close_all(const struct fdset *held)
{
	static struct fdset part[KEEPER_THREADS];
	pthread_t t[KEEPER_THREADS];
	bool started[KEEPER_THREADS];
	int k = held->n < KEEPER_THREADS ? held->n : KEEPER_THREADS;

	for (int i = 0; i < k; i++)
		part[i].n = 0;
	for (int i = 0; i < held->n; i++)
		part[i % k].fd[part[i % k].n++] = held->fd[i];
	for (int i = 0; i < k; i++)
		started[i] = !pthread_create(&t[i], NULL, close_some, &part[i]);
	for (int i = 0; i < k; i++) {
		if (started[i])
			pthread_join(t[i], NULL);
		else
			close_some(&part[i]);
	}
}

/* 'R': leakscope let go of a link mid-trace (a process that exited): the
 * held copy of the same open file (kcmp) is closed too. */
static void release(struct fdset *held, int fd)
{
	pid_t self = getpid();

	for (int j = 0; j < held->n; j++)
		if (syscall(SYS_kcmp, self, self, KCMP_FILE, held->fd[j], fd) == 0) {
			close(held->fd[j]);
			held->fd[j] = held->fd[--held->n];
			break;
		}
	close(fd);
}

/* One message: fds (SCM_RIGHTS) added to held ('H') or released ('R');
 * returns its first data byte, or 0 when leakscope is gone. */
static char receive(int s, struct fdset *held)
{
	char data = 0, ctl[CMSG_SPACE(sizeof(int) * 250)];
	struct iovec iov = { &data, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	ssize_t n;

	do
		n = recvmsg(s, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		int nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int fds[250];

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		if (nfd > 250)		/* the control buffer holds no more */
			nfd = 250;
		memcpy(fds, CMSG_DATA(c), nfd * sizeof(int));
		for (int i = 0; i < nfd; i++) {
			if (data == 'R')
				release(held, fds[i]);
			else if (held->n < KEEPER_MAX_FDS)
				held->fd[held->n++] = fds[i];
			else
				close(fds[i]);	/* beyond what we keep: as before */
		}
	}
	return data;
}

static void keeper_main(int s)
{
	static struct fdset held;
	sigset_t all;

	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	/* nothing of leakscope's but the socket: not its stdout (a pipe's
	 * reader would wait for us), no map, no target's file */
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
	}
	if (s > 3)
		close_range(3, s - 1, 0);
	close_range(s + 1, ~0U, 0);
	setsid();		/* not in leakscope's process group: ^C is not ours */
	prctl(PR_SET_NAME, "leakscope-keep");
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);	/* SIGKILL/SIGSTOP aside */
	for (;;) {
		char c = receive(s, &held);

		if (c == 'F' || c == 0)		/* finish, or leakscope is gone */
			break;
	}
	close_all(&held);
	_exit(0);
}

int keeper__start(void)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -errno;
	}
	if (pid == 0) {
		close(sv[0]);
		keeper_main(sv[1]);
	}
	close(sv[1]);
	sock = sv[0];
	keeper_pid = pid;
	return 0;
}

static int send_msg(char data, const int *fd)
{
	char ctl[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { &data, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (fd) {
		struct cmsghdr *c;

		msg.msg_control = ctl;
		msg.msg_controllen = sizeof(ctl);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), fd, sizeof(int));
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : -errno;
}

void keeper__hold(int fd)
{
	if (sock >= 0 && fd >= 0)
		send_msg('H', &fd);
}

void keeper__release(int fd)
{
	if (sock >= 0 && fd >= 0)
		send_msg('R', &fd);
}

void keeper__finish(void)
{
	int status;

	if (sock < 0)
		return;
	send_msg('F', NULL);
	close(sock);
	sock = -1;
	while (waitpid(keeper_pid, &status, 0) < 0 && errno == EINTR)
		;
	keeper_pid = -1;
}
