// SPDX-License-Identifier: MIT
/*
 * Sockets: open (in any network namespace), bind, options, sendmmsg of the
 * datagrams a tx arena holds, recvmmsg into a set of buffers parsed in C.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nlf.h"

#define NLF_VLEN_MAX 1024	/* UIO_MAXIOV: the most sendmmsg takes */

/*
 * Opens a netlink socket of protocol proto, close-on-exec, in the network
 * namespace netns_fd refers to (-1: the caller's).  The calling thread alone
 * enters the namespace and comes back before returning.  Returns the fd or
 * -1 with errno.
 */
int nlf_sock_open(int proto, int netns_fd)
{
	int fd, self, err;

	if (netns_fd < 0)
		return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, proto);
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -1;
	if (setns(netns_fd, CLONE_NEWNET) < 0)
		goto err_close;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, proto);
	err = errno;
	if (setns(self, CLONE_NEWNET) < 0)
		abort();	/* this thread would talk to the wrong namespace */
	close(self);
	errno = err;
	return fd;

err_close:
	err = errno;
	close(self);
	errno = err;
	return -1;
}

/* Binds to portid (0: the kernel picks) and the group mask. -1/errno. */
int nlf_sock_bind(int fd, uint32_t portid, uint32_t groups)
{
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK, .nl_pid = portid, .nl_groups = groups,
	};

	return bind(fd, (struct sockaddr *)&sa, sizeof(sa));
}

/* The socket's port id (0 until bound or first send). -1/errno. */
int nlf_sock_portid(int fd, uint32_t *portid)
{
	struct sockaddr_nl sa;
	socklen_t len = sizeof(sa);

	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	*portid = sa.nl_pid;
	return 0;
}

/* An int-valued option at any level (SOL_NETLINK, SOL_SOCKET). -1/errno. */
int nlf_sock_setopt(int fd, int level, int opt, int val)
{
	return setsockopt(fd, level, opt, &val, sizeof(val));
}

int nlf_sock_getopt(int fd, int level, int opt, int *val)
{
	socklen_t len = sizeof(*val);

	return getsockopt(fd, level, opt, val, &len);
}

/* SO_MEMINFO: n counters (SK_MEMINFO_*), drops included. -1/errno. */
int nlf_sock_meminfo(int fd, uint32_t *out, uint32_t n)
{
	socklen_t len = n * sizeof(uint32_t);

	memset(out, 0, len);
	return getsockopt(fd, SOL_SOCKET, SO_MEMINFO, out, &len);
}

static void fill_mmsg(struct mmsghdr *m, struct iovec *iov,
		      struct sockaddr_nl *sa, void *base, uint32_t len)
{
	memset(m, 0, sizeof(*m));
	iov->iov_base = base;
	iov->iov_len = len;
	m->msg_hdr.msg_iov = iov;
	m->msg_hdr.msg_iovlen = 1;
	m->msg_hdr.msg_name = sa;
	m->msg_hdr.msg_namelen = sizeof(*sa);
}

/*
 * Sends every datagram framed in tx that is not sent yet, many per
 * sendmmsg, to dst_pid (0: the kernel) and dst_groups (to groups alone on a
 * protocol with no kernel socket: one datagram per call, see below).  Returns 0 when all
 * went and tx is reset for reuse; -1/errno otherwise, with tx->sent telling
 * how far it got (EAGAIN on a non-blocking socket: call again).
 */
int nlf_sock_flush(int fd, struct nlf_tx *tx, uint32_t dst_pid,
		   uint32_t dst_groups)
{
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK, .nl_pid = dst_pid,
		.nl_groups = dst_groups,
	};

	if (nlf_tx_close(tx) < 0)
		return -1;
	while (tx->sent < tx->ndgrams) {
		uint32_t i, n = tx->ndgrams - tx->sent;
		int r;

		if (n > NLF_VLEN_MAX)
			n = NLF_VLEN_MAX;
		for (i = 0; i < n; i++) {
			uint32_t d = tx->sent + i;

			fill_mmsg(&tx->mm[i], &tx->iov[i], &sa,
				  tx->arena + tx->dg_off[d], tx->dg_len[d]);
		}
		r = sendmmsg(fd, tx->mm, n, 0);
		if (r < 0 && errno == ECONNREFUSED && dst_groups && !dst_pid) {
			/*
			 * Broadcast first, then unicast to port 0: a protocol
			 * without a kernel socket (USERSOCK) refuses the
			 * unicast after the group got the datagram.
			 */
			r = 1;
		}
		if (r < 0)
			return -1;
		tx->sent += (uint32_t)r;
	}
	nlf_tx_reset(tx);
	return 0;
}

/*
 * Frames the message tmpl[0..len) with the next sequence number and sends
 * it, in one call.  Returns its seq, or -1/errno (ENOSPC: larger than tx).
 */
int64_t nlf_sock_send_one(int fd, struct nlf_tx *tx, const void *tmpl,
			  uint32_t len, uint32_t dst_pid, uint32_t dst_groups)
{
	uint32_t seq = tx->seq;
	int64_t n;

	nlf_tx_reset(tx);
	n = nlf_tx_put_repeat(tx, tmpl, len, 1);
	if (n != 1)
		return -1;
	if (nlf_sock_flush(fd, tx, dst_pid, dst_groups) < 0) {
		nlf_tx_reset(tx);
		return -1;
	}
	return seq;
}

/*
 * Frames and sends count copies of the message tmpl[0..len), numbered from
 * tx's sequence counter, in tx-sized rounds.  *sent counts the messages that
 * went out.  Returns 0, or -1/errno with *sent telling how many went.
 */
int nlf_sock_send_repeat(int fd, struct nlf_tx *tx, const void *tmpl,
			 uint32_t len, uint64_t count, uint32_t dst_pid,
			 uint32_t dst_groups, uint64_t *sent)
{
	*sent = 0;
	nlf_tx_reset(tx);
	while (*sent < count) {
		int64_t n = nlf_tx_put_repeat(tx, tmpl, len, count - *sent);

		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EMSGSIZE;	/* one message is larger than tx */
			return -1;
		}
		if (nlf_sock_flush(fd, tx, dst_pid, dst_groups) < 0) {
			uint32_t d = tx->sent, bytes = 0;

			/* whole datagrams of equal-sized messages went */
			if (d)
				bytes = tx->dg_off[d - 1] + tx->dg_len[d - 1];
			*sent += bytes / NLMSG_ALIGN(len);
			nlf_tx_reset(tx);
			return -1;
		}
		*sent += (uint64_t)n;
	}
	return 0;
}

/* nbufs receive buffers of bufsize bytes (a multiple of 4). NULL/errno. */
struct nlf_rx *nlf_rx_new(uint32_t nbufs, uint32_t bufsize)
{
	struct nlf_rx *rx;
	uint64_t total = (uint64_t)nbufs * bufsize;

	if (!nbufs || nbufs > NLF_VLEN_MAX || bufsize < NLMSG_HDRLEN ||
	    bufsize % 4 || total > (1u << 30)) {
		errno = EINVAL;
		return NULL;
	}
	rx = calloc(1, sizeof(*rx));
	if (!rx)
		goto err;
	rx->nbufs = nbufs;
	rx->bufsize = bufsize;
	rx->arena = malloc(total);
	rx->dg_len = calloc(nbufs, sizeof(uint32_t));
	rx->dg_pid = calloc(nbufs, sizeof(uint32_t));
	rx->dg_groups = calloc(nbufs, sizeof(uint32_t));
	rx->mm = calloc(nbufs, sizeof(struct mmsghdr));
	rx->iov = calloc(nbufs, sizeof(struct iovec));
	rx->addr = calloc(nbufs, sizeof(struct sockaddr_nl));
	if (!rx->arena || !rx->dg_len || !rx->dg_pid || !rx->dg_groups ||
	    !rx->mm || !rx->iov || !rx->addr)
		goto err_free;
	if (nlf_table_init(&rx->tab, (uint32_t)(total / NLMSG_HDRLEN)) < 0)
		goto err_free;
	return rx;

err_free:
	nlf_rx_free(rx);
err:
	errno = ENOMEM;
	return NULL;
}

void nlf_rx_free(struct nlf_rx *rx)
{
	if (!rx)
		return;
	nlf_table_fini(&rx->tab);
	free(rx->arena);
	free(rx->dg_len);
	free(rx->dg_pid);
	free(rx->dg_groups);
	free(rx->mm);
	free(rx->iov);
	free(rx->addr);
	free(rx);
}

/* Waits up to timeout_ms (-1: for ever) for the socket to be readable. */
static int wait_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r = poll(&p, 1, timeout_ms);

	if (r == 0) {
		errno = EAGAIN;
		return -1;
	}
	return r < 0 ? -1 : 0;
}

static void parse_all(struct nlf_rx *rx)
{
	uint32_t i;

	for (i = 0; i < rx->ndgrams; i++) {
		struct msghdr *h = &rx->mm[i].msg_hdr;
		uint32_t got = rx->mm[i].msg_len;
		uint32_t base = i * rx->bufsize;

		rx->dg_len[i] = got;
		rx->dg_pid[i] = rx->addr[i].nl_pid;
		rx->dg_groups[i] = rx->addr[i].nl_groups;
		if ((h->msg_flags & MSG_TRUNC) || got > rx->bufsize) {
			rx->tab.n_trunc++;
			got = rx->bufsize;
		}
		nlf_parse(rx->arena + base, got, base, i, &rx->tab);
	}
}

/*
 * Receives as many datagrams as are queued, up to nbufs, waiting up to
 * timeout_ms for the first (0: not at all, -1: for ever), and parses every
 * message into rx->tab.  Returns the number of messages (0 is possible: an
 * empty datagram), or -1/errno: EAGAIN when nothing came in time, ENOBUFS
 * when the socket overran and messages were lost.  A datagram longer than
 * bufsize counts in tab.n_trunc.
 */
int nlf_sock_recv(int fd, struct nlf_rx *rx, int timeout_ms)
{
	uint32_t i;
	int r;

	rx->ndgrams = 0;
	nlf_table_reset(&rx->tab);
	for (i = 0; i < rx->nbufs; i++)
		fill_mmsg(&rx->mm[i], &rx->iov[i], &rx->addr[i],
			  rx->arena + (size_t)i * rx->bufsize, rx->bufsize);
	/* what is queued already needs no poll() */
	r = recvmmsg(fd, rx->mm, rx->nbufs, MSG_DONTWAIT | MSG_TRUNC, NULL);
	if (r < 0 && errno == EAGAIN && timeout_ms != 0) {
		if (wait_readable(fd, timeout_ms) < 0)
			return -1;
		r = recvmmsg(fd, rx->mm, rx->nbufs, MSG_DONTWAIT | MSG_TRUNC,
			     NULL);
	}
	if (r < 0)
		return -1;
	rx->ndgrams = (uint32_t)r;
	parse_all(rx);
	return (int)rx->tab.count;
}
