/* SPDX-License-Identifier: MIT */
/*
 * nlf: the C shim under nlfast.
 *
 * Error contract, the same for every function here:
 *   - I/O and framing functions return -1 and set errno on failure
 *     (a truncated datagram is counted in the table, never silently cut);
 *   - validators return a bool (1 or 0);
 *   - nothing here allocates per message or reads outside the bytes it is
 *     handed: every length from the wire is checked against a signed
 *     remainder first, in the style of libmnl's mnl_nlmsg_ok().
 * Python reads ffi.errno right after a call that returned -1.
 */
#ifndef NLF_H
#define NLF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <linux/netlink.h>

/*
 * cffi cdef begin: csrc/build_ffi.py feeds everything from here to the end
 * marker to the cdef, so the structs and prototypes cffi sees are these.
 */
#define NLF_NEST_MAX 16

/* Parsed messages, one row per message, kept as columns. */
struct nlf_table {
	uint32_t cap;		/* rows allocated */
	uint32_t count;		/* rows filled */
	uint32_t *off;		/* offset of the nlmsghdr from the arena start */
	uint32_t *len;		/* nlmsg_len */
	uint16_t *type;
	uint16_t *flags;
	uint32_t *seq;
	uint32_t *portid;	/* nlmsg_pid as written by the sender */
	int32_t *error;		/* NLMSG_ERROR / NLMSG_DONE: positive errno */
	uint32_t *dgram;	/* datagram the message came in */
	uint32_t n_error;	/* NLMSG_ERROR rows with a nonzero code */
	uint32_t n_ack;		/* NLMSG_ERROR rows with code 0 */
	uint32_t n_done;	/* NLMSG_DONE rows */
	uint32_t n_overrun;	/* NLMSG_OVERRUN rows */
	uint32_t n_intr;	/* rows flagged NLM_F_DUMP_INTR */
	uint32_t n_trunc;	/* datagrams cut short (MSG_TRUNC) */
	uint32_t n_bad;		/* datagrams with a malformed tail */
};

/*
 * One receive's memory, in one block the caller owns (nlfast: a Python
 * object, so whatever points into it keeps it alive): the datagram buffers
 * first (arena offset 0 is block offset 0), then this struct, the message
 * table's columns and the per-datagram arrays.  nlf_batch_init lays it out.
 * A receive fills it from the start; nlf_batch_append packs copied rows.
 */
struct nlf_batch {
	unsigned char *arena;
	uint32_t arena_len;	/* bytes of datagram memory */
	uint32_t used;		/* bytes filled (packed batches) */
	uint32_t dg_cap;	/* datagram slots */
	uint32_t ndgrams;	/* datagrams in it */
	uint32_t *dg_len;	/* bytes the kernel had for each datagram */
	uint32_t *dg_pid;	/* sender port id (0: the kernel) */
	uint32_t *dg_groups;	/* multicast group mask it was sent to */
	struct nlf_table tab;
};

/* Receive scaffolding of a socket: nbufs buffers of bufsize bytes. */
struct nlf_rx {
	uint32_t bufsize;
	uint32_t nbufs;
	struct mmsghdr *mm;
	struct iovec *iov;
	struct sockaddr_nl *addr;
};

/* How one request fared in a receive (nlf_batch_request). */
struct nlf_req {
	int32_t first;		/* its first reply row, -1: none */
	uint32_t nreplies;	/* its reply rows, consecutive from first */
	int32_t term;		/* the row that ended it, -1: not ended yet */
	int32_t error;		/* positive errno of an error that ended it */
	uint32_t foreign;	/* rows that are not its own, or came after its end */
	uint32_t gap;		/* its replies are not consecutive rows */
	uint32_t off;		/* arena bytes [off, end) hold its replies, */
	uint32_t end;		/* when they are in one datagram (else 0, 0) */
	uint32_t term_off;	/* the ending row's bytes */
	uint32_t term_len;
	uint32_t seq;		/* nlf_sock_request: the seq it went with */
	uint32_t sent;		/* nlf_sock_request: 1 once it went */
};

#define NLF_REQ_ACK	0x1	/* ended by its ACK (NLMSG_ERROR 0) */
#define NLF_REQ_DUMP	0x2	/* ended by its NLMSG_DONE */

/* What a range of rows holds (nlf_batch_scan). */
struct nlf_scan {
	uint32_t n_error;	/* NLMSG_ERROR with a code, NLMSG_DONE with one */
	uint32_t n_ack;		/* NLMSG_ERROR with code 0 */
	uint32_t n_done;	/* NLMSG_DONE */
	uint32_t n_intr;	/* NLM_F_DUMP_INTR */
	int32_t term;		/* first NLMSG_DONE / NLMSG_ERROR row, or -1 */
};

/* Send side: messages framed back to back, cut into datagrams. */
struct nlf_tx {
	unsigned char *arena;
	uint32_t cap;		/* arena bytes */
	uint32_t dgram_max;	/* bytes per datagram before a cut */
	uint32_t pos;		/* end of framed bytes */
	uint32_t msg_start;	/* open message, or UINT32_MAX */
	uint32_t dg_start;	/* start of the open datagram */
	uint32_t ndgrams;	/* closed datagrams */
	uint32_t dg_cap;
	uint32_t *dg_off;
	uint32_t *dg_len;
	uint32_t sent;		/* closed datagrams already sent */
	uint32_t nmsgs;		/* messages framed since the last reset */
	uint32_t seq;		/* next sequence number */
	uint32_t depth;		/* open nests */
	uint32_t nest[NLF_NEST_MAX];
	struct mmsghdr *mm;
	struct iovec *iov;
};

/* Extended ack of one NLMSG_ERROR or NLMSG_DONE message. */
struct nlf_extack {
	int32_t error;		/* positive errno, 0 for an ack */
	uint32_t msg_off;	/* NLMSGERR_ATTR_MSG text, relative to the message */
	uint32_t msg_len;	/* 0: none */
	uint32_t offs;		/* NLMSGERR_ATTR_OFFS */
	uint32_t miss_type;	/* NLMSGERR_ATTR_MISS_TYPE */
	uint32_t miss_nest;	/* NLMSGERR_ATTR_MISS_NEST */
	uint32_t has;		/* NLF_EXTACK_* bits */
	uint32_t req_type;	/* the request's nlmsg_type */
	uint32_t req_seq;	/* the request's nlmsg_seq */
};

#define NLF_EXTACK_MSG		0x1
#define NLF_EXTACK_OFFS		0x2
#define NLF_EXTACK_MISS_TYPE	0x4
#define NLF_EXTACK_MISS_NEST	0x8

const char *nlf_version(void);

/* nlf_parse.c */
int nlf_nlmsg_ok(const unsigned char *p, int64_t rem);
int nlf_table_init(struct nlf_table *t, uint32_t cap);
void nlf_table_fini(struct nlf_table *t);
void nlf_table_reset(struct nlf_table *t);
int nlf_parse(const unsigned char *buf, uint32_t len, uint32_t base,
	      uint32_t dgram, struct nlf_table *t);
int nlf_attr_parse(const unsigned char *buf, uint32_t len, uint32_t maxtype,
		   uint32_t *off, uint32_t *alen);
uint64_t nlf_attr_find(const unsigned char *base, uint32_t start, uint32_t len,
		       uint16_t type);
int nlf_attr_ok(const unsigned char *buf, uint32_t len);
uint64_t nlf_attr_next(const unsigned char *base, uint32_t pos, uint32_t end);
int nlf_extack_parse(const unsigned char *msg, uint32_t len,
		     struct nlf_extack *ea);
int nlf_table_attr_column(const unsigned char *arena,
			  const struct nlf_table *t, uint32_t first,
			  uint32_t n, uint32_t hdrlen, uint16_t attrtype,
			  uint32_t *out_off, uint32_t *out_len);
int nlf_table_attr_uint(const unsigned char *arena, const struct nlf_table *t,
			uint32_t first, uint32_t n, uint32_t hdrlen,
			uint16_t attrtype, uint64_t dflt, uint64_t *out);
int64_t nlf_table_count_type(const struct nlf_table *t, uint32_t first,
			     uint32_t n, uint16_t type);
int64_t nlf_table_attr_strs(const unsigned char *arena,
			    const struct nlf_table *t, uint32_t first,
			    uint32_t n, uint32_t hdrlen, uint16_t attrtype,
			    unsigned char *out, uint64_t cap, uint8_t *present);
int64_t nlf_table_attr_gaps(const unsigned char *arena,
			    const struct nlf_table *t, uint32_t first,
			    uint32_t n, uint32_t hdrlen, uint16_t attrtype,
			    uint64_t *expect, uint32_t *absent);
uint32_t nlf_table_seq_gaps(const struct nlf_table *t, uint16_t type,
			    uint32_t *expect);
uint64_t nlf_batch_size(uint32_t arena_len, uint32_t rows, uint32_t dgrams);
struct nlf_batch *nlf_batch_init(void *mem, uint64_t size, uint32_t arena_len,
				 uint32_t rows, uint32_t dgrams);
void nlf_batch_reset(struct nlf_batch *b);
uint64_t nlf_batch_rows_bytes(const struct nlf_batch *b, uint32_t first,
			      uint32_t n);
int nlf_batch_append(struct nlf_batch *dst, const struct nlf_batch *src,
		     uint32_t first, uint32_t n);
int64_t nlf_batch_route(const struct nlf_batch *b, uint32_t first, uint32_t n,
			const uint32_t *seqs, const uint32_t *ports,
			const uint32_t *echo, uint32_t nkeys,
			uint32_t *run_end, int32_t *run_dest);
int nlf_batch_scan(const struct nlf_batch *b, uint32_t first, uint32_t n,
		   struct nlf_scan *s);
int nlf_batch_request(const struct nlf_batch *b, uint32_t seq, uint32_t port,
		      uint32_t mode, struct nlf_req *r);

/* nlf_tx.c */
struct nlf_tx *nlf_tx_new(uint32_t cap, uint32_t dgram_max);
void nlf_tx_free(struct nlf_tx *tx);
void nlf_tx_reset(struct nlf_tx *tx);
int64_t nlf_tx_msg_begin(struct nlf_tx *tx, uint16_t type, uint16_t flags,
			 uint32_t portid, const void *hdr, uint32_t hdrlen);
int nlf_tx_msg_end(struct nlf_tx *tx);
void nlf_tx_msg_cancel(struct nlf_tx *tx);
int nlf_tx_attr_put(struct nlf_tx *tx, uint16_t type, const void *data,
		    uint32_t len);
int nlf_tx_attr_put_u8(struct nlf_tx *tx, uint16_t type, uint8_t v);
int nlf_tx_attr_put_u16(struct nlf_tx *tx, uint16_t type, uint16_t v);
int nlf_tx_attr_put_u32(struct nlf_tx *tx, uint16_t type, uint32_t v);
int nlf_tx_attr_put_u64(struct nlf_tx *tx, uint16_t type, uint64_t v);
int nlf_tx_attr_put_str(struct nlf_tx *tx, uint16_t type, const char *s,
			uint32_t len);
int nlf_tx_nest_start(struct nlf_tx *tx, uint16_t type);
int nlf_tx_nest_end(struct nlf_tx *tx);
int64_t nlf_tx_put_repeat(struct nlf_tx *tx, const void *tmpl, uint32_t len,
			  uint64_t count);
int64_t nlf_tx_put_stream(struct nlf_tx *tx, const void *buf, uint64_t len);
int nlf_tx_close(struct nlf_tx *tx);

/* nlf_sock.c */
int nlf_sock_open(int proto, int netns_fd);
int nlf_sock_bind(int fd, uint32_t portid, uint32_t groups);
int nlf_sock_portid(int fd, uint32_t *portid);
int nlf_sock_setopt(int fd, int level, int opt, int val);
int nlf_sock_getopt(int fd, int level, int opt, int *val);
int nlf_sock_meminfo(int fd, uint32_t *out, uint32_t n);
int64_t nlf_sock_send_one(int fd, struct nlf_tx *tx, const void *tmpl,
			  uint32_t len, uint32_t dst_pid, uint32_t dst_groups);
int nlf_sock_flush(int fd, struct nlf_tx *tx, uint32_t dst_pid,
		   uint32_t dst_groups);
int nlf_sock_send_repeat(int fd, struct nlf_tx *tx, const void *tmpl,
			 uint32_t len, uint64_t count, uint32_t dst_pid,
			 uint32_t dst_groups, uint64_t *sent);
struct nlf_rx *nlf_rx_new(uint32_t nbufs, uint32_t bufsize);
void nlf_rx_free(struct nlf_rx *rx);
int nlf_sock_recv(int fd, int wake_fd, struct nlf_rx *rx, struct nlf_batch *b,
		  int timeout_ms);
int nlf_sock_send_stream(int fd, struct nlf_tx *tx, const void *buf,
			 uint64_t len, uint32_t dst_pid, uint32_t dst_groups,
			 uint64_t *sent);
int nlf_sock_request(int fd, int wake_fd, struct nlf_tx *tx, const void *tmpl,
		     uint32_t len, uint32_t dst_pid, struct nlf_rx *rx,
		     struct nlf_batch *b, int timeout_ms, uint32_t mode,
		     struct nlf_req *r);
int nlf_wake_new(void);
int nlf_wake_signal(int wake_fd);
/* cffi cdef end */

#endif /* NLF_H */
