// SPDX-License-Identifier: MIT
/*
 * Parsing: netlink messages into a column table, attributes into an index by
 * type, extended acks into a struct.  Every read is bounded by a signed
 * remainder; headers are copied out with memcpy, so the input needs no
 * alignment and a malformed length can never drive a read past the end.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nlf.h"
#include "nlf_attr.h"

#define rd32 nlf_rd32
#define rd16 nlf_rd16

/* The largest errno (the kernel's MAX_ERRNO). */
#define NLF_ERRNO_MAX 4095
/* nlf_attr_next's answer for a malformed attribute. */
#define NLF_ATTR_BAD UINT64_MAX

static uint32_t attr_find(const unsigned char *buf, uint32_t len,
			  uint16_t type, uint32_t *alen);

/* Bool: a whole nlmsghdr fits in rem bytes and its length is sane. */
int nlf_nlmsg_ok(const unsigned char *p, int64_t rem)
{
	return rem >= (int64_t)sizeof(struct nlmsghdr) &&
	       rd32(p) >= sizeof(struct nlmsghdr) && (int64_t)rd32(p) <= rem;
}

/* Allocates the columns for cap rows. -1/ENOMEM on failure. */
int nlf_table_init(struct nlf_table *t, uint32_t cap)
{
	memset(t, 0, sizeof(*t));
	t->cap = cap;
	t->off = malloc(cap * sizeof(uint32_t));
	t->len = malloc(cap * sizeof(uint32_t));
	t->type = malloc(cap * sizeof(uint16_t));
	t->flags = malloc(cap * sizeof(uint16_t));
	t->seq = malloc(cap * sizeof(uint32_t));
	t->portid = malloc(cap * sizeof(uint32_t));
	t->error = malloc(cap * sizeof(int32_t));
	t->dgram = malloc(cap * sizeof(uint32_t));
	if (t->off && t->len && t->type && t->flags && t->seq && t->portid &&
	    t->error && t->dgram)
		return 0;
	nlf_table_fini(t);
	errno = ENOMEM;
	return -1;
}

void nlf_table_fini(struct nlf_table *t)
{
	free(t->off);
	free(t->len);
	free(t->type);
	free(t->flags);
	free(t->seq);
	free(t->portid);
	free(t->error);
	free(t->dgram);
	memset(t, 0, sizeof(*t));
}

void nlf_table_reset(struct nlf_table *t)
{
	t->count = 0;
	t->n_error = 0;
	t->n_ack = 0;
	t->n_done = 0;
	t->n_overrun = 0;
	t->n_intr = 0;
	t->n_trunc = 0;
	t->n_bad = 0;
}

/* The errno an NLMSG_ERROR / NLMSG_DONE carries, or 0 when it has none. */
static int32_t msg_errno(const unsigned char *p, uint32_t len)
{
	int32_t e;

	if (len < NLMSG_HDRLEN + sizeof(int32_t))
		return 0;
	memcpy(&e, p + NLMSG_HDRLEN, sizeof(e));
	/* anything past the largest errno is not an error code */
	return e < 0 && e >= -NLF_ERRNO_MAX ? -e : 0;
}

static void row_count(struct nlf_table *t, uint16_t type, uint16_t flags,
		      int32_t err)
{
	if (type == NLMSG_ERROR) {
		if (err)
			t->n_error++;
		else
			t->n_ack++;
	} else if (type == NLMSG_DONE) {
		t->n_done++;
		if (err)
			t->n_error++;
	} else if (type == NLMSG_OVERRUN) {
		t->n_overrun++;
	}
	if (flags & NLM_F_DUMP_INTR)
		t->n_intr++;
}

/*
 * Appends one row per message found in buf[0..len) to t, offsets relative to
 * base.  Returns the rows added.  A malformed or unpadded tail counts in
 * t->n_bad; a full table stops the parse with -1/ENOSPC (size the table to
 * len / NLMSG_HDRLEN rows and it cannot fill).
 */
int nlf_parse(const unsigned char *buf, uint32_t len, uint32_t base,
	      uint32_t dgram, struct nlf_table *t)
{
	const unsigned char *p = buf;
	int64_t rem = len;
	uint32_t i, start = t->count;

	while (nlf_nlmsg_ok(p, rem)) {
		uint32_t mlen = rd32(p);

		if (t->count == t->cap) {
			errno = ENOSPC;
			return -1;
		}
		i = t->count++;
		t->off[i] = base + (uint32_t)(p - buf);
		t->len[i] = mlen;
		t->type[i] = rd16(p + 4);
		t->flags[i] = rd16(p + 6);
		t->seq[i] = rd32(p + 8);
		t->portid[i] = rd32(p + 12);
		t->dgram[i] = dgram;
		t->error[i] = 0;
		if (t->type[i] == NLMSG_ERROR || t->type[i] == NLMSG_DONE)
			t->error[i] = msg_errno(p, mlen);
		row_count(t, t->type[i], t->flags[i], t->error[i]);
		rem -= NLMSG_ALIGN(mlen);
		p += NLMSG_ALIGN(mlen);
	}
	if (rem > 0)
		t->n_bad++;
	return (int)(t->count - start);
}

/*
 * Indexes the attributes in buf[0..len): for each type up to maxtype,
 * off[type] and alen[type] locate the payload of the last attribute of that
 * type (relative to buf); off is 0 where the type is absent (a payload never
 * starts at 0).  Types above maxtype are skipped.  Returns the number of
 * attributes, or -1/EINVAL when the bytes are not a clean attribute stream
 * (the index then holds what came before the fault).
 */
int nlf_attr_parse(const unsigned char *buf, uint32_t len, uint32_t maxtype,
		   uint32_t *off, uint32_t *alen)
{
	const unsigned char *a;
	int64_t rem;
	int n = 0;

	memset(off, 0, (maxtype + 1) * sizeof(uint32_t));
	memset(alen, 0, (maxtype + 1) * sizeof(uint32_t));
	nlf_attr_for_each(a, rem, buf, len) {
		uint16_t type = nlf_attr_type(a);

		if (type <= maxtype) {
			off[type] = (uint32_t)(nlf_attr_data(a) - buf);
			alen[type] = nlf_attr_plen(a);
		}
		n++;
	}
	if (rem > 0) {
		errno = EINVAL;
		return -1;
	}
	return n;
}

/*
 * The first attribute of the given type in base[start..start+len): its
 * payload length in the high 32 bits and its payload offset from base in
 * the low 32, or 0 when absent or past a malformed attribute.
 */
uint64_t nlf_attr_find(const unsigned char *base, uint32_t start, uint32_t len,
		       uint16_t type)
{
	uint32_t alen = 0, off = attr_find(base + start, len, type, &alen);

	return off ? (uint64_t)alen << 32 | (start + off) : 0;
}

/* Bool: buf[0..len) is a clean stream of attributes. */
int nlf_attr_ok(const unsigned char *buf, uint32_t len)
{
	const unsigned char *a;
	int64_t rem;

	nlf_attr_for_each(a, rem, buf, len)
		;
	return rem <= 0;
}

/*
 * One step of the walker, for callers that iterate themselves (Python's
 * AttrSet): the attribute at offset pos of base, in a stream that ends at
 * offset end.  Returns its payload offset from base in bits 0-31, its
 * payload length in bits 32-47 and its raw nla_type (flag bits included) in
 * bits 48-63; the next attribute is at payload offset + NLA_ALIGN(length).
 * 0 at the clean end of the stream (pos at or past end, which the last
 * attribute's padding may pass); UINT64_MAX, errno EINVAL, when the bytes at
 * pos are not a whole attribute.
 */
uint64_t nlf_attr_next(const unsigned char *base, uint32_t pos, uint32_t end)
{
	const unsigned char *a = base + pos;
	int64_t rem = (int64_t)end - pos;

	if (rem <= 0)
		return 0;
	if (!nlf_attr_fits(a, rem)) {
		errno = EINVAL;
		return NLF_ATTR_BAD;
	}
	return (uint64_t)nlf_attr_type_raw(a) << 48 |
	       (uint64_t)nlf_attr_plen(a) << 32 |
	       (pos + NLA_HDRLEN);
}

static uint32_t attr_find(const unsigned char *buf, uint32_t len,
			  uint16_t type, uint32_t *alen)
{
	const unsigned char *a;
	int64_t rem;

	nlf_attr_for_each(a, rem, buf, len) {
		if (nlf_attr_type(a) == type) {
			*alen = nlf_attr_plen(a);
			return (uint32_t)(nlf_attr_data(a) - buf);
		}
	}
	return 0;
}

static void ack_tlvs(const unsigned char *buf, int64_t len, uint32_t base,
		     struct nlf_extack *ea)
{
	const unsigned char *a;
	int64_t rem;

	nlf_attr_for_each(a, rem, buf, len) {
		uint16_t type = nlf_attr_type(a);
		uint32_t plen = nlf_attr_plen(a);
		const unsigned char *d = nlf_attr_data(a);

		if (type == NLMSGERR_ATTR_MSG && plen) {
			ea->msg_off = base + (uint32_t)(d - buf);
			ea->msg_len = strnlen((const char *)d, plen);
			ea->has |= NLF_EXTACK_MSG;
		} else if (type == NLMSGERR_ATTR_OFFS && plen >= 4) {
			ea->offs = rd32(d);
			ea->has |= NLF_EXTACK_OFFS;
		} else if (type == NLMSGERR_ATTR_MISS_TYPE && plen >= 4) {
			ea->miss_type = rd32(d);
			ea->has |= NLF_EXTACK_MISS_TYPE;
		} else if (type == NLMSGERR_ATTR_MISS_NEST && plen >= 4) {
			ea->miss_nest = rd32(d);
			ea->has |= NLF_EXTACK_MISS_NEST;
		}
	}
}

/*
 * Decodes the error code and extended-ack TLVs of one NLMSG_ERROR or
 * NLMSG_DONE message msg[0..len).  Offsets in ea are relative to msg.
 * -1/EINVAL when the message is too short to hold an error code (and, for
 * NLMSG_ERROR, the echoed request header).  An echoed request whose own
 * nlmsg_len does not fit in what is left of the message leaves no room for
 * TLVs: the error code is decoded, the TLVs are not looked for.
 */
int nlf_extack_parse(const unsigned char *msg, uint32_t len,
		     struct nlf_extack *ea)
{
	uint16_t type, flags;
	uint32_t tlv, inner;

	memset(ea, 0, sizeof(*ea));
	if (!nlf_nlmsg_ok(msg, len) ||
	    rd32(msg) < NLMSG_HDRLEN + sizeof(int32_t)) {
		errno = EINVAL;
		return -1;
	}
	len = rd32(msg);
	type = rd16(msg + NLF_NLMSG_TYPE_OFF);
	flags = rd16(msg + NLF_NLMSG_FLAGS_OFF);
	ea->error = msg_errno(msg, len);
	tlv = NLMSG_HDRLEN + sizeof(int32_t);
	if (type == NLMSG_ERROR) {
		/* struct nlmsgerr: the request's header, then maybe its body */
		if (len - tlv < NLMSG_HDRLEN) {
			errno = EINVAL;
			return -1;
		}
		ea->req_type = rd16(msg + tlv + NLF_NLMSG_TYPE_OFF);
		ea->req_seq = rd32(msg + tlv + NLF_NLMSG_SEQ_OFF);
		inner = rd32(msg + tlv + NLF_NLMSG_LEN_OFF);
		if (flags & NLM_F_CAPPED)
			inner = NLMSG_HDRLEN;
		if (inner < NLMSG_HDRLEN || inner > len - tlv)
			return 0;
		/* inner <= len - tlv < 2^32 - 3: the alignment cannot wrap */
		tlv += NLMSG_ALIGN(inner);
	}
	if ((flags & NLM_F_ACK_TLVS) && tlv < len)
		ack_tlvs(msg + tlv, (int64_t)len - tlv, tlv, ea);
	return 0;
}

/*
 * Finds attribute attrtype in row i of t, after hdrlen bytes of family
 * header: returns its payload offset from the arena start (0 when absent)
 * and its length in *alen.
 */
static uint32_t row_attr(const unsigned char *arena, const struct nlf_table *t,
			 uint32_t i, uint32_t hdrlen, uint16_t attrtype,
			 uint32_t *alen)
{
	uint32_t skip = NLMSG_HDRLEN + NLMSG_ALIGN(hdrlen), o;

	*alen = 0;
	if (t->len[i] < skip)
		return 0;
	o = attr_find(arena + t->off[i] + skip, t->len[i] - skip, attrtype,
		      alen);
	return o ? t->off[i] + skip + o : 0;
}

static int rows_ok(const struct nlf_table *t, uint32_t first, uint32_t n)
{
	if (first > t->count || n > t->count - first) {
		errno = ERANGE;
		return 0;
	}
	return 1;
}

/*
 * For rows [first, first+n) of t, locate attribute attrtype after hdrlen
 * bytes of family header: out_off gets its payload offset from the arena
 * start (0 when absent), out_len its length.  Returns how many were found,
 * or -1/ERANGE when the rows are out of range.
 */
int nlf_table_attr_column(const unsigned char *arena,
			  const struct nlf_table *t, uint32_t first,
			  uint32_t n, uint32_t hdrlen, uint16_t attrtype,
			  uint32_t *out_off, uint32_t *out_len)
{
	uint32_t i, found = 0;

	if (!rows_ok(t, first, n))
		return -1;
	for (i = 0; i < n; i++) {
		out_off[i] = row_attr(arena, t, first + i, hdrlen, attrtype,
				      &out_len[i]);
		found += out_off[i] != 0;
	}
	return (int)found;
}

static uint64_t rd_uint(const unsigned char *p, uint32_t len, uint64_t dflt)
{
	uint64_t v = 0;

	switch (len) {
	case 1:
		return *p;
	case 2:
		return rd16(p);
	case 4:
		return rd32(p);
	case 8:
		memcpy(&v, p, 8);
		return v;
	}
	return dflt;
}

/*
 * Like nlf_table_attr_column, but decodes the attribute as an unsigned
 * integer of 1, 2, 4 or 8 bytes into out; dflt where absent or of another
 * size.  Returns how many were decoded, or -1/ERANGE.
 */
int nlf_table_attr_uint(const unsigned char *arena, const struct nlf_table *t,
			uint32_t first, uint32_t n, uint32_t hdrlen,
			uint16_t attrtype, uint64_t dflt, uint64_t *out)
{
	uint32_t i, l, found = 0;

	if (!rows_ok(t, first, n))
		return -1;
	for (i = 0; i < n; i++) {
		uint32_t o = row_attr(arena, t, first + i, hdrlen, attrtype, &l);

		out[i] = o ? rd_uint(arena + o, l, dflt) : dflt;
		found += o && (l == 1 || l == 2 || l == 4 || l == 8);
	}
	return (int)found;
}

/*
 * Walks the rows of the given type in order and counts the sequence numbers
 * skipped: *expect is the seq the next row should carry and is set past
 * each row seen (a row behind it counts no gap).  Returns the number of
 * missing sequence numbers.
 */
uint32_t nlf_table_seq_gaps(const struct nlf_table *t, uint16_t type,
			    uint32_t *expect)
{
	uint32_t i, gaps = 0, e = *expect;

	for (i = 0; i < t->count; i++) {
		if (t->type[i] != type)
			continue;
		if ((int32_t)(t->seq[i] - e) > 0)
			gaps += t->seq[i] - e;
		e = t->seq[i] + 1;
	}
	*expect = e;
	return gaps;
}

/* How many of rows [first, first+n) have this type; -1/ERANGE. */
int64_t nlf_table_count_type(const struct nlf_table *t, uint32_t first,
			     uint32_t n, uint16_t type)
{
	uint32_t i;
	int64_t c = 0;

	if (!rows_ok(t, first, n))
		return -1;
	for (i = first; i < first + n; i++)
		c += t->type[i] == type;
	return c;
}

/*
 * Packs one string attribute of rows [first, first+n) into out, each up to
 * its first NUL and followed by a NUL (an absent one is empty, and present[i]
 * tells the two apart).  Returns the bytes written, or -1 with ERANGE (bad
 * rows) or ENOSPC (out too small: cap must be the rows' total length).
 */
int64_t nlf_table_attr_strs(const unsigned char *arena,
			    const struct nlf_table *t, uint32_t first,
			    uint32_t n, uint32_t hdrlen, uint16_t attrtype,
			    unsigned char *out, uint64_t cap, uint8_t *present)
{
	uint64_t pos = 0;
	uint32_t i, l;

	if (!rows_ok(t, first, n))
		return -1;
	for (i = 0; i < n; i++) {
		uint32_t o = row_attr(arena, t, first + i, hdrlen, attrtype, &l);
		const unsigned char *z = o ? memchr(arena + o, 0, l) : NULL;

		if (z)
			l = (uint32_t)(z - (arena + o));
		if (!o)
			l = 0;
		if (pos + l + 1 > cap) {
			errno = ENOSPC;
			return -1;
		}
		if (l)
			memcpy(out + pos, arena + o, l);
		out[pos + l] = 0;
		pos += l + 1;
		present[i] = o != 0;
	}
	return (int64_t)pos;
}

/*
 * Like nlf_table_seq_gaps, for an unsigned attribute (1, 2, 4 or 8 bytes)
 * after hdrlen bytes of family header, over rows [first, first+n): counts
 * the values skipped, *expect being the next value due.  Rows without the
 * attribute count in *absent.  Returns the gaps (saturated at INT64_MAX),
 * or -1/ERANGE.
 */
int64_t nlf_table_attr_gaps(const unsigned char *arena,
			    const struct nlf_table *t, uint32_t first,
			    uint32_t n, uint32_t hdrlen, uint16_t attrtype,
			    uint64_t *expect, uint32_t *absent)
{
	uint64_t e = *expect, v;
	int64_t gaps = 0;
	uint32_t i, l, o;

	if (!rows_ok(t, first, n))
		return -1;
	for (i = first; i < first + n; i++) {
		o = row_attr(arena, t, i, hdrlen, attrtype, &l);
		if (!o || (l != 1 && l != 2 && l != 4 && l != 8)) {
			(*absent)++;
			continue;
		}
		v = rd_uint(arena + o, l, 0);
		if (v > e)
			gaps = v - e > (uint64_t)(INT64_MAX - gaps) ?
			       INT64_MAX : gaps + (int64_t)(v - e);
		e = v + 1;
	}
	*expect = e;
	return gaps;
}
