// SPDX-License-Identifier: MIT
/*
 * Sockets: open (in any network namespace), bind, options, sendmmsg of the
 * datagrams a tx arena holds, recvmmsg into a set of buffers parsed in C.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
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

/* Receive scaffolding for nbufs buffers of bufsize bytes. NULL/errno. */
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
	rx->mm = calloc(nbufs, sizeof(struct mmsghdr));
	rx->iov = calloc(nbufs, sizeof(struct iovec));
	rx->addr = calloc(nbufs, sizeof(struct sockaddr_nl));
	if (!rx->mm || !rx->iov || !rx->addr)
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
	free(rx->mm);
	free(rx->iov);
	free(rx->addr);
	free(rx);
}

/*
 * A file descriptor that wakes a receive blocked on another thread
 * (nlf_wake_signal): close() from any thread.  -1/errno.
 */
int nlf_wake_new(void)
{
	return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

/* Makes wake_fd readable for good. -1/errno. */
int nlf_wake_signal(int wake_fd)
{
	uint64_t one = 1;

	return write(wake_fd, &one, sizeof(one)) == sizeof(one) ? 0 : -1;
}

/*
 * Waits up to timeout_ms (-1: for ever) for fd to be readable.  -1 with
 * EAGAIN (time is up) or ECANCELED (wake_fd was signalled), or errno.
 */
static int wait_readable(int fd, int wake_fd, int timeout_ms)
{
	struct pollfd p[2] = {
		{ .fd = fd, .events = POLLIN },
		{ .fd = wake_fd, .events = POLLIN },
	};
	int r = poll(p, wake_fd < 0 ? 1 : 2, timeout_ms);

	if (r == 0) {
		errno = EAGAIN;
		return -1;
	}
	if (r > 0 && wake_fd >= 0 && p[1].revents) {
		errno = ECANCELED;
		return -1;
	}
	return r < 0 ? -1 : 0;
}

static void parse_all(const struct nlf_rx *rx, struct nlf_batch *b)
{
	uint32_t i;

	for (i = 0; i < b->ndgrams; i++) {
		const struct msghdr *h = &rx->mm[i].msg_hdr;
		uint32_t got = rx->mm[i].msg_len;
		uint32_t base = i * rx->bufsize;

		b->dg_len[i] = got;
		b->dg_pid[i] = rx->addr[i].nl_pid;
		b->dg_groups[i] = rx->addr[i].nl_groups;
		if ((h->msg_flags & MSG_TRUNC) || got > rx->bufsize) {
			b->tab.n_trunc++;
			got = rx->bufsize;
		}
		nlf_parse(b->arena + base, got, base, i, &b->tab);
	}
	b->used = b->ndgrams * rx->bufsize;
}

/*
 * Receives as many datagrams as are queued, up to rx->nbufs, into b (which
 * must have room for them: nlf_batch_init with nbufs * bufsize bytes, as
 * many datagram slots and a row per NLMSG_HDRLEN), waiting up to timeout_ms
 * for the first (0: not at all, -1: for ever), and parses every message
 * into b->tab.  Returns the number of messages (0 is possible: an empty
 * datagram), or -1/errno: EAGAIN when nothing came in time, ENOBUFS when
 * the socket overran and messages were lost, ECANCELED when wake_fd (-1:
 * none) was signalled, EINVAL when b is too small.  A datagram longer than
 * bufsize counts in tab.n_trunc.
 */
int nlf_sock_recv(int fd, int wake_fd, struct nlf_rx *rx, struct nlf_batch *b,
		  int timeout_ms)
{
	uint32_t i;
	int r;

	nlf_batch_reset(b);
	if (b->dg_cap < rx->nbufs ||
	    b->arena_len < (uint64_t)rx->nbufs * rx->bufsize ||
	    b->tab.cap < (uint64_t)rx->nbufs * rx->bufsize / NLMSG_HDRLEN) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < rx->nbufs; i++)
		fill_mmsg(&rx->mm[i], &rx->iov[i], &rx->addr[i],
			  b->arena + (size_t)i * rx->bufsize, rx->bufsize);
	/* what is queued already needs no poll() */
	r = recvmmsg(fd, rx->mm, rx->nbufs, MSG_DONTWAIT | MSG_TRUNC, NULL);
	if (r < 0 && errno == EAGAIN && timeout_ms != 0) {
		if (wait_readable(fd, wake_fd, timeout_ms) < 0)
			return -1;
		r = recvmmsg(fd, rx->mm, rx->nbufs, MSG_DONTWAIT | MSG_TRUNC,
			     NULL);
	}
	if (r < 0)
		return -1;
	b->ndgrams = (uint32_t)r;
	parse_all(rx, b);
	return (int)b->tab.count;
}

/*
 * One request with nothing else in flight, in one call: frames tmpl with
 * the next sequence number (r->seq), sends it to dst_pid (r->sent is 1 once
 * it went), and receives into b until it ends, each receive classified by
 * nlf_batch_request (mode: NLF_REQ_*; timeout_ms bounds each wait).
 * Returns 1 when it ended within one receive, with its replies in b's
 * arena [r->off, r->end) and r->error its errno; 0 when b holds a receive
 * the caller must route itself (other messages in it, replies spread over
 * datagrams or receives, a truncated datagram); -1/errno when sending or
 * receiving failed (r->sent tells which).
 */
int nlf_sock_request(int fd, int wake_fd, struct nlf_tx *tx, const void *tmpl,
		     uint32_t len, uint32_t dst_pid, struct nlf_rx *rx,
		     struct nlf_batch *b, int timeout_ms, uint32_t mode,
		     struct nlf_req *r)
{
	int64_t seq;

	r->sent = 0;
	seq = nlf_sock_send_one(fd, tx, tmpl, len, dst_pid, 0);
	if (seq < 0)
		return -1;
	r->seq = (uint32_t)seq;
	r->sent = 1;
	for (;;) {
		if (nlf_sock_recv(fd, wake_fd, rx, b, timeout_ms) < 0)
			return -1;
		if (b->tab.n_trunc)
			return 0;
		nlf_batch_request(b, r->seq, dst_pid, mode, r);
		if (r->foreign || r->gap || (r->nreplies && !r->end))
			return 0;
		if (r->term >= 0)
			return 1;
		if (r->nreplies)
			return 0;
	}
}

/* Messages framed in tx[0..end): they are whole and back to back. */
static uint64_t count_msgs(const struct nlf_tx *tx, uint32_t end)
{
	uint64_t n = 0;
	uint32_t off = 0, mlen;

	while (off + NLMSG_HDRLEN <= end) {
		memcpy(&mlen, tx->arena + off, sizeof(mlen));
		off += NLMSG_ALIGN(mlen);
		n++;
	}
	return n;
}

/*
 * Frames the messages packed back to back in buf[0..len) (see
 * nlf_tx_put_stream), each with the next sequence number, and sends them in
 * tx-sized rounds, many per datagram and many datagrams per sendmmsg.
 * *sent counts the messages that went.  Returns 0, or -1/errno (EMSGSIZE:
 * one message is larger than tx; EINVAL: a malformed stream, nothing sent)
 * with *sent telling how many went.
 */
int nlf_sock_send_stream(int fd, struct nlf_tx *tx, const void *buf,
			 uint64_t len, uint32_t dst_pid, uint32_t dst_groups,
			 uint64_t *sent)
{
	const unsigned char *p = buf;
	uint64_t off = 0;

	*sent = 0;
	nlf_tx_reset(tx);
	while (off < len) {
		int64_t n = nlf_tx_put_stream(tx, p + off, len - off);
		uint32_t framed = tx->nmsgs;

		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EMSGSIZE;
			return -1;
		}
		if (nlf_sock_flush(fd, tx, dst_pid, dst_groups) < 0) {
			uint32_t d = tx->sent;

			if (d)
				*sent += count_msgs(tx, tx->dg_off[d - 1] +
						    tx->dg_len[d - 1]);
			nlf_tx_reset(tx);
			return -1;
		}
		*sent += framed;
		off += (uint64_t)n;
	}
	return 0;
}
