/*
 * nlceil: the "C ceiling" netlink client of the nlfast benchmark suite.
 *
 * It batches as well as a userspace client can: many netlink messages per
 * datagram, many datagrams per sendmmsg()/recvmmsg() call, large receive
 * buffers (32 KiB each, so a dump skb is never truncated) and a forced large
 * SO_RCVBUF.  Every received datagram is parsed in place with full length
 * validation, and every message gets at least the work the workload names
 * (type check, sequence number, decoding of one attribute).  Whatever rate it
 * reaches is the ceiling for any userspace netlink client on that machine.
 *
 * Each run prints one JSON object on stdout.  See usage() for workloads.
 *
 * Build: make  (gcc -O2 -Wall -Wextra -std=c11 -I../../kernel/uapi)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "nlfast_family.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif
#ifndef NLM_F_DUMP_INTR
#define NLM_F_DUMP_INTR 0x10
#endif

/* The message type usersock benchmark messages carry. */
#define USERSOCK_TYPE NLMSG_MIN_TYPE

/* ------------------------------------------------------------------ */
/* Options and counters                                                */
/* ------------------------------------------------------------------ */

static struct {
	uint64_t count;
	unsigned repeat;
	int ifindex;
	unsigned window;
	unsigned size;
	uint32_t dest;
	uint32_t port;
	uint32_t peer;
	unsigned group;
	double timeout;
	int proto;
	unsigned batch;
	unsigned vlen;
	size_t bufsize;
	long rcvbuf;
	long sndbuf;
} O = {
	.count = 1000000,
	.repeat = 1,
	.ifindex = 1,
	.window = 64,
	.size = 16,
	.timeout = 5.0,
	.proto = NLFAM_PROTO_DEFAULT,
	.batch = 64,
	.vlen = 64,
	.bufsize = 32768,
	.rcvbuf = 32L << 20,
	.sndbuf = 32L << 20,
};

/* Counters shared by all workloads; each workload prints those it uses. */
static struct {
	uint64_t datagrams_rx, datagrams_tx;
	uint64_t syscalls_rx, syscalls_tx;
	uint64_t errors;	/* NLMSG_ERROR with nonzero error, or DONE<0 */
	int first_error;	/* its errno value (positive) */
	uint64_t acks;		/* NLMSG_ERROR with error 0 */
	uint64_t malformed;	/* length checks that failed */
	uint64_t truncated;	/* datagrams with MSG_TRUNC */
	uint64_t unexpected;	/* wrong type or seq */
	uint64_t missing;	/* the attribute the workload decodes was absent */
	uint64_t enobufs;	/* ENOBUFS reported by recv */
	uint64_t timeouts;
	uint64_t refused;	/* ECONNREFUSED on multicast send (see below) */
	uint64_t intr;		/* NLM_F_DUMP_INTR seen */
	uint64_t sum;		/* checksum of decoded data (keeps work honest) */
} S;

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("nlceil: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

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
		die("out of memory (%zu bytes)", n);
	memset(p, 0, n);
	return p;
}

static void record_error(int err)
{
	S.errors++;
	if (!S.first_error)
		S.first_error = err < 0 ? -err : err;
}

/* ------------------------------------------------------------------ */
/* JSON output                                                         */
/* ------------------------------------------------------------------ */

static char jbuf[8192];
static size_t jlen;

static void japp(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void japp(const char *fmt, ...)
{
	va_list ap;
	int n;

	if (jlen >= sizeof(jbuf) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(jbuf + jlen, sizeof(jbuf) - jlen, fmt, ap);
	va_end(ap);
	if (n > 0)
		jlen += (size_t)n;
	if (jlen > sizeof(jbuf) - 1)
		jlen = sizeof(jbuf) - 1;
}

static void ju(const char *k, uint64_t v) { japp(", \"%s\": %" PRIu64, k, v); }
static void ji(const char *k, long long v) { japp(", \"%s\": %lld", k, v); }
static void jf(const char *k, double v) { japp(", \"%s\": %.6f", k, v); }

static void js(const char *k, const char *v)
{
	japp(", \"%s\": \"", k);
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			japp("\\%c", *v);
		else if ((unsigned char)*v < 0x20)
			japp("\\u%04x", (unsigned char)*v);
		else
			japp("%c", *v);
	}
	japp("\"");
}

static void jbegin(const char *workload, uint64_t count, double seconds)
{
	jlen = 0;
	japp("{\"workload\": \"%s\"", workload);
	ju("count", count);
	jf("seconds", seconds);
	japp(", \"rate\": %.1f", seconds > 0 ? (double)count / seconds : 0.0);
}

/* Counters every workload reports, then the closing brace. */
static void jend(void)
{
	ju("errors", S.errors);
	if (S.first_error)
		js("first_error", strerror(S.first_error));
	ju("malformed", S.malformed);
	ju("truncated", S.truncated);
	ju("unexpected", S.unexpected);
	ju("batch", O.batch);
	ju("vlen", O.vlen);
	ju("bufsize", O.bufsize);
	ju("checksum", S.sum);
	japp("}");
	puts(jbuf);
	fflush(stdout);
}

/* ------------------------------------------------------------------ */
/* Sockets                                                             */
/* ------------------------------------------------------------------ */

static void set_buf(int fd, int force_opt, int opt, long bytes)
{
	int v;

	if (bytes <= 0)
		return;
	v = bytes > 0x7fffffff ? 0x7fffffff : (int)bytes;
	if (setsockopt(fd, SOL_SOCKET, force_opt, &v, sizeof(v)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, opt, &v, sizeof(v));
}

static void set_rcvtimeo(int fd, double seconds)
{
	struct timeval tv;

	if (seconds <= 0)
		seconds = 0.000001;
	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		die("SO_RCVTIMEO: %s", strerror(errno));
}

static int nl_open(int proto, uint32_t bind_pid, uint32_t *portid)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_pid = bind_pid };
	socklen_t sl = sizeof(sa);
	int one = 1;
	int fd;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, proto);
	if (fd < 0)
		die("socket(AF_NETLINK, SOCK_RAW, %d): %s", proto, strerror(errno));
	set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, O.rcvbuf);
	set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, O.sndbuf);
	/* Error replies need not echo the whole request back. */
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind(netlink proto %d, port %u): %s", proto, bind_pid, strerror(errno));
	if (getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
		die("getsockname: %s", strerror(errno));
	if (portid)
		*portid = sa.nl_pid;
	return fd;
}

static void nl_join(int fd, unsigned group)
{
	int g = (int)group;

	if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)) < 0)
		die("NETLINK_ADD_MEMBERSHIP %u: %s", group, strerror(errno));
}

static int get_rcvbuf(int fd)
{
	int v = 0;
	socklen_t l = sizeof(v);

	(void)getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &l);
	return v;
}

/* ------------------------------------------------------------------ */
/* Receive ring: vlen buffers of bufsize bytes for recvmmsg            */
/* ------------------------------------------------------------------ */

struct rx {
	char *buf;
	struct mmsghdr *m;
	struct iovec *iov;
	unsigned vlen;
	size_t bufsize;
};

static void rx_init(struct rx *r)
{
	unsigned i;

	r->vlen = O.vlen;
	r->bufsize = O.bufsize;
	r->buf = xmalloc((size_t)r->vlen * r->bufsize);
	r->m = xmalloc(sizeof(*r->m) * r->vlen);
	r->iov = xmalloc(sizeof(*r->iov) * r->vlen);
	for (i = 0; i < r->vlen; i++) {
		r->iov[i].iov_base = r->buf + (size_t)i * r->bufsize;
		r->iov[i].iov_len = r->bufsize;
		r->m[i].msg_hdr.msg_iov = &r->iov[i];
		r->m[i].msg_hdr.msg_iovlen = 1;
	}
}

/* recvmmsg; returns datagrams or -1 with errno (never EINTR). */
static int rx_recv(int fd, struct rx *r, int flags)
{
	int n;

	do {
		n = recvmmsg(fd, r->m, r->vlen, flags, NULL);
	} while (n < 0 && errno == EINTR);
	S.syscalls_rx++;
	if (n > 0)
		S.datagrams_rx += (uint64_t)n;
	return n;
}

/* Datagram i of the last receive: its bytes and length (-1 flags TRUNC). */
static inline const char *rx_data(const struct rx *r, int i, long *len)
{
	*len = (long)r->m[i].msg_len;
	if (r->m[i].msg_hdr.msg_flags & MSG_TRUNC) {
		S.truncated++;
		if (*len > (long)r->bufsize)
			*len = (long)r->bufsize;
	}
	return r->buf + (size_t)i * r->bufsize;
}

/*
 * Walk the netlink messages of one datagram: the NLMSG_OK loop with a signed
 * remaining length.  The body (last argument) sees `h' (a validated header: nlmsg_len >= header
 * and within the datagram).  A bad length stops the walk and counts.
 */
#define FOR_EACH_NLMSG(h, data, len, ...)                                   \
	do {                                                                \
		const char *p_ = (data);                                    \
		long rem_ = (len);                                          \
		while (rem_ >= (long)sizeof(struct nlmsghdr)) {             \
			const struct nlmsghdr *h = (const void *)p_;        \
			long step_;                                         \
			if (h->nlmsg_len < sizeof(struct nlmsghdr) ||       \
			    (long)h->nlmsg_len > rem_) {                    \
				S.malformed++;                              \
				break;                                      \
			}                                                   \
			__VA_ARGS__;                                        \
			step_ = (long)NLMSG_ALIGN(h->nlmsg_len);            \
			p_ += step_;                                        \
			rem_ -= step_;                                      \
		}                                                           \
	} while (0)

/* The error of an NLMSG_ERROR message (0 is an ack); malformed -> -EBADMSG. */
static inline int nl_errcode(const struct nlmsghdr *h)
{
	const struct nlmsgerr *e = NLMSG_DATA(h);

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(int))) {
		S.malformed++;
		return -EBADMSG;
	}
	return e->error;
}

/*
 * Find attribute `type' among attributes [p, p+rem); validates every
 * attribute header on the way.  Returns NULL if absent or malformed.
 */
static inline const struct nlattr *attr_find(const char *p, long rem, uint16_t type)
{
	while (rem >= (long)NLA_HDRLEN) {
		const struct nlattr *a = (const void *)p;
		long step;

		if (a->nla_len < NLA_HDRLEN || (long)a->nla_len > rem) {
			S.malformed++;
			return NULL;
		}
		if ((a->nla_type & NLA_TYPE_MASK) == type)
			return a;
		step = (long)NLA_ALIGN(a->nla_len);
		p += step;
		rem -= step;
	}
	return NULL;
}

static inline const void *nla_data(const struct nlattr *a)
{
	return (const char *)a + NLA_HDRLEN;
}

static inline long nla_plen(const struct nlattr *a)
{
	return (long)a->nla_len - NLA_HDRLEN;
}

/* Attributes after a fixed family header of `hdrlen' bytes. */
static inline const struct nlattr *msg_attr(const struct nlmsghdr *h, size_t hdrlen,
					    uint16_t type)
{
	long off = (long)NLMSG_LENGTH(NLMSG_ALIGN(hdrlen));

	if ((long)h->nlmsg_len < (long)NLMSG_LENGTH(hdrlen)) {
		S.malformed++;
		return NULL;
	}
	return attr_find((const char *)h + off, (long)h->nlmsg_len - off, type);
}

static inline int attr_u32(const struct nlattr *a, uint32_t *v)
{
	if (!a)
		return 0;
	if (nla_plen(a) < 4) {
		S.malformed++;
		return 0;
	}
	memcpy(v, nla_data(a), 4);
	return 1;
}

/* ------------------------------------------------------------------ */
/* Send ring: vlen datagrams of `batch' fixed-size messages             */
/* ------------------------------------------------------------------ */

struct tx {
	char *buf;
	struct mmsghdr *m;
	struct iovec *iov;
	struct sockaddr_nl dst;
	unsigned vlen;
	unsigned batch;
	size_t msglen;		/* aligned size of one message */
	size_t dgram;		/* batch * msglen */
};

/*
 * Every message slot is a copy of `tmpl' (msglen bytes, already aligned).
 * The batch is clamped so that a datagram fits a receive buffer of
 * O.bufsize bytes (one message per datagram at least).
 */
static void tx_init(struct tx *t, const void *tmpl, size_t msglen, const struct sockaddr_nl *dst)
{
	unsigned i, j;

	t->vlen = O.vlen;
	t->batch = O.batch;
	t->msglen = msglen;
	if ((size_t)t->batch * msglen > O.bufsize) {
		t->batch = (unsigned)(O.bufsize / msglen);
		if (!t->batch)
			t->batch = 1;
		O.batch = t->batch;	/* report the effective batch */
	}
	t->dgram = (size_t)t->batch * msglen;
	t->dst = *dst;
	t->buf = xmalloc(t->dgram * t->vlen);
	t->m = xmalloc(sizeof(*t->m) * t->vlen);
	t->iov = xmalloc(sizeof(*t->iov) * t->vlen);
	for (i = 0; i < t->vlen; i++) {
		char *d = t->buf + (size_t)i * t->dgram;

		for (j = 0; j < t->batch; j++)
			memcpy(d + (size_t)j * msglen, tmpl, msglen);
		t->iov[i].iov_base = d;
		t->iov[i].iov_len = t->dgram;
		t->m[i].msg_hdr.msg_iov = &t->iov[i];
		t->m[i].msg_hdr.msg_iovlen = 1;
		t->m[i].msg_hdr.msg_name = &t->dst;
		t->m[i].msg_hdr.msg_namelen = sizeof(t->dst);
	}
}

static inline struct nlmsghdr *tx_msg(struct tx *t, unsigned dg, unsigned j)
{
	return (struct nlmsghdr *)(t->buf + (size_t)dg * t->dgram + (size_t)j * t->msglen);
}

/*
 * Send datagrams [0, ndg).  Sending to a usersock multicast group from a
 * socket also unicasts to port id 0, which no usersock socket owns, so the
 * kernel returns ECONNREFUSED *after* the broadcast went out; with
 * `refused_ok' that datagram counts as sent and we go on with the next.
 */
static void tx_send(int fd, struct tx *t, unsigned ndg, int refused_ok)
{
	unsigned off = 0;

	while (off < ndg) {
		int n = sendmmsg(fd, t->m + off, ndg - off, 0);

		S.syscalls_tx++;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECONNREFUSED && refused_ok) {
				S.refused++;
				S.datagrams_tx++;
				off++;
				continue;
			}
			die("sendmmsg: %s", strerror(errno));
		}
		S.datagrams_tx += (uint64_t)n;
		off += (unsigned)n;
	}
}

/* Where requests go: the kernel (port id 0), or --peer for testing the
 * family workloads against a userspace stand-in on another protocol. */
static struct sockaddr_nl KERNEL = { .nl_family = AF_NETLINK };

static void send_one(int fd, const void *msg, size_t len)
{
	ssize_t n;

	do {
		n = sendto(fd, msg, len, 0, (const struct sockaddr *)&KERNEL, sizeof(KERNEL));
	} while (n < 0 && errno == EINTR);
	S.syscalls_tx++;
	if (n < 0)
		die("sendto: %s", strerror(errno));
	S.datagrams_tx++;
}

/* Append a u32 attribute at *off in buf; returns new length. */
static size_t put_u32(char *buf, size_t off, uint16_t type, uint32_t v)
{
	struct nlattr *a = (struct nlattr *)(buf + off);

	a->nla_len = NLA_HDRLEN + 4;
	a->nla_type = type;
	memcpy(buf + off + NLA_HDRLEN, &v, 4);
	return off + NLA_ALIGN(NLA_HDRLEN + 4);
}

/* ------------------------------------------------------------------ */
/* Dumps                                                               */
/* ------------------------------------------------------------------ */

typedef int (*entry_fn)(const struct nlmsghdr *h);

/* Send one dump request (seq already set) and consume it to NLMSG_DONE. */
static uint64_t dump_once(int fd, struct rx *r, const struct nlmsghdr *req, entry_fn fn)
{
	uint32_t seq = req->nlmsg_seq;
	uint64_t entries = 0;
	int done = 0;

	send_one(fd, req, req->nlmsg_len);
	set_rcvtimeo(fd, O.timeout);
	while (!done) {
		int n = rx_recv(fd, r, MSG_WAITFORONE);
		int i;

		if (n < 0) {
			if (errno == ENOBUFS) {
				S.enobufs++;
				continue;
			}
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				S.timeouts++;
				break;
			}
			die("recvmmsg: %s", strerror(errno));
		}
		for (i = 0; i < n; i++) {
			long len;
			const char *d = rx_data(r, i, &len);

			FOR_EACH_NLMSG(h, d, len, {
				if (h->nlmsg_seq != seq) {
					S.unexpected++;
				} else if (h->nlmsg_type == NLMSG_DONE) {
					int e = 0;

					if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(int)))
						memcpy(&e, NLMSG_DATA(h), sizeof(int));
					if (e)
						record_error(e);
					done = 1;
				} else if (h->nlmsg_type == NLMSG_ERROR) {
					int e = nl_errcode(h);

					if (e) {
						record_error(e);
						done = 1;
					} else {
						S.acks++;
					}
				} else if (h->nlmsg_type < NLMSG_MIN_TYPE) {
					S.unexpected++;
				} else {
					if (h->nlmsg_flags & NLM_F_DUMP_INTR)
						S.intr++;
					entries += (uint64_t)fn(h);
				}
			});
		}
	}
	return entries;
}

static int link_entry(const struct nlmsghdr *h)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	const struct nlattr *a;
	const char *name, *z;

	if (h->nlmsg_type != RTM_NEWLINK) {
		S.unexpected++;
		return 0;
	}
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi))) {
		S.malformed++;
		return 0;
	}
	a = msg_attr(h, sizeof(*ifi), IFLA_IFNAME);
	if (!a) {
		S.missing++;
		return 1;
	}
	name = nla_data(a);
	z = memchr(name, 0, (size_t)nla_plen(a));
	if (!z || z == name) {
		S.malformed++;
		return 1;
	}
	S.sum += (uint64_t)(z - name) + (unsigned char)name[0] + (uint32_t)ifi->ifi_index;
	return 1;
}

static uint64_t n_v4, n_v6;

static int addr_entry(const struct nlmsghdr *h)
{
	const struct ifaddrmsg *ifa = NLMSG_DATA(h);
	const struct nlattr *a;
	long want;
	uint32_t w;

	if (h->nlmsg_type != RTM_NEWADDR) {
		S.unexpected++;
		return 0;
	}
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa))) {
		S.malformed++;
		return 0;
	}
	/* One walk over the attributes: IFA_ADDRESS, else IFA_LOCAL. */
	{
		const char *p = (const char *)h + NLMSG_LENGTH(NLMSG_ALIGN(sizeof(*ifa)));
		long rem = (long)h->nlmsg_len - (long)NLMSG_LENGTH(NLMSG_ALIGN(sizeof(*ifa)));
		const struct nlattr *local = NULL;

		a = NULL;
		while (rem >= (long)NLA_HDRLEN) {
			const struct nlattr *x = (const void *)p;

			if (x->nla_len < NLA_HDRLEN || (long)x->nla_len > rem) {
				S.malformed++;
				break;
			}
			if (x->nla_type == IFA_ADDRESS) {
				a = x;
				break;
			}
			if (x->nla_type == IFA_LOCAL)
				local = x;
			p += NLA_ALIGN(x->nla_len);
			rem -= (long)NLA_ALIGN(x->nla_len);
		}
		if (!a)
			a = local;
	}
	if (!a) {
		S.missing++;
		return 1;
	}
	want = ifa->ifa_family == AF_INET6 ? 16 : ifa->ifa_family == AF_INET ? 4 : -1;
	if (want < 0 || nla_plen(a) < want) {
		S.malformed++;
		return 1;
	}
	if (want == 4)
		n_v4++;
	else
		n_v6++;
	memcpy(&w, (const char *)nla_data(a) + want - 4, 4);
	S.sum += w + ifa->ifa_index;
	return 1;
}

static void rtnl_dump(const char *name, uint16_t type, size_t famlen, entry_fn fn)
{
	struct {
		struct nlmsghdr h;
		char fam[32];
	} req;
	struct rx r;
	uint32_t portid;
	uint64_t entries = 0, first = 0;
	double t0, t1;
	unsigned i;
	int fd;

	fd = nl_open(NETLINK_ROUTE, 0, &portid);
	rx_init(&r);
	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = NLMSG_LENGTH(famlen);
	req.h.nlmsg_type = type;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	/* ifinfomsg/ifaddrmsg both start with an unsigned char family. */
	req.fam[0] = AF_UNSPEC;

	t0 = now();
	for (i = 0; i < O.repeat; i++) {
		uint64_t e;

		req.h.nlmsg_seq = i + 1;
		e = dump_once(fd, &r, &req.h, fn);
		if (i == 0)
			first = e;
		entries += e;
	}
	t1 = now();

	jbegin(name, entries, t1 - t0);
	ju("repeat", O.repeat);
	ju("per_dump", first);
	if (fn == addr_entry) {
		ju("ipv4", n_v4);
		ju("ipv6", n_v6);
	}
	ju("missing", S.missing);
	ju("dump_intr", S.intr);
	ju("timeouts", S.timeouts);
	ju("datagrams", S.datagrams_rx);
	ju("syscalls", S.syscalls_rx + S.syscalls_tx);
	jf("msgs_per_datagram", S.datagrams_rx ? (double)entries / (double)S.datagrams_rx : 0);
	jend();
	close(fd);
}

/* ------------------------------------------------------------------ */
/* Pipelined request/reply (getlink, echo)                             */
/* ------------------------------------------------------------------ */

struct pipe {
	uint16_t reply_type;
	int (*check)(const struct nlmsghdr *h);	/* 1 = good reply */
};

struct pstate {
	uint32_t *ring_seq;
	uint8_t *ring_on;
	uint32_t mask;
	uint64_t inflight, ok, bad, lost, unmatched;
};

static void pipe_flush(struct pstate *ps)
{
	ps->lost += ps->inflight;
	ps->inflight = 0;
	memset(ps->ring_on, 0, (size_t)ps->mask + 1);
}

static void pipe_process(const struct pipe *pp, struct pstate *ps, struct rx *r, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		long len;
		const char *d = rx_data(r, i, &len);

		FOR_EACH_NLMSG(h, d, len, {
			uint32_t slot = h->nlmsg_seq & ps->mask;

			if (!ps->ring_on[slot] || ps->ring_seq[slot] != h->nlmsg_seq) {
				ps->unmatched++;
			} else {
				if (h->nlmsg_type == NLMSG_ERROR) {
					int e = nl_errcode(h);

					if (e)
						record_error(e);
					else
						S.acks++;
				} else if (h->nlmsg_type == pp->reply_type && pp->check(h)) {
					ps->ok++;
				} else {
					ps->bad++;
				}
				ps->ring_on[slot] = 0;
				ps->inflight--;
			}
		});
	}
}

static void pipe_run(const char *name, int fd, struct tx *t, const struct pipe *pp)
{
	struct pstate ps = { 0 };
	struct rx r;
	uint64_t N = O.count, W = O.window ? O.window : 1, sent = 0;
	uint32_t seq = 1, ring = 1;
	double t0, t1;

	while (ring < 2 * W)
		ring <<= 1;
	ps.mask = ring - 1;
	ps.ring_seq = xmalloc(sizeof(uint32_t) * ring);
	ps.ring_on = xmalloc(ring);
	rx_init(&r);
	set_rcvtimeo(fd, O.timeout);

	t0 = now();
	while (sent < N || ps.inflight > 0) {
		int n;

		/*
		 * Refill only when a whole datagram's worth of the window is
		 * free (or the rest of the run fits), so that a peer that
		 * answers asynchronously still gets full datagrams.
		 */
		uint64_t need = N - sent < t->batch ? N - sent : t->batch;

		if (need > W)
			need = W;
		if (sent < N && W - ps.inflight >= need) {
			uint64_t can = W - ps.inflight;
			unsigned ndg = 0;

			if (can > N - sent)
				can = N - sent;
			while (ndg < t->vlen && can > 0) {
				unsigned k = can < t->batch ? (unsigned)can : t->batch, j;

				for (j = 0; j < k; j++) {
					uint32_t slot = seq & ps.mask;

					tx_msg(t, ndg, j)->nlmsg_seq = seq;
					if (ps.ring_on[slot]) {	/* never answered */
						ps.lost++;
						ps.inflight--;
					}
					ps.ring_on[slot] = 1;
					ps.ring_seq[slot] = seq;
					seq++;
				}
				t->iov[ndg].iov_len = (size_t)k * t->msglen;
				ndg++;
				can -= k;
				sent += k;
				ps.inflight += k;
			}
			tx_send(fd, t, ndg, 0);
		}
		if (!ps.inflight)
			continue;
		n = rx_recv(fd, &r, MSG_WAITFORONE);
		if (n < 0) {
			if (errno == ENOBUFS) {
				/*
				 * Replies were dropped.  The kernel answers
				 * requests synchronously inside sendmsg, so after
				 * draining what is queued the rest are lost.
				 */
				S.enobufs++;
				for (;;) {
					n = rx_recv(fd, &r, MSG_DONTWAIT);
					if (n < 0 && errno == ENOBUFS) {
						S.enobufs++;
						continue;
					}
					if (n <= 0)
						break;
					pipe_process(pp, &ps, &r, n);
				}
				pipe_flush(&ps);
				continue;
			}
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				S.timeouts++;
				pipe_flush(&ps);
				continue;
			}
			die("recvmmsg: %s", strerror(errno));
		}
		pipe_process(pp, &ps, &r, n);
	}
	t1 = now();

	jbegin(name, ps.ok, t1 - t0);
	ju("requests", sent);
	ju("bad_replies", ps.bad);
	ju("lost", ps.lost);
	ju("unmatched", ps.unmatched);
	ju("acks", S.acks);
	ju("missing", S.missing);
	ju("enobufs", S.enobufs);
	ju("timeouts", S.timeouts);
	ju("window", W);
	if (!strcmp(name, "echo"))
		ju("size", O.size);
	ju("datagrams_tx", S.datagrams_tx);
	ju("datagrams_rx", S.datagrams_rx);
	ju("syscalls", S.syscalls_rx + S.syscalls_tx);
	ji("rcvbuf", get_rcvbuf(fd));
	jend();
}

static int getlink_check(const struct nlmsghdr *h)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	const struct nlattr *a;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi))) {
		S.malformed++;
		return 0;
	}
	if (ifi->ifi_index != O.ifindex)
		return 0;
	a = msg_attr(h, sizeof(*ifi), IFLA_IFNAME);
	if (!a) {
		S.missing++;
		return 0;
	}
	if (nla_plen(a) < 1 || !memchr(nla_data(a), 0, (size_t)nla_plen(a))) {
		S.malformed++;
		return 0;
	}
	S.sum += (unsigned char)*(const char *)nla_data(a);
	return 1;
}

static void run_getlink(void)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg ifi;
	} req;
	static const struct pipe pp = { RTM_NEWLINK, getlink_check };
	struct tx t;
	int fd;

	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = NLMSG_LENGTH(sizeof(req.ifi));
	req.h.nlmsg_type = RTM_GETLINK;
	req.h.nlmsg_flags = NLM_F_REQUEST;
	req.ifi.ifi_family = AF_UNSPEC;
	req.ifi.ifi_index = O.ifindex;
	fd = nl_open(NETLINK_ROUTE, 0, NULL);
	tx_init(&t, &req, NLMSG_ALIGN(req.h.nlmsg_len), &KERNEL);
	pipe_run("getlink", fd, &t, &pp);
	close(fd);
}

/* ------------------------------------------------------------------ */
/* nlfast family (custom protocol): echo, sink, flood-recv, dump       */
/* ------------------------------------------------------------------ */

/* Byte i of an NLFAM_A_DATA payload. */
static inline unsigned char pat(size_t i) { return (unsigned char)(i * 131u + 7u); }

/* A message: nlmsghdr + NLFAM_A_DATA of O.size bytes. Returns aligned size. */
static char *fam_data_msg(uint16_t type, uint16_t flags, size_t *msglen)
{
	size_t alen = NLA_HDRLEN + O.size;
	size_t len = NLMSG_HDRLEN + NLA_ALIGN(alen);
	char *m = xmalloc(len);
	struct nlmsghdr *h = (struct nlmsghdr *)m;
	struct nlattr *a = (struct nlattr *)(m + NLMSG_HDRLEN);
	size_t i;

	if (O.size > NLFAM_DATA_MAX)
		die("--size %u exceeds NLFAM_DATA_MAX %d", O.size, NLFAM_DATA_MAX);
	h->nlmsg_len = (uint32_t)len;
	h->nlmsg_type = type;
	h->nlmsg_flags = flags;
	a->nla_len = (uint16_t)alen;
	a->nla_type = NLFAM_A_DATA;
	for (i = 0; i < O.size; i++)
		((unsigned char *)a)[NLA_HDRLEN + i] = pat(i);
	*msglen = len;
	return m;
}

static int echo_check(const struct nlmsghdr *h)
{
	const struct nlattr *a = msg_attr(h, 0, NLFAM_A_DATA);
	const unsigned char *d;

	if (!a) {
		S.missing++;
		return 0;
	}
	if (nla_plen(a) != (long)O.size)
		return 0;
	d = nla_data(a);
	if (O.size && (d[0] != pat(0) || d[O.size - 1] != pat(O.size - 1)))
		return 0;
	S.sum += O.size ? d[O.size - 1] : 1;
	return 1;
}

static void run_echo(void)
{
	static const struct pipe pp = { NLFAM_MSG_ECHO, echo_check };
	size_t msglen;
	char *tmpl = fam_data_msg(NLFAM_MSG_ECHO, NLM_F_REQUEST, &msglen);
	struct tx t;
	int fd;

	fd = nl_open(O.proto, 0, NULL);
	tx_init(&t, tmpl, msglen, &KERNEL);
	pipe_run("echo", fd, &t, &pp);
	close(fd);
}

/* Drain error replies without blocking (sink). Returns 1 if `ackseq' acked. */
static int drain_errors(int fd, struct rx *r, int flags, uint32_t ackseq)
{
	int got = 0;

	for (;;) {
		int n = rx_recv(fd, r, flags), i;

		if (n < 0) {
			if (errno == ENOBUFS) {
				S.enobufs++;
				continue;
			}
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (!(flags & MSG_DONTWAIT))
					S.timeouts++;
				return got;
			}
			die("recvmmsg: %s", strerror(errno));
		}
		for (i = 0; i < n; i++) {
			long len;
			const char *d = rx_data(r, i, &len);

			FOR_EACH_NLMSG(h, d, len, {
				if (h->nlmsg_type == NLMSG_ERROR) {
					int e = nl_errcode(h);

					if (e)
						record_error(e);
					else
						S.acks++;
					if (ackseq && h->nlmsg_seq == ackseq)
						got = 1;
				} else {
					S.unexpected++;
				}
			});
		}
		if (got || !(flags & MSG_DONTWAIT))
			return got;
	}
}

static void run_sink(void)
{
	size_t msglen;
	char *tmpl = fam_data_msg(NLFAM_MSG_SINK, NLM_F_REQUEST, &msglen);
	struct tx t;
	struct rx r;
	uint64_t N = O.count, sent = 0;
	uint32_t seq = 1, lastseq = 0;
	double t0, t1;
	int fd, acked = 0;

	fd = nl_open(O.proto, 0, NULL);
	tx_init(&t, tmpl, msglen, &KERNEL);
	rx_init(&r);
	set_rcvtimeo(fd, O.timeout);

	t0 = now();
	while (sent < N) {
		unsigned ndg = 0;

		while (ndg < t.vlen && sent < N) {
			unsigned k = N - sent < t.batch ? (unsigned)(N - sent) : t.batch, j;

			for (j = 0; j < k; j++)
				tx_msg(&t, ndg, j)->nlmsg_seq = seq++;
			t.iov[ndg].iov_len = (size_t)k * t.msglen;
			sent += k;
			if (sent == N) {
				/* Barrier: the last message asks for an ack. */
				struct nlmsghdr *h = tx_msg(&t, ndg, k - 1);

				h->nlmsg_flags |= NLM_F_ACK;
				lastseq = h->nlmsg_seq;
			}
			ndg++;
		}
		tx_send(fd, &t, ndg, 0);
		if (sent < N)
			(void)drain_errors(fd, &r, MSG_DONTWAIT, 0);
	}
	/* Wait for the final ack (or its error). */
	while (!acked) {
		uint64_t before = S.timeouts;

		acked = drain_errors(fd, &r, MSG_WAITFORONE, lastseq);
		if (S.timeouts != before)
			break;
	}
	t1 = now();

	jbegin("sink", N - (S.errors < N ? S.errors : N), t1 - t0);
	ju("sent", N);
	ju("size", O.size);
	ju("final_ack", (uint64_t)acked);
	ju("acks", S.acks);
	ju("enobufs", S.enobufs);
	ju("datagrams", S.datagrams_tx);
	ju("syscalls", S.syscalls_tx + S.syscalls_rx);
	jend();
	close(fd);
}

/* In-order check of NLFAM_A_INDEX values (flood, dump). */
static struct {
	int started;
	uint32_t first, expect;
	uint64_t gaps, gap_msgs, out_of_order, size_mismatch;
} IX;

static void index_seen(uint32_t idx)
{
	if (!IX.started) {
		IX.started = 1;
		IX.first = idx;
	} else if (idx != IX.expect) {
		if (idx > IX.expect) {
			IX.gaps++;
			IX.gap_msgs += idx - IX.expect;
		} else {
			IX.out_of_order++;
			return;
		}
	}
	IX.expect = idx + 1;
}

/* A flood or dump entry: type, NLFAM_A_INDEX in order, NLFAM_A_DATA size. */
static int fam_entry(const struct nlmsghdr *h, uint16_t type)
{
	uint32_t idx;
	const struct nlattr *a;

	if (h->nlmsg_type != type) {
		S.unexpected++;
		return 0;
	}
	if (!attr_u32(msg_attr(h, 0, NLFAM_A_INDEX), &idx)) {
		S.missing++;
		return 1;
	}
	index_seen(idx);
	a = msg_attr(h, 0, NLFAM_A_DATA);
	if (a && nla_plen(a) != (long)O.size)
		IX.size_mismatch++;
	S.sum += idx;
	return 1;
}

static int fam_dump_entry(const struct nlmsghdr *h)
{
	return fam_entry(h, NLFAM_MSG_DUMP);
}

static void jindex(void)
{
	ju("first_index", IX.first);
	ju("gaps", IX.gaps);
	ju("gap_msgs", IX.gap_msgs);
	ju("out_of_order", IX.out_of_order);
	ju("size_mismatch", IX.size_mismatch);
	ju("missing", S.missing);
}

static void run_fam_dump(void)
{
	char req[64];
	struct nlmsghdr *h = (struct nlmsghdr *)req;
	struct rusage ru;
	struct rx r;
	size_t len = NLMSG_HDRLEN;
	uint64_t entries;
	double t0, t1;
	int fd;

	if (O.count > 0xffffffffULL)
		die("--count too large");
	memset(req, 0, sizeof(req));
	len = put_u32(req, len, NLFAM_A_COUNT, (uint32_t)O.count);
	len = put_u32(req, len, NLFAM_A_SIZE, O.size);
	h->nlmsg_len = (uint32_t)len;
	h->nlmsg_type = NLFAM_MSG_DUMP;
	h->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	h->nlmsg_seq = 1;

	fd = nl_open(O.proto, 0, NULL);
	rx_init(&r);
	t0 = now();
	entries = dump_once(fd, &r, h, fam_dump_entry);
	t1 = now();
	getrusage(RUSAGE_SELF, &ru);

	jbegin("dump", entries, t1 - t0);
	ju("requested", O.count);
	ju("size", O.size);
	jindex();
	ju("dump_intr", S.intr);
	ju("timeouts", S.timeouts);
	ju("datagrams", S.datagrams_rx);
	ju("syscalls", S.syscalls_rx + S.syscalls_tx);
	ji("maxrss_kib", ru.ru_maxrss);
	jend();
	close(fd);
}

/* Flood: a second socket sends the request (and waits for its ack) in a
 * thread, so the receiving socket is drained whether the module floods
 * synchronously inside the request or later. */
static struct {
	int fd;
	char req[64];
	size_t len;
	_Atomic int done;
	int err;		/* the ack's error (0 = success) */
	double t_ack;
} FL;

static void *flood_sender(void *arg)
{
	char buf[8192];

	(void)arg;
	send_one(FL.fd, FL.req, FL.len);
	for (;;) {
		ssize_t n = recv(FL.fd, buf, sizeof(buf), 0);
		int got = 0;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			FL.err = -errno;
			break;
		}
		FOR_EACH_NLMSG(h, buf, (long)n, {
			if (h->nlmsg_type == NLMSG_ERROR && h->nlmsg_seq == 1) {
				FL.err = nl_errcode(h);
				got = 1;
			}
		});
		if (got)
			break;
	}
	FL.t_ack = now();
	atomic_store(&FL.done, 1);
	return NULL;
}

static void run_flood_recv(void)
{
	struct nlmsghdr *h = (struct nlmsghdr *)FL.req;
	struct rx r;
	pthread_t th;
	uint64_t N = O.count, got = 0;
	double t0, t_last, t_idle;
	int fd, joined;

	if (!O.group)
		O.group = NLFAM_GRP_FLOOD;
	if (O.count > 0xffffffffULL)
		die("--count too large");
	fd = nl_open(O.proto, 0, NULL);
	nl_join(fd, O.group);
	rx_init(&r);
	set_rcvtimeo(fd, 0.05);

	FL.fd = nl_open(O.proto, 0, NULL);
	FL.len = NLMSG_HDRLEN;
	FL.len = put_u32(FL.req, FL.len, NLFAM_A_COUNT, (uint32_t)N);
	FL.len = put_u32(FL.req, FL.len, NLFAM_A_SIZE, O.size);
	FL.len = put_u32(FL.req, FL.len, NLFAM_A_GROUP, O.group);
	h->nlmsg_len = (uint32_t)FL.len;
	h->nlmsg_type = NLFAM_MSG_FLOOD;
	h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	h->nlmsg_seq = 1;

	t0 = t_last = t_idle = now();
	if (pthread_create(&th, NULL, flood_sender, NULL))
		die("pthread_create failed");
	while (got < N) {
		int n = rx_recv(fd, &r, MSG_WAITFORONE), i;

		if (n < 0) {
			double t = now();

			if (errno == ENOBUFS) {
				S.enobufs++;
				continue;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				die("recvmmsg: %s", strerror(errno));
			if (atomic_load(&FL.done) && FL.err)
				break;	/* the request failed */
			if (t - t_idle > O.timeout) {
				S.timeouts++;
				break;
			}
			continue;
		}
		t_last = t_idle = now();
		for (i = 0; i < n; i++) {
			long len;
			const char *d = rx_data(&r, i, &len);

			FOR_EACH_NLMSG(m, d, len, {
				got += (uint64_t)fam_entry(m, NLFAM_MSG_FLOOD);
			});
		}
	}
	/* Give the ack a moment if everything arrived before it. */
	while (!atomic_load(&FL.done) && now() - t_last < O.timeout)
		usleep(1000);
	joined = atomic_load(&FL.done);
	if (joined) {
		pthread_join(th, NULL);
		if (FL.err)
			record_error(FL.err);
	}

	jbegin("flood-recv", got, t_last - t0);
	ju("requested", N);
	ju("lost", got < N ? N - got : 0);
	ju("enobufs", S.enobufs);
	ju("group", O.group);
	ju("size", O.size);
	jindex();
	ju("request_acked", (uint64_t)(joined && !FL.err));
	jf("request_seconds", joined ? FL.t_ack - t0 : -1.0);
	ju("timeouts", S.timeouts);
	ju("datagrams", S.datagrams_rx);
	ju("syscalls", S.syscalls_rx);
	ji("rcvbuf", get_rcvbuf(fd));
	jend();
	fflush(stdout);
	if (!joined)
		_exit(0);	/* the sender thread is stuck in recv */
	close(fd);
	close(FL.fd);
}

/* ------------------------------------------------------------------ */
/* NETLINK_USERSOCK                                                    */
/* ------------------------------------------------------------------ */

static void usersock_send(int mcast)
{
	struct sockaddr_nl dst = { .nl_family = AF_NETLINK };
	size_t len = NLMSG_LENGTH(O.size), msglen = NLMSG_ALIGN(len);
	char *tmpl = xmalloc(msglen);
	struct nlmsghdr *th = (struct nlmsghdr *)tmpl;
	uint64_t N = O.count, sent = 0;
	uint32_t portid, seq = 1;
	struct tx t;
	double t0, t1;
	size_t i;
	int fd;

	if (mcast) {
		if (O.group < 1 || O.group > 32)
			die("--group must be 1..32 for sending (sockaddr_nl nl_groups bit)");
		dst.nl_groups = 1u << (O.group - 1);
	} else {
		if (!O.dest)
			die("--dest PORTID is required");
		dst.nl_pid = O.dest;
	}
	fd = nl_open(NETLINK_USERSOCK, 0, &portid);
	th->nlmsg_len = (uint32_t)len;
	th->nlmsg_type = USERSOCK_TYPE;
	th->nlmsg_flags = 0;
	th->nlmsg_pid = portid;
	for (i = 0; i < O.size; i++)
		tmpl[NLMSG_HDRLEN + i] = (char)pat(i);
	tx_init(&t, tmpl, msglen, &dst);

	t0 = now();
	while (sent < N) {
		unsigned ndg = 0;

		while (ndg < t.vlen && sent < N) {
			unsigned k = N - sent < t.batch ? (unsigned)(N - sent) : t.batch, j;

			for (j = 0; j < k; j++)
				tx_msg(&t, ndg, j)->nlmsg_seq = seq++;
			t.iov[ndg].iov_len = (size_t)k * t.msglen;
			sent += k;
			ndg++;
		}
		tx_send(fd, &t, ndg, mcast);
	}
	t1 = now();

	jbegin(mcast ? "usersock-mcast-send" : "usersock-send", N, t1 - t0);
	ju("size", O.size);
	if (mcast) {
		ju("group", O.group);
		ju("refused", S.refused);
	} else {
		ju("dest", O.dest);
	}
	ju("datagrams", S.datagrams_tx);
	ju("syscalls", S.syscalls_tx);
	jend();
	close(fd);
}

static void usersock_recv(void)
{
	struct rx r;
	uint64_t N = O.count, got = 0, lost = 0, gaps = 0, ooo = 0;
	uint32_t expect = 1, portid;
	double t_first = 0, t_last = 0;
	int fd, done = 0, started = 0;

	if (N > 0xffffffffULL)
		die("--count too large");
	fd = nl_open(NETLINK_USERSOCK, O.port, &portid);
	if (O.group)
		nl_join(fd, O.group);
	rx_init(&r);
	set_rcvtimeo(fd, O.timeout);
	fprintf(stderr, "READY %u\n", portid);
	fflush(stderr);

	while (!done && got < N) {
		int n = rx_recv(fd, &r, MSG_WAITFORONE), i;

		if (n < 0) {
			if (errno == ENOBUFS) {
				S.enobufs++;
				continue;
			}
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				S.timeouts++;
				break;
			}
			die("recvmmsg: %s", strerror(errno));
		}
		t_last = now();
		if (!started) {
			started = 1;
			t_first = t_last;
		}
		for (i = 0; i < n; i++) {
			long len;
			const char *d = rx_data(&r, i, &len);

			FOR_EACH_NLMSG(h, d, len, {
				uint32_t s = h->nlmsg_seq;

				if (h->nlmsg_type != USERSOCK_TYPE) {
					S.unexpected++;
				} else {
					got++;
					if (s == expect) {
						expect = s + 1;
					} else if (s > expect) {
						gaps++;
						lost += s - expect;
						expect = s + 1;
					} else {
						ooo++;
					}
					S.sum += s;
					if (s >= N)
						done = 1;
				}
			});
		}
	}
	if (expect <= N)	/* the tail never came */
		lost += N + 1 - expect;

	jbegin("usersock-recv", got, t_last - t_first);
	ju("portid", portid);
	ju("lost", lost);
	ju("gaps", gaps);
	ju("out_of_order", ooo);
	ju("enobufs", S.enobufs);
	ju("group", O.group);
	ju("timeouts", S.timeouts);
	ju("datagrams", S.datagrams_rx);
	ju("syscalls", S.syscalls_rx);
	jf("msgs_per_syscall", S.syscalls_rx ? (double)got / (double)S.syscalls_rx : 0);
	ji("rcvbuf", get_rcvbuf(fd));
	jend();
	close(fd);
}

/* ------------------------------------------------------------------ */
/* Command line                                                        */
/* ------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fputs(
"usage: nlceil WORKLOAD [options]\n"
"\n"
"rtnetlink (current network namespace):\n"
"  linkdump [--repeat R]            RTM_GETLINK dump, decode IFLA_IFNAME\n"
"  addrdump [--repeat R]            RTM_GETADDR dump, decode IFA_ADDRESS/IFA_LOCAL\n"
"  getlink --count N --ifindex I --window W\n"
"                                   pipelined RTM_GETLINK for one ifindex\n"
"NETLINK_USERSOCK:\n"
"  usersock-send --count N --size S --dest PORTID\n"
"  usersock-recv --count N [--port P] [--group G] [--timeout T]\n"
"                                   prints \"READY <portid>\" on stderr when bound\n"
"  usersock-mcast-send --count N --size S --group G   (G in 1..32)\n"
"nlfast family (kernel/uapi/nlfast_family.h), --proto P (default 30):\n"
"  echo --count N --size S --window W     NLFAM_MSG_ECHO round trips\n"
"  sink --count N --size S                NLFAM_MSG_SINK send rate\n"
"  flood-recv --count N --size S --group G   NLFAM_MSG_FLOOD, count losses\n"
"  dump --count N --size S                NLFAM_MSG_DUMP entries, peak RSS\n"
"  (--peer PORTID sends the requests to that port id instead of the kernel:\n"
"   a test aid, e.g. --proto 2 with a userspace stand-in for the module)\n"
"\n"
"common: --batch B (msgs per datagram, 64)  --vlen V (datagrams per\n"
"  sendmmsg/recvmmsg, 64)  --bufsize BYTES (per receive buffer, 32768; also\n"
"  caps a sent datagram)  --rcvbuf BYTES (SO_RCVBUFFORCE, 33554432; 0 = keep)\n"
"  --sndbuf BYTES (33554432)  --timeout SECONDS (idle receive timeout, 5)\n"
"Output: one JSON object per run on stdout.\n", f);
}

static unsigned long long num(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-')
		die("bad %s: %s", what, s);
	return v;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "ifindex", required_argument, NULL, 'i' },
		{ "window", required_argument, NULL, 'w' },
		{ "size", required_argument, NULL, 's' },
		{ "dest", required_argument, NULL, 'd' },
		{ "port", required_argument, NULL, 'p' },
		{ "peer", required_argument, NULL, 'E' },
		{ "group", required_argument, NULL, 'g' },
		{ "timeout", required_argument, NULL, 't' },
		{ "proto", required_argument, NULL, 'P' },
		{ "batch", required_argument, NULL, 'b' },
		{ "vlen", required_argument, NULL, 'v' },
		{ "bufsize", required_argument, NULL, 'B' },
		{ "rcvbuf", required_argument, NULL, 'R' },
		{ "sndbuf", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *wl;
	int c;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	wl = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'n': O.count = num(optarg, "--count"); break;
		case 'r': O.repeat = (unsigned)num(optarg, "--repeat"); break;
		case 'i': O.ifindex = (int)num(optarg, "--ifindex"); break;
		case 'w': O.window = (unsigned)num(optarg, "--window"); break;
		case 's': O.size = (unsigned)num(optarg, "--size"); break;
		case 'd': O.dest = (uint32_t)num(optarg, "--dest"); break;
		case 'p': O.port = (uint32_t)num(optarg, "--port"); break;
		case 'E': O.peer = (uint32_t)num(optarg, "--peer"); break;
		case 'g': O.group = (unsigned)num(optarg, "--group"); break;
		case 't': O.timeout = strtod(optarg, NULL); break;
		case 'P': O.proto = (int)num(optarg, "--proto"); break;
		case 'b': O.batch = (unsigned)num(optarg, "--batch"); break;
		case 'v': O.vlen = (unsigned)num(optarg, "--vlen"); break;
		case 'B': O.bufsize = (size_t)num(optarg, "--bufsize"); break;
		case 'R': O.rcvbuf = (long)num(optarg, "--rcvbuf"); break;
		case 'S': O.sndbuf = (long)num(optarg, "--sndbuf"); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc)
		die("unexpected argument: %s", argv[optind]);
	if (O.window > (1u << 24))
		die("--window at most %u", 1u << 24);
	if (!O.batch || !O.vlen || O.bufsize < 4096 || !O.repeat || !O.window)
		die("--batch, --vlen, --repeat and --window must be > 0; --bufsize >= 4096");
	if (O.vlen > 1024)
		die("--vlen at most 1024 (UIO_MAXIOV)");
	if (O.size > 65000)
		die("--size too large");
	KERNEL.nl_pid = O.peer;

	if (!strcmp(wl, "linkdump"))
		rtnl_dump("linkdump", RTM_GETLINK, sizeof(struct ifinfomsg), link_entry);
	else if (!strcmp(wl, "addrdump"))
		rtnl_dump("addrdump", RTM_GETADDR, sizeof(struct ifaddrmsg), addr_entry);
	else if (!strcmp(wl, "getlink"))
		run_getlink();
	else if (!strcmp(wl, "usersock-send"))
		usersock_send(0);
	else if (!strcmp(wl, "usersock-mcast-send"))
		usersock_send(1);
	else if (!strcmp(wl, "usersock-recv"))
		usersock_recv();
	else if (!strcmp(wl, "echo"))
		run_echo();
	else if (!strcmp(wl, "sink"))
		run_sink();
	else if (!strcmp(wl, "flood-recv"))
		run_flood_recv();
	else if (!strcmp(wl, "dump"))
		run_fam_dump();
	else {
		usage(stderr);
		die("unknown workload: %s", wl);
	}
	return 0;
}
