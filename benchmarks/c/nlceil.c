/*
 * nlceil: the C ceiling client of the nlfast benchmarks, independent of
 * nlfast's shim.  It batches as well as userspace can (many messages per
 * datagram, many datagrams per sendmmsg/recvmmsg, 32 KiB buffers, a forced
 * large SO_RCVBUF), checks every message in place and does the workload's
 * work on it.  Each run prints one JSON object on stdout; see usage().
 */
#define _GNU_SOURCE
#include <err.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>	/* and with it if_link.h, if_addr.h */

#include "nlfast_family.h"

#define USERSOCK_TYPE NLMSG_MIN_TYPE	/* what usersock workloads carry */
#define END_TYPE (USERSOCK_TYPE + 1)	/* ends a usersock receive */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The options: --NAME VALUE sets the field NAME (see OPTS); the rest are fixed. */
static struct {
	uint64_t count, repeat, window, size, group, batch, ack, ifindex, proto, dest, rcvbuf;
	double timeout;
	size_t vlen, bufsize, sndbuf;
} O = {
	.count = 1000000, .repeat = 1, .window = 64, .size = 16, .batch = 64, .vlen = 64,
	.ifindex = 1, .proto = NLFAM_PROTO_DEFAULT, .timeout = 5.0, .bufsize = 32768,
	.rcvbuf = 32 << 20, .sndbuf = 32 << 20,
};

/* Counters; each workload prints those it uses. */
static struct {
	uint64_t datagrams, syscalls, errors, acks, malformed, truncated, unexpected, missing;
	uint64_t enobufs, timeouts, refused, intr, sum;
	uint64_t gaps, gap_msgs, out_of_order, size_mismatch;	/* index_seen()'s */
	uint32_t expect;	/* index_seen(): the next seq or NLFAM_A_INDEX */
	int first_error;
} S;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *xmalloc(size_t n)
{
	void *p = NULL;

	if (posix_memalign(&p, 4096, n ? n : 1))
		errx(1, "out of memory (%zu bytes)", n);
	return memset(p, 0, n);
}

/* Counts an answer: an error (the first one kept), or 0: an ack. */
static void answer(int err)
{
	if (!err)
		S.acks++;
	else if (!S.errors++)
		S.first_error = err < 0 ? -err : err;
}

static void index_seen(uint32_t idx)
{
	if (idx < S.expect) {
		S.out_of_order++;
		return;
	}
	S.gaps += idx > S.expect;
	S.gap_msgs += idx - S.expect;
	S.expect = idx + 1;
}

/*
 * The run's JSON object on stdout (a pipe: fully buffered, never cut): the
 * workload, its count and time, then the workload's own (key, uint64_t)
 * pairs up to a NULL key, then the counters every workload has.
 */
static void report(const char *workload, uint64_t count, double seconds, ...)
{
	const char *k[] = { "errors", "malformed", "truncated", "unexpected", "missing",
			    "enobufs", "timeouts", "checksum", "batch", "datagrams", "syscalls",
			    "maxrss_kib" };
	uint64_t v[] = { S.errors, S.malformed, S.truncated, S.unexpected, S.missing, S.enobufs,
			 S.timeouts, S.sum, O.batch, S.datagrams, S.syscalls, 0 };
	struct rusage ru;
	const char *key;
	unsigned int i;
	va_list ap;

	printf("{\"workload\": \"%s\", \"count\": %" PRIu64 ", \"seconds\": %.6f, \"rate\": %.1f",
	       workload, count, seconds, seconds > 0 ? (double)count / seconds : 0.0);
	va_start(ap, seconds);
	while ((key = va_arg(ap, const char *)))
		printf(", \"%s\": %" PRIu64, key, va_arg(ap, uint64_t));
	va_end(ap);
	getrusage(RUSAGE_SELF, &ru);
	v[11] = (uint64_t)ru.ru_maxrss;
	for (i = 0; i < ARRAY_SIZE(v); i++)
		printf(", \"%s\": %" PRIu64, k[i], v[i]);
	if (S.first_error)	/* strerror() texts hold no quote or backslash */
		printf(", \"first_error\": \"%s\"", strerror(S.first_error));
	puts("}");
}

/* Sockets */

static void set_buf(int fd, int force_opt, int opt, uint64_t bytes)
{
	int v = bytes > 0x7fffffff ? 0x7fffffff : (int)bytes;

	if (bytes > 0 && setsockopt(fd, SOL_SOCKET, force_opt, &v, sizeof(v)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, opt, &v, sizeof(v));
}

/*
 * A bound netlink socket (port id in *portid), a member of `group' if not 0,
 * its receives timing out after `timeout' seconds if > 0.
 */
static int nl_open(int proto, unsigned int group, uint32_t *portid, double timeout)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { (time_t)timeout, (suseconds_t)((timeout - (long)timeout) * 1e6) + 1 };
	socklen_t sl = sizeof(sa);
	int one = 1, g = (int)group, fd;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, proto);
	if (fd < 0)
		err(1, "socket(AF_NETLINK, SOCK_RAW, %d)", proto);
	set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, O.rcvbuf);
	set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, O.sndbuf);
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		err(1, "bind(netlink proto %d)", proto);
	if (getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
		err(1, "getsockname");
	if (group && setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)) < 0)
		err(1, "NETLINK_ADD_MEMBERSHIP %u", group);
	if (timeout > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		err(1, "SO_RCVTIMEO");
	if (portid)
		*portid = sa.nl_pid;
	return fd;
}

/* O.vlen datagram buffers of `each' bytes for recvmmsg or sendmmsg */
struct ring {
	char *buf;
	struct mmsghdr *m;
	struct iovec *iov;
	struct sockaddr_nl dst;	/* sending: where to */
	size_t msglen;	/* sending: the length of one message */
};

static struct ring R;	/* every workload's receive ring: O.vlen x O.bufsize */

static void ring_init(struct ring *r, size_t each)
{
	unsigned int i;

	r->buf = xmalloc((size_t)O.vlen * each);
	r->m = xmalloc(sizeof(*r->m) * O.vlen);
	r->iov = xmalloc(sizeof(*r->iov) * O.vlen);
	for (i = 0; i < O.vlen; i++) {
		r->iov[i].iov_base = r->buf + (size_t)i * each;
		r->iov[i].iov_len = each;
		r->m[i].msg_hdr.msg_iov = &r->iov[i];
		r->m[i].msg_hdr.msg_iovlen = 1;
	}
}

/* recvmmsg: datagrams; 0 if none came in time; -1 after ENOBUFS (counted). */
static int rx_recv(int fd, int flags)
{
	int n;

	while ((n = recvmmsg(fd, R.m, O.vlen, flags, NULL)) < 0 && errno == EINTR)
		;
	S.syscalls++;
	if (n < 0 && errno != ENOBUFS && errno != EAGAIN && errno != EWOULDBLOCK)
		err(1, "recvmmsg");
	S.enobufs += n < 0 && errno == ENOBUFS;
	S.datagrams += n > 0 ? (uint64_t)n : 0;
	return n < 0 && errno != ENOBUFS ? 0 : n;
}

/*
 * Runs the body for every message `h' of the n datagrams of the last
 * receive: the NLMSG_OK walk with a signed remaining length; a bad length
 * stops the datagram's walk and counts.  A truncated datagram counts too,
 * its first O.bufsize bytes walked (msg_len, as MSG_TRUNC is not asked for).
 */
#define FOR_EACH_MSG(h, n, ...)                                                    \
	for (int i_ = 0; i_ < (n); i_++) {                                         \
		const char *p_ = R.buf + (size_t)i_ * O.bufsize;                   \
		long rem_ = (long)R.m[i_].msg_len;                                 \
		S.truncated += !!(R.m[i_].msg_hdr.msg_flags & MSG_TRUNC);          \
		while (rem_ >= (long)NLMSG_HDRLEN) {                               \
			const struct nlmsghdr *h = (const void *)p_;               \
			if (h->nlmsg_len < NLMSG_HDRLEN || (long)h->nlmsg_len > rem_) { \
				S.malformed++;                                     \
				break;                                             \
			}                                                          \
			__VA_ARGS__;                                               \
			p_ += NLMSG_ALIGN(h->nlmsg_len);                           \
			rem_ -= (long)NLMSG_ALIGN(h->nlmsg_len);                   \
		}                                                                  \
	}

/* The error of an NLMSG_ERROR or NLMSG_DONE message (0: an ack). */
static int nl_errcode(const struct nlmsghdr *h)
{
	int e;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(int))) {
		S.malformed++;
		return -EBADMSG;
	}
	memcpy(&e, NLMSG_DATA(h), sizeof(e));
	return e;
}

/* Attribute `type' after a family header of `hdrlen' bytes; NULL if absent
 * or malformed (every attribute header on the way is checked). */
static const struct nlattr *msg_attr(const struct nlmsghdr *h, size_t hdrlen, uint16_t type)
{
	long off = (long)NLMSG_LENGTH(NLMSG_ALIGN(hdrlen)), rem = (long)h->nlmsg_len - off;
	const char *p = (const char *)h + off;

	if ((long)h->nlmsg_len < (long)NLMSG_LENGTH(hdrlen)) {
		S.malformed++;
		return NULL;
	}
	while (rem >= (long)NLA_HDRLEN) {
		const struct nlattr *a = (const void *)p;

		if (a->nla_len < NLA_HDRLEN || (long)a->nla_len > rem) {
			S.malformed++;
			return NULL;
		}
		if ((a->nla_type & NLA_TYPE_MASK) == type)
			return a;
		p += NLA_ALIGN(a->nla_len);
		rem -= (long)NLA_ALIGN(a->nla_len);
	}
	return NULL;
}

static const void *nla_data(const struct nlattr *a) { return (const char *)a + NLA_HDRLEN; }
static long nla_plen(const struct nlattr *a) { return (long)a->nla_len - NLA_HDRLEN; }

/* The u32 in attribute a into *v; 0 (counted) if absent or short. */
static int attr_u32(const struct nlattr *a, uint32_t *v)
{
	if (!a || nla_plen(a) < 4) {
		S.missing++;
		return 0;
	}
	memcpy(v, nla_data(a), 4);
	return 1;
}

/*
 * Framing, shared by every workload.  frame() starts a message of `type' with
 * a zeroed family header of `hdrlen' bytes in buf (`size' bytes, zeroed);
 * put_attr() appends an attribute (its data copied, or left for the caller
 * to fill when NULL) and returns where its data goes.
 */
static struct nlmsghdr *frame(void *buf, size_t size, uint16_t type, uint16_t flags, size_t hdrlen)
{
	struct nlmsghdr *h = memset(buf, 0, size);

	*h = (struct nlmsghdr){ (uint32_t)NLMSG_LENGTH(hdrlen), type, flags, 0, 0 };
	return h;
}

static void *put_attr(struct nlmsghdr *h, uint16_t type, const void *data, size_t len)
{
	char *a = (char *)h + NLMSG_ALIGN(h->nlmsg_len);

	*(struct nlattr *)a = (struct nlattr){ (uint16_t)(NLA_HDRLEN + len), type };
	if (data)
		memcpy(a + NLA_HDRLEN, data, len);
	h->nlmsg_len = (uint32_t)((size_t)(a - (char *)h) + NLA_ALIGN(NLA_HDRLEN + len));
	return a + NLA_HDRLEN;
}

static void put_u32(struct nlmsghdr *h, uint16_t type, uint32_t v) { put_attr(h, type, &v, 4); }

static const struct sockaddr_nl KERNEL = { .nl_family = AF_NETLINK };

/*
 * O.vlen datagrams of O.batch copies of `tmpl' (its length aligned).  The
 * batch is clamped so that a datagram fits an O.bufsize receive buffer.
 */
static void tx_init(struct ring *t, const struct nlmsghdr *tmpl, const struct sockaddr_nl *dst)
{
	size_t msglen = NLMSG_ALIGN(tmpl->nlmsg_len);
	unsigned int i;

	if ((size_t)O.batch * msglen > O.bufsize)
		O.batch = O.bufsize / msglen ? O.bufsize / msglen : 1;
	ring_init(t, (size_t)O.batch * msglen);
	t->msglen = msglen;
	t->dst = *dst;
	for (i = 0; i < O.vlen * O.batch; i++)
		memcpy(t->buf + i * msglen, tmpl, msglen);
	for (i = 0; i < O.vlen; i++) {
		t->m[i].msg_hdr.msg_name = &t->dst;
		t->m[i].msg_hdr.msg_namelen = sizeof(t->dst);
	}
}

/*
 * Sends up to `want' messages (at most O.vlen datagrams), seqs *seq, *seq+1,
 * ..., the last wanted one with `last_flags' if among them; returns how many.
 * A usersock multicast also unicasts to port id 0, which no socket owns:
 * ECONNREFUSED comes *after* the broadcast went out, so that datagram counts.
 */
static uint32_t tx_send(int fd, struct ring *t, uint64_t want, uint32_t *seq, uint16_t last_flags)
{
	uint64_t cap = (uint64_t)O.vlen * O.batch;
	uint32_t k = (uint32_t)(want < cap ? want : cap), ndg, off = 0, j;

	for (j = 0; j < k; j++)
		((struct nlmsghdr *)(t->buf + j * t->msglen))->nlmsg_seq = (*seq)++;
	if (k == want)
		((struct nlmsghdr *)(t->buf + (k - 1) * t->msglen))->nlmsg_flags |= last_flags;
	for (ndg = 0; (size_t)ndg * O.batch < k; ndg++)
		t->iov[ndg].iov_len = (k - ndg * O.batch < O.batch ? k - ndg * O.batch : O.batch)
				      * t->msglen;
	while (off < ndg) {
		int n = sendmmsg(fd, t->m + off, ndg - off, 0);

		S.syscalls++;
		if (n < 0 && errno == ECONNREFUSED && t->dst.nl_groups) {
			S.refused++;
			n = 1;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0) {
			err(1, "sendmmsg");
		}
		S.datagrams += (uint64_t)n;
		off += (unsigned int)n;
	}
	return k;
}

static unsigned char pat(size_t i) { return (unsigned char)(i * 131u + 7u); }

/* O.size pattern bytes: a family request's NLFAM_A_DATA (fam), or bare (usersock). */
static struct nlmsghdr *data_msg(uint16_t type, int fam)
{
	size_t len = NLMSG_SPACE(NLA_HDRLEN + O.size), i;
	struct nlmsghdr *h = frame(xmalloc(len), len, type, fam ? NLM_F_REQUEST : 0,
				   fam ? 0 : O.size);
	char *d = fam ? put_attr(h, NLFAM_A_DATA, NULL, O.size) : NLMSG_DATA(h);

	for (i = 0; i < O.size; i++)
		d[i] = (char)pat(i);
	return h;
}

/* Requests and dumps: linkdump, addrdump, dump, getlink, echo */

typedef int (*entry_fn)(const struct nlmsghdr *h);

/* An RTM_NEWLINK with a non-empty IFLA_IFNAME. */
static int link_entry(const struct nlmsghdr *h)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	const struct nlattr *a = msg_attr(h, sizeof(*ifi), IFLA_IFNAME);
	const char *z;

	if (h->nlmsg_type != RTM_NEWLINK || !a) {
		S.unexpected += h->nlmsg_type != RTM_NEWLINK;
		S.missing += !a;
		return 0;
	}
	z = memchr(nla_data(a), 0, (size_t)nla_plen(a));
	if (!z || z == nla_data(a)) {
		S.malformed++;
		return 0;
	}
	S.sum += (uint64_t)(z - (const char *)nla_data(a)) + (uint32_t)ifi->ifi_index;
	return 1;
}

/* getlink's replies: link entries of --ifindex. */
static int link_reply(const struct nlmsghdr *h)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(h);

	return link_entry(h) && ifi->ifi_index == (int)O.ifindex;
}

/* IFA_ADDRESS and IFA_LOCAL, each read as a u32. */
static int addr_entry(const struct nlmsghdr *h)
{
	uint32_t addr, local;

	if (h->nlmsg_type != RTM_NEWADDR) {
		S.unexpected++;
		return 0;
	}
	if (!attr_u32(msg_attr(h, sizeof(struct ifaddrmsg), IFA_ADDRESS), &addr) ||
	    !attr_u32(msg_attr(h, sizeof(struct ifaddrmsg), IFA_LOCAL), &local))
		return 0;
	S.sum += addr + local;
	return 1;
}

/* A flood or dump entry: its type, NLFAM_A_INDEX in order, NLFAM_A_DATA's size. */
static int fam_entry(const struct nlmsghdr *h, uint16_t type)
{
	const struct nlattr *a;
	uint32_t idx;

	if (h->nlmsg_type != type) {
		S.unexpected++;
		return 0;
	}
	if (!attr_u32(msg_attr(h, 0, NLFAM_A_INDEX), &idx))
		return 0;
	index_seen(idx);
	a = msg_attr(h, 0, NLFAM_A_DATA);
	S.size_mismatch += a && nla_plen(a) != (long)O.size;
	S.sum += idx;
	return 1;
}

static int fam_dump_entry(const struct nlmsghdr *h) { return fam_entry(h, NLFAM_MSG_DUMP); }

/* An NLFAM_MSG_ECHO with NLFAM_A_DATA of O.size pattern bytes (first and last checked). */
static int echo_check(const struct nlmsghdr *h)
{
	const struct nlattr *a = msg_attr(h, 0, NLFAM_A_DATA);
	const unsigned char *d;

	if (h->nlmsg_type != NLFAM_MSG_ECHO || !a || nla_plen(a) != (long)O.size)
		return 0;
	d = nla_data(a);
	if (O.size && (d[0] != pat(0) || d[O.size - 1] != pat(O.size - 1)))
		return 0;
	S.sum += O.size ? d[O.size - 1] : 1;
	return 1;
}

/*
 * Requests: O.window in flight (getlink, echo), or one at a time (the dumps:
 * linkdump, addrdump --repeat times; the family's dump), a ring's slots holding
 * their seqs.  A request is done at its reply (--ack: its ack), a dump at its
 * NLMSG_DONE.  --window 1: one request per syscall pair (sendmmsg, recvmmsg).
 */
static void run_req(const char *name, int proto, struct nlmsghdr *req, entry_fn check)
{
	int dump = !!(req->nlmsg_flags & NLM_F_DUMP), fd = nl_open(proto, 0, NULL, O.timeout);
	uint64_t N = dump ? O.repeat : O.count, W = dump ? 1 : O.window, sent = 0, inflight = 0;
	uint64_t ok = 0, bad = 0, lost = 0, unmatched = 0, first = 0;
	uint32_t seq = 1, ring = 1, mask, *ring_seq;	/* a slot's seq, 0: free */
	struct ring t;
	double t0;

	if (dump)
		O.batch = 1;	/* one request at a time: a send ring no bigger */
	else if (O.ack)
		req->nlmsg_flags |= NLM_F_ACK;
	while (ring < 2 * W)
		ring <<= 1;
	mask = ring - 1;
	ring_seq = xmalloc(sizeof(uint32_t) * ring);
	tx_init(&t, req, &KERNEL);
	t0 = now();
	while (sent < N || inflight) {
		/* Refill when a datagram's worth of the window is free (or the
		 * rest of the run fits), so that the peer gets full datagrams. */
		uint64_t need = N - sent < O.batch ? N - sent : O.batch, can = W - inflight;
		uint32_t k, s;
		int n;

		if (sent < N && can >= (need < W ? need : W)) {
			k = tx_send(fd, &t, can < N - sent ? can : N - sent, &seq, 0);
			for (s = seq - k; s != seq; s++) {
				if (ring_seq[s & mask]) {	/* never answered */
					lost++;
					inflight--;
				}
				ring_seq[s & mask] = s;
			}
			sent += k;
			inflight += k;
		}
		if (!inflight)
			continue;
		n = rx_recv(fd, MSG_WAITFORONE);
		if (n <= 0) {	/* replies were dropped or never came: forget them */
			S.timeouts += !n;
			while (rx_recv(fd, MSG_DONTWAIT))
				;
			lost += inflight;
			inflight = 0;
			memset(ring_seq, 0, sizeof(uint32_t) * ring);
			continue;
		}
		FOR_EACH_MSG(h, n, {
			uint32_t slot = h->nlmsg_seq & mask;
			int fin = !dump;

			if (!h->nlmsg_seq || ring_seq[slot] != h->nlmsg_seq) {
				unmatched++;
				S.unexpected += dump;	/* a dump's answers all have its seq */
				fin = 0;
			} else if (h->nlmsg_type == NLMSG_ERROR ||
				   (dump && h->nlmsg_type == NLMSG_DONE)) {
				answer(nl_errcode(h));
				first = h->nlmsg_seq == 1 ? ok : first;	/* per_dump */
				fin = 1;
			} else {
				S.intr += !!(h->nlmsg_flags & NLM_F_DUMP_INTR);
				if (check(h)) {
					ok++;
					fin &= !O.ack;
				} else {
					bad++;
				}
			}
			if (fin) {
				ring_seq[slot] = 0;
				inflight--;
			}
		});
	}
	if (dump)
		report(name, ok, now() - t0, "repeat", N, "per_dump", first, "dump_intr", S.intr,
		       "out_of_order", check != fam_dump_entry ? 0 :
		       S.out_of_order + S.gaps + (S.expect != O.count),
		       "size_mismatch", S.size_mismatch, NULL);
	else
		report(name, ok, now() - t0, "requests", sent, "bad_replies", bad, "lost", lost,
		       "unmatched", unmatched, "acks", S.acks, "window", W, "ack", O.ack, NULL);
}

/* Senders: usersock-send, usersock-mcast-send, sink (the last one acked) */

/* Reads answers: those there are, or until ackseq's (if not 0) or a timeout; 1: it came. */
static int drain_acks(int fd, uint32_t ackseq)
{
	int got = 0, n;

	while (!got && (n = rx_recv(fd, ackseq ? MSG_WAITFORONE : MSG_DONTWAIT)) != 0) {
		FOR_EACH_MSG(h, n, {
			if (h->nlmsg_type == NLMSG_ERROR) {
				answer(nl_errcode(h));
				got |= h->nlmsg_seq == ackseq;
			} else {
				S.unexpected++;
			}
		});
	}
	S.timeouts += !got && ackseq;
	return got;
}

static void run_send(const char *name, int proto, struct nlmsghdr *msg,
		     const struct sockaddr_nl *dst, int barrier)
{
	uint64_t N = O.count, sent = 0;
	uint32_t seq = 1, portid;
	int acked, fd = nl_open(proto, 0, &portid, O.timeout);
	struct ring t;
	double t0;

	msg->nlmsg_pid = proto == NETLINK_USERSOCK ? portid : 0;
	tx_init(&t, msg, dst);
	t0 = now();
	while (sent < N) {
		sent += tx_send(fd, &t, N - sent, &seq, barrier ? NLM_F_ACK : 0);
		if (barrier && sent < N)
			(void)drain_acks(fd, 0);
	}
	acked = barrier && drain_acks(fd, seq - 1);
	report(name, barrier ? N - (S.errors < N ? S.errors : N) : N, now() - t0,
	       "size", O.size, "group", O.group, "refused", S.refused,
	       "final_ack", (uint64_t)acked, NULL);
}

/*
 * Receivers: usersock-recv (seqs 1..N from another process; END_TYPE ends
 * it) and flood-recv (a second socket asks the family for N messages from a
 * thread, since the kernel floods inside that request; NLFAM_A_INDEX 0..N-1).
 */
static struct {
	int fd;
	char req[64];
	_Atomic int done;
	int err;
} FL;

/* The request's socket gets the module's FLOOD reply (how many went), then
 * the request's ack (or error). */
static void *flood_request(void *req)
{
	char buf[4096];
	ssize_t n;

	n = sendto(FL.fd, req, ((struct nlmsghdr *)req)->nlmsg_len, 0,
		   (const struct sockaddr *)&KERNEL, sizeof(KERNEL));
	while (n >= 0) {
		n = recv(FL.fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			n = 0;
		else if (n >= (ssize_t)NLMSG_HDRLEN &&
			 ((const struct nlmsghdr *)buf)->nlmsg_type == NLMSG_ERROR)
			break;
	}
	FL.err = n < 0 ? -errno : n < (ssize_t)NLMSG_LENGTH(4) ? -EBADMSG
						: nl_errcode((const struct nlmsghdr *)buf);
	atomic_store(&FL.done, 1);
	return NULL;
}

static void run_recv(int flood)
{
	uint64_t N = O.count, got = 0;
	uint32_t portid, first = !flood;
	double t0 = 0, t_last = now();	/* t0: the first message's, or the request's */
	int done = 0, fd;
	pthread_t th;

	if (flood && !O.group)
		O.group = NLFAM_GRP_FLOOD;
	fd = nl_open(flood ? O.proto : NETLINK_USERSOCK, O.group, &portid,
		     flood ? 0.05 : O.timeout);	/* flood-recv: 50 ms, to watch the request */
	S.expect = first;
	if (flood) {
		struct nlmsghdr *h = frame(FL.req, sizeof(FL.req), NLFAM_MSG_FLOOD,
					   NLM_F_REQUEST | NLM_F_ACK, 0);

		h->nlmsg_seq = 1;
		put_u32(h, NLFAM_A_COUNT, (uint32_t)N);
		put_u32(h, NLFAM_A_SIZE, O.size);
		put_u32(h, NLFAM_A_GROUP, O.group);
		FL.fd = nl_open(O.proto, 0, NULL, 0);
		t0 = now();
		if (pthread_create(&th, NULL, flood_request, h))
			errx(1, "pthread_create failed");
	} else {
		fprintf(stderr, "READY %u\n", portid);	/* stderr is unbuffered */
	}
	while (!done && got < N) {
		int n = rx_recv(fd, MSG_WAITFORONE);

		if (n < 0 || (!n && flood && !(atomic_load(&FL.done) && FL.err) &&
			      now() - t_last < O.timeout))
			continue;	/* after ENOBUFS (counted), or while the flood may come */
		if (!n) {
			S.timeouts++;
			break;
		}
		t_last = now();
		if (!t0)
			t0 = t_last;
		FOR_EACH_MSG(h, n, {
			if (flood) {
				got += (uint64_t)fam_entry(h, NLFAM_MSG_FLOOD);
			} else if (h->nlmsg_type == USERSOCK_TYPE) {
				got++;
				index_seen(h->nlmsg_seq);
				S.sum += h->nlmsg_seq;
				done |= h->nlmsg_seq >= N;
			} else {
				done |= h->nlmsg_type == END_TYPE;
				S.unexpected += h->nlmsg_type != END_TYPE;
			}
		});
	}
	while (flood && !atomic_load(&FL.done) && now() - t_last < O.timeout)
		usleep(1000);	/* everything came before the ack: give it a moment */
	if (flood && atomic_load(&FL.done)) {
		pthread_join(th, NULL);
		answer(FL.err);	/* the request's error, or its ack */
	}
	report(flood ? "flood-recv" : "usersock-recv", got, t0 ? t_last - t0 : 0.0,
	       "portid", (uint64_t)portid, "requested", N,
	       "lost", S.gap_msgs + (S.expect < first + N ? first + N - S.expect : 0),
	       "gaps", S.gaps, "out_of_order", S.out_of_order,
	       "size_mismatch", S.size_mismatch, "group", O.group, NULL);
}

static __attribute__((noreturn)) void usage(int status)
{
	fputs("usage: nlceil WORKLOAD [--OPTION VALUE]...; prints one JSON object\n"
	      "  linkdump|addrdump --repeat R   rtnetlink dumps (IFLA_IFNAME; IFA_ADDRESS+LOCAL)\n"
	      "  getlink|echo --count N --window W [--ack 1] [--ifindex I|--size S]\n"
	      "  sink|dump|flood-recv --count N --size S [--group G]: NLFAM_MSG_SINK/DUMP/FLOOD\n"
	      "  usersock-send|usersock-mcast-send --count N --size S --dest PORTID|--group G\n"
	      "  usersock-recv --count N [--group G]   prints READY <portid> on stderr\n"
	      "options: --proto P (the family's, 30)  --batch B (messages per datagram, 64)\n"
	      "  --rcvbuf BYTES (SO_RCVBUFFORCE, 32 MiB)  --timeout SECONDS (5)\n",
	      status ? stderr : stdout);
	exit(status);
}

#define OPT(f) { #f, &O.f }

static const struct opt {
	const char *name;
	uint64_t *field;	/* NULL: O.timeout, a double */
} OPTS[] = {
	OPT(count), OPT(repeat), OPT(ifindex), OPT(window), OPT(size), OPT(dest),
	OPT(group), { "timeout", NULL }, OPT(proto), OPT(batch), OPT(rcvbuf), OPT(ack),
};

/* --NAME VALUE: a whole number (but --timeout's) in the field of OPTS. */
static void set_opt(const char *arg, const char *val)
{
	const struct opt *o = OPTS;
	char *end;

	while (o < OPTS + ARRAY_SIZE(OPTS) && (strncmp(arg, "--", 2) || strcmp(arg + 2, o->name)))
		o++;
	if (o == OPTS + ARRAY_SIZE(OPTS) || !val)
		errx(1, "%s: no such option, or no value (see --help)", arg);
	errno = 0;
	if (o->field)
		*o->field = strtoull(val, &end, 0);
	else
		O.timeout = strtod(val, &end);
	if (errno || end == val || *end || val[0] == '-')
		errx(1, "bad %s: %s", arg, val);
}

int main(int argc, char **argv)
{
	const uint16_t dump = NLM_F_REQUEST | NLM_F_DUMP;
	struct sockaddr_nl dst = { .nl_family = AF_NETLINK };
	const char *wl = argv[1];
	struct nlmsghdr *h;
	char req[64];
	int i;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		usage(argc < 2 ? 2 : 0);
	for (i = 2; i < argc; i += 2)
		set_opt(argv[i], i + 1 < argc ? argv[i + 1] : NULL);
	if (!O.batch || !O.repeat || !O.window || O.window > (1u << 24) ||
	    O.size > NLFAM_DATA_MAX || O.count >> 32)
		errx(1, "--batch, --repeat, --window (<= 2^24) > 0; --size <= %d; --count < 2^32",
		     NLFAM_DATA_MAX);
	ring_init(&R, O.bufsize);
	if (!strcmp(wl, "linkdump")) {
		h = frame(req, sizeof(req), RTM_GETLINK, dump, sizeof(struct ifinfomsg));
		run_req(wl, NETLINK_ROUTE, h, link_entry);
	} else if (!strcmp(wl, "addrdump")) {
		h = frame(req, sizeof(req), RTM_GETADDR, dump, sizeof(struct ifaddrmsg));
		run_req(wl, NETLINK_ROUTE, h, addr_entry);
	} else if (!strcmp(wl, "dump")) {
		h = frame(req, sizeof(req), NLFAM_MSG_DUMP, dump, 0);
		put_u32(h, NLFAM_A_COUNT, (uint32_t)O.count);
		put_u32(h, NLFAM_A_SIZE, O.size);
		O.repeat = 1;
		run_req(wl, O.proto, h, fam_dump_entry);
	} else if (!strcmp(wl, "getlink")) {
		h = frame(req, sizeof(req), RTM_GETLINK, NLM_F_REQUEST, sizeof(struct ifinfomsg));
		((struct ifinfomsg *)NLMSG_DATA(h))->ifi_index = (int)O.ifindex;
		run_req(wl, NETLINK_ROUTE, h, link_reply);
	} else if (!strcmp(wl, "echo")) {
		run_req(wl, O.proto, data_msg(NLFAM_MSG_ECHO, 1), echo_check);
	} else if (!strcmp(wl, "sink")) {
		run_send(wl, O.proto, data_msg(NLFAM_MSG_SINK, 1), &KERNEL, 1);
	} else if (!strcmp(wl, "usersock-send") || !strcmp(wl, "usersock-mcast-send")) {
		dst.nl_pid = wl[9] == 'm' ? 0 : O.dest;
		dst.nl_groups = wl[9] == 'm' && O.group && O.group <= 32 ? 1u << (O.group - 1) : 0;
		if (!dst.nl_pid && !dst.nl_groups)
			errx(1, "%s: --dest PORTID or --group 1..32 (nl_groups bit) needed", wl);
		run_send(wl, NETLINK_USERSOCK, data_msg(USERSOCK_TYPE, 0), &dst, 0);
	} else if (!strcmp(wl, "usersock-recv") || !strcmp(wl, "flood-recv")) {
		run_recv(wl[0] == 'f');
	} else {
		errx(1, "unknown workload: %s (see --help)", wl);
	}
	return 0;
}
