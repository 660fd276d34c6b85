/* SPDX-License-Identifier: MIT */
/*
 * The one attribute walker of the shim.  Every loop over netlink attributes
 * (lookup, index, validation, extended-ack TLVs, spec decode plans) is
 *
 *	const unsigned char *a;
 *	int64_t rem;
 *
 *	nlf_attr_for_each(a, rem, buf, len) {
 *		... nlf_attr_type(a), nlf_attr_data(a), nlf_attr_plen(a) ...
 *	}
 *	if (rem > 0)
 *		... a malformed tail starts at a ...
 *
 * in the style of libmnl's mnl_attr_for_each: the remainder is signed, so a
 * lying length can never move the cursor past the end; after the loop, rem
 * is 0 for a clean stream (or the last attribute's padding, <= 0).
 * Headers are read with memcpy: the input needs no alignment.
 */
#ifndef NLF_ATTR_H
#define NLF_ATTR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <linux/netlink.h>

/* Where the fields of a struct nlmsghdr / struct nlattr sit on the wire. */
#define NLF_NLMSG_LEN_OFF	offsetof(struct nlmsghdr, nlmsg_len)
#define NLF_NLMSG_TYPE_OFF	offsetof(struct nlmsghdr, nlmsg_type)
#define NLF_NLMSG_FLAGS_OFF	offsetof(struct nlmsghdr, nlmsg_flags)
#define NLF_NLMSG_SEQ_OFF	offsetof(struct nlmsghdr, nlmsg_seq)
#define NLF_NLMSG_PID_OFF	offsetof(struct nlmsghdr, nlmsg_pid)
#define NLF_NLA_LEN_OFF		offsetof(struct nlattr, nla_len)
#define NLF_NLA_TYPE_OFF	offsetof(struct nlattr, nla_type)

static inline uint16_t nlf_rd16(const unsigned char *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t nlf_rd32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Bool: a whole attribute starts at a and fits in rem bytes. */
static inline int nlf_attr_fits(const unsigned char *a, int64_t rem)
{
	return rem >= NLA_HDRLEN &&
	       nlf_rd16(a + NLF_NLA_LEN_OFF) >= NLA_HDRLEN &&
	       (int64_t)nlf_rd16(a + NLF_NLA_LEN_OFF) <= rem;
}

/* nla_len: header and payload, without padding. */
static inline uint16_t nlf_attr_len(const unsigned char *a)
{
	return nlf_rd16(a + NLF_NLA_LEN_OFF);
}

/* The type with NLA_F_NESTED and NLA_F_NET_BYTEORDER masked off. */
static inline uint16_t nlf_attr_type(const unsigned char *a)
{
	return nlf_rd16(a + NLF_NLA_TYPE_OFF) & NLA_TYPE_MASK;
}

/* The raw nla_type, flag bits included. */
static inline uint16_t nlf_attr_type_raw(const unsigned char *a)
{
	return nlf_rd16(a + NLF_NLA_TYPE_OFF);
}

static inline const unsigned char *nlf_attr_data(const unsigned char *a)
{
	return a + NLA_HDRLEN;
}

static inline uint32_t nlf_attr_plen(const unsigned char *a)
{
	return (uint32_t)nlf_attr_len(a) - NLA_HDRLEN;
}

/* Bytes from this attribute to the next (its length, aligned). */
static inline uint32_t nlf_attr_step(const unsigned char *a)
{
	return NLA_ALIGN(nlf_attr_len(a));
}

#define nlf_attr_for_each(a, rem, buf, len)				\
	for ((a) = (buf), (rem) = (int64_t)(len);			\
	     nlf_attr_fits((a), (rem));					\
	     (rem) -= nlf_attr_step(a), (a) += nlf_attr_step(a))

#endif /* NLF_ATTR_H */
