// SPDX-License-Identifier: MIT
/*
 * Framing: messages built in place, back to back, in an arena the caller
 * reuses.  Datagrams are ranges of the arena: when a message ends past
 * dgram_max, the datagram is cut before it, so nothing is ever copied twice.
 * A put that does not fit returns -1/ENOSPC and leaves the arena as it was
 * before the open message; the caller sends what is framed and starts again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nlf.h"
#include "nlf_attr.h"

#define NO_MSG UINT32_MAX
/* The largest arena nlf_tx_new accepts (offsets stay far from wrapping). */
#define NLF_TX_CAP_MAX (1u << 30)
/* nla_len is 16 bits: an attribute, header included, is at most this long. */
#define NLF_ATTR_LEN_MAX UINT16_MAX

/* A new arena of cap bytes, cut into datagrams of at most dgram_max. */
struct nlf_tx *nlf_tx_new(uint32_t cap, uint32_t dgram_max)
{
	struct nlf_tx *tx;

	if (cap < NLMSG_HDRLEN || cap > NLF_TX_CAP_MAX || dgram_max < NLMSG_HDRLEN) {
		errno = EINVAL;
		return NULL;
	}
	tx = calloc(1, sizeof(*tx));
	if (!tx)
		goto err;
	tx->cap = cap;
	tx->dgram_max = dgram_max;
	tx->dg_cap = cap / NLMSG_HDRLEN + 1;
	tx->arena = malloc(cap);
	tx->dg_off = malloc(tx->dg_cap * sizeof(uint32_t));
	tx->dg_len = malloc(tx->dg_cap * sizeof(uint32_t));
	tx->mm = calloc(tx->dg_cap, sizeof(struct mmsghdr));
	tx->iov = calloc(tx->dg_cap, sizeof(struct iovec));
	if (!tx->arena || !tx->dg_off || !tx->dg_len || !tx->mm || !tx->iov)
		goto err_free;
	tx->seq = 1;
	nlf_tx_reset(tx);
	return tx;

err_free:
	nlf_tx_free(tx);
err:
	errno = ENOMEM;
	return NULL;
}

void nlf_tx_free(struct nlf_tx *tx)
{
	if (!tx)
		return;
	free(tx->arena);
	free(tx->dg_off);
	free(tx->dg_len);
	free(tx->mm);
	free(tx->iov);
	free(tx);
}

/* Forgets everything framed; the sequence counter keeps counting. */
void nlf_tx_reset(struct nlf_tx *tx)
{
	tx->pos = 0;
	tx->msg_start = NO_MSG;
	tx->dg_start = 0;
	tx->ndgrams = 0;
	tx->sent = 0;
	tx->nmsgs = 0;
	tx->depth = 0;
}

/* Room for n more bytes in the arena: bool. */
static int room(const struct nlf_tx *tx, uint64_t n)
{
	return (uint64_t)tx->pos + n <= tx->cap;
}

static void put_hdr(unsigned char *p, uint32_t len, uint16_t type,
		    uint16_t flags, uint32_t seq, uint32_t portid)
{
	struct nlmsghdr h = {
		.nlmsg_len = len, .nlmsg_type = type, .nlmsg_flags = flags,
		.nlmsg_seq = seq, .nlmsg_pid = portid,
	};

	memcpy(p, &h, sizeof(h));
}

/*
 * Opens a message: header plus hdrlen bytes of family header, padded.
 * Returns its sequence number, or -1 with EBUSY (a message is open) or
 * ENOSPC (no room in the arena).
 */
int64_t nlf_tx_msg_begin(struct nlf_tx *tx, uint16_t type, uint16_t flags,
			 uint32_t portid, const void *hdr, uint32_t hdrlen)
{
	uint32_t n = NLMSG_HDRLEN + NLMSG_ALIGN(hdrlen);
	unsigned char *p;

	if (tx->msg_start != NO_MSG) {
		errno = EBUSY;
		return -1;
	}
	if (hdrlen > tx->cap || !room(tx, n)) {
		errno = ENOSPC;
		return -1;
	}
	p = tx->arena + tx->pos;
	put_hdr(p, 0, type, flags, tx->seq, portid);
	if (hdrlen)
		memcpy(p + NLMSG_HDRLEN, hdr, hdrlen);
	memset(p + NLMSG_HDRLEN + hdrlen, 0, n - NLMSG_HDRLEN - hdrlen);
	tx->msg_start = tx->pos;
	tx->pos += n;
	tx->depth = 0;
	return tx->seq;
}

/* Ends the datagram before off when the bytes since its start pass dgram_max. */
static void cut_before(struct nlf_tx *tx, uint32_t off, uint32_t end)
{
	if (end - tx->dg_start > tx->dgram_max && off > tx->dg_start) {
		tx->dg_off[tx->ndgrams] = tx->dg_start;
		tx->dg_len[tx->ndgrams] = off - tx->dg_start;
		tx->ndgrams++;
		tx->dg_start = off;
	}
}

/* Closes the open message. -1/EINVAL when none is open, EBUSY if nested. */
int nlf_tx_msg_end(struct nlf_tx *tx)
{
	uint32_t len;

	if (tx->msg_start == NO_MSG || tx->depth) {
		errno = tx->depth ? EBUSY : EINVAL;
		return -1;
	}
	len = tx->pos - tx->msg_start;
	memcpy(tx->arena + tx->msg_start, &len, sizeof(len));
	cut_before(tx, tx->msg_start, tx->pos);
	tx->msg_start = NO_MSG;
	tx->nmsgs++;
	tx->seq++;
	return 0;
}

/* Drops the open message, if any, as if it had never been begun. */
void nlf_tx_msg_cancel(struct nlf_tx *tx)
{
	if (tx->msg_start == NO_MSG)
		return;
	tx->pos = tx->msg_start;
	tx->msg_start = NO_MSG;
	tx->depth = 0;
}

/*
 * Reserves one attribute of len payload bytes in the open message, its
 * padding zeroed, and returns where the payload goes; NULL with EINVAL (no
 * open message), EMSGSIZE (longer than an attribute can be) or ENOSPC (no
 * room).
 */
static unsigned char *attr_reserve(struct nlf_tx *tx, uint16_t type,
				   uint32_t len)
{
	struct nlattr h;
	unsigned char *p;

	if (tx->msg_start == NO_MSG) {
		errno = EINVAL;
		return NULL;
	}
	if (len > NLF_ATTR_LEN_MAX - NLA_HDRLEN) {
		errno = EMSGSIZE;
		return NULL;
	}
	if (!room(tx, NLA_HDRLEN + NLA_ALIGN(len))) {
		errno = ENOSPC;
		return NULL;
	}
	p = tx->arena + tx->pos;
	h.nla_len = (uint16_t)(NLA_HDRLEN + len);
	h.nla_type = type;
	memcpy(p, &h, sizeof(h));
	memset(p + NLA_HDRLEN + len, 0, NLA_ALIGN(len) - len);
	tx->pos += NLA_HDRLEN + NLA_ALIGN(len);
	return p + NLA_HDRLEN;
}

/* Appends one attribute to the open message: -1 and errno as attr_reserve. */
int nlf_tx_attr_put(struct nlf_tx *tx, uint16_t type, const void *data,
		    uint32_t len)
{
	unsigned char *p = attr_reserve(tx, type, len);

	if (!p)
		return -1;
	if (len)
		memcpy(p, data, len);
	return 0;
}

int nlf_tx_attr_put_u8(struct nlf_tx *tx, uint16_t type, uint8_t v)
{
	return nlf_tx_attr_put(tx, type, &v, sizeof(v));
}

int nlf_tx_attr_put_u16(struct nlf_tx *tx, uint16_t type, uint16_t v)
{
	return nlf_tx_attr_put(tx, type, &v, sizeof(v));
}

int nlf_tx_attr_put_u32(struct nlf_tx *tx, uint16_t type, uint32_t v)
{
	return nlf_tx_attr_put(tx, type, &v, sizeof(v));
}

int nlf_tx_attr_put_u64(struct nlf_tx *tx, uint16_t type, uint64_t v)
{
	return nlf_tx_attr_put(tx, type, &v, sizeof(v));
}

/* A string attribute: the len bytes of s, then a NUL (s needs none). */
int nlf_tx_attr_put_str(struct nlf_tx *tx, uint16_t type, const char *s,
			uint32_t len)
{
	unsigned char *p;

	if (len > NLF_ATTR_LEN_MAX - NLA_HDRLEN - 1) {
		errno = EMSGSIZE;
		return -1;
	}
	p = attr_reserve(tx, type, len + 1);
	if (!p)
		return -1;
	if (len)
		memcpy(p, s, len);
	p[len] = 0;
	return 0;
}

/*
 * Opens a nested attribute (NLA_F_NESTED set).  Past NLF_NEST_MAX open
 * nests: -1/E2BIG, and the open message is cancelled (nothing stays open).
 * Nests are open only inside an open message (depth is 0 otherwise).
 */
int nlf_tx_nest_start(struct nlf_tx *tx, uint16_t type)
{
	if (tx->depth >= NLF_NEST_MAX) {
		nlf_tx_msg_cancel(tx);
		errno = E2BIG;
		return -1;
	}
	if (nlf_tx_attr_put(tx, type | NLA_F_NESTED, NULL, 0) < 0)
		return -1;
	tx->nest[tx->depth++] = tx->pos - NLA_HDRLEN;
	return 0;
}

/* Closes the innermost nest. -1/EINVAL when none is open or it overflows. */
int nlf_tx_nest_end(struct nlf_tx *tx)
{
	uint32_t start, len;
	uint16_t l;

	if (!tx->depth) {
		errno = EINVAL;
		return -1;
	}
	start = tx->nest[tx->depth - 1];
	len = tx->pos - start;
	if (len > NLF_ATTR_LEN_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	tx->depth--;
	l = (uint16_t)len;
	memcpy(tx->arena + start, &l, sizeof(l));
	return 0;
}

/*
 * Appends up to count copies of the framed message tmpl[0..len) (its
 * nlmsg_len must be len), each with the next sequence number.  Returns how
 * many fit (0, errno ENOSPC, when none does), or -1/EINVAL for a bad
 * template or EBUSY when a message is open.
 */
int64_t nlf_tx_put_repeat(struct nlf_tx *tx, const void *tmpl, uint32_t len,
			  uint64_t count)
{
	uint32_t step = NLMSG_ALIGN(len), hlen = 0;
	uint64_t i, fit;
	unsigned char *p;

	if (tx->msg_start != NO_MSG) {
		errno = EBUSY;
		return -1;
	}
	if (nlf_nlmsg_ok(tmpl, len))
		memcpy(&hlen, tmpl, sizeof(hlen));
	if (hlen != len) {
		errno = EINVAL;
		return -1;
	}
	fit = (tx->cap - tx->pos) / step;
	if (fit > count)
		fit = count;
	if (!fit && count)
		errno = ENOSPC;
	p = tx->arena + tx->pos;
	for (i = 0; i < fit; i++, p += step) {
		uint32_t seq = tx->seq++;

		memcpy(p, tmpl, len);
		memset(p + len, 0, step - len);
		memcpy(p + NLF_NLMSG_SEQ_OFF, &seq, sizeof(seq));
		cut_before(tx, (uint32_t)(p - tx->arena),
			   (uint32_t)(p - tx->arena) + step);
	}
	tx->pos += (uint32_t)(fit * step);
	tx->nmsgs += (uint32_t)fit;
	return (int64_t)fit;
}

/*
 * Appends the whole messages packed back to back in buf[0..len) (each
 * nlmsg_len a multiple of 4, as framed messages are) that fit, each with
 * the next sequence number, cutting datagrams as above.  Returns the bytes
 * taken (0, errno ENOSPC, when the first does not fit), or -1 with EINVAL
 * (a malformed or unaligned message) or EBUSY (a message is open).
 */
int64_t nlf_tx_put_stream(struct nlf_tx *tx, const void *buf, uint64_t len)
{
	const unsigned char *src = buf;
	uint64_t off = 0;

	if (tx->msg_start != NO_MSG) {
		errno = EBUSY;
		return -1;
	}
	while (off < len) {
		uint32_t mlen, seq, at = tx->pos;
		int64_t rem = (int64_t)(len - off);

		if (!nlf_nlmsg_ok(src + off, rem)) {
			errno = EINVAL;
			return -1;
		}
		memcpy(&mlen, src + off, sizeof(mlen));
		if (mlen % NLMSG_ALIGNTO) {
			errno = EINVAL;
			return -1;
		}
		if ((uint64_t)tx->pos + mlen > tx->cap)
			break;
		seq = tx->seq++;
		memcpy(tx->arena + at, src + off, mlen);
		memcpy(tx->arena + at + NLF_NLMSG_SEQ_OFF, &seq, sizeof(seq));
		cut_before(tx, at, at + mlen);
		tx->pos += mlen;
		tx->nmsgs++;
		off += mlen;
	}
	if (!off && len)
		errno = ENOSPC;
	return (int64_t)off;
}

/* Closes the open datagram so everything framed can be sent. -1/EBUSY if a
 * message is open.
 */
int nlf_tx_close(struct nlf_tx *tx)
{
	if (tx->msg_start != NO_MSG) {
		errno = EBUSY;
		return -1;
	}
	if (tx->pos > tx->dg_start) {
		tx->dg_off[tx->ndgrams] = tx->dg_start;
		tx->dg_len[tx->ndgrams] = tx->pos - tx->dg_start;
		tx->ndgrams++;
		tx->dg_start = tx->pos;
	}
	return 0;
}
