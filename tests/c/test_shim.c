// SPDX-License-Identifier: MIT
/*
 * C unit test of the shim's framing (nlf_tx.c) and parsing (nlf_parse.c),
 * with no Python in between.  Built natively and for s390x (big-endian) and
 * run under qemu-user: `make test-s390x`.  Everything on the wire is in host
 * order, so what is framed here must parse back here, on either byte order,
 * and the header bytes must be laid out the way this host orders integers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netlink.h>

#include "nlf.h"
#include "nlf_attr.h"

static int failures;
static int checks;

/*
 * The test links with -Wl,--wrap=malloc,--wrap=calloc: the shim's
 * allocations come here, and the one numbered fail_at (0: the next) fails.
 */
static int fail_at = -1;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);

static int fail_now(void)
{
	if (fail_at < 0)
		return 0;
	return fail_at-- == 0;
}

void *__wrap_malloc(size_t n)
{
	return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return fail_now() ? NULL : __real_calloc(n, size);
}

#define CHECK(cond) do {						\
	checks++;							\
	if (!(cond)) {							\
		failures++;						\
		fprintf(stderr, "%s:%d: CHECK failed: %s\n",		\
			__FILE__, __LINE__, #cond);			\
	}								\
} while (0)

#define ARENA 65536
/* The largest attribute payload: nla_len is 16 bits, header included. */
#define NLF_ATTR_PAYLOAD_MAX (0xffff - NLA_HDRLEN)
/*
 * What frame_all() frames: header 16, family header 3 -> 4, then u8 8,
 * u16 8, u32 8, u64 12, s16 8, "eth0" 12, 3 bytes 8, flag 4, nest 4 + 8 +
 * (4 + 8).
 */
#define MSG_LEN (16 + 4 + 8 + 8 + 8 + 12 + 8 + 12 + 8 + 4 + 24)

/* A value of n bytes at p, as this host orders integers. */
static uint64_t rd_host(const unsigned char *p, uint32_t n)
{
	uint8_t v8;
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	switch (n) {
	case 1:
		memcpy(&v8, p, 1);
		return v8;
	case 2:
		memcpy(&v16, p, 2);
		return v16;
	case 4:
		memcpy(&v32, p, 4);
		return v32;
	case 8:
		memcpy(&v64, p, 8);
		return v64;
	}
	return UINT64_MAX;
}

/* The bytes of a 16-bit value, most significant first on big-endian. */
static void check_order16(const unsigned char *p, uint16_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	CHECK(p[0] == (v >> 8) && p[1] == (v & 0xff));
#else
	CHECK(p[0] == (v & 0xff) && p[1] == (v >> 8));
#endif
}

static void check_order32(const unsigned char *p, uint32_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	CHECK(p[0] == v >> 24 && p[3] == (v & 0xff));
#else
	CHECK(p[3] == v >> 24 && p[0] == (v & 0xff));
#endif
}

enum { A_U8 = 1, A_U16, A_U32, A_U64, A_S16, A_STR, A_BIN, A_FLAG, A_NEST };

static const unsigned char family_hdr[3] = { 0x01, 0x02, 0x03 };

/* Frames one message with every attribute width; returns its seq. */
static int64_t frame_all(struct nlf_tx *tx, uint32_t i)
{
	int16_t s16 = -300;
	int64_t seq;

	seq = nlf_tx_msg_begin(tx, 0x20 + (i % 3), NLM_F_REQUEST, 77,
			       family_hdr, sizeof(family_hdr));
	CHECK(seq > 0);
	CHECK(nlf_tx_attr_put_u8(tx, A_U8, 0xab) == 0);
	CHECK(nlf_tx_attr_put_u16(tx, A_U16, 0xbeef) == 0);
	CHECK(nlf_tx_attr_put_u32(tx, A_U32, 0xdeadbeef + i) == 0);
	CHECK(nlf_tx_attr_put_u64(tx, A_U64, 0x0123456789abcdefULL) == 0);
	CHECK(nlf_tx_attr_put(tx, A_S16, &s16, sizeof(s16)) == 0);
	CHECK(nlf_tx_attr_put_str(tx, A_STR, "eth0", 4) == 0);
	CHECK(nlf_tx_attr_put(tx, A_BIN, "\x00\xff\x10", 3) == 0);
	CHECK(nlf_tx_attr_put(tx, A_FLAG, NULL, 0) == 0);
	CHECK(nlf_tx_nest_start(tx, A_NEST) == 0);
	CHECK(nlf_tx_attr_put_u32(tx, 1, 9) == 0);
	CHECK(nlf_tx_nest_start(tx, 2) == 0);
	CHECK(nlf_tx_attr_put_u16(tx, 1, 0x1234) == 0);
	CHECK(nlf_tx_nest_end(tx) == 0);
	CHECK(nlf_tx_nest_end(tx) == 0);
	CHECK(nlf_tx_msg_end(tx) == 0);
	return seq;
}

static void check_attrs(const unsigned char *msg, uint32_t len, uint32_t i)
{
	uint32_t off[A_NEST + 1], alen[A_NEST + 1], skip, n;
	const unsigned char *a = msg + NLMSG_HDRLEN + NLMSG_ALIGN(3);
	uint64_t r;
	int16_t s16;

	skip = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(family_hdr));
	CHECK(memcmp(msg + NLMSG_HDRLEN, family_hdr, 3) == 0 &&
	      msg[NLMSG_HDRLEN + 3] == 0);
	CHECK(nlf_attr_ok(a, len - skip) == 1);
	CHECK(nlf_attr_parse(a, len - skip, A_NEST, off, alen) == A_NEST);
	CHECK(alen[A_U8] == 1 && rd_host(a + off[A_U8], 1) == 0xab);
	CHECK(alen[A_U16] == 2 && rd_host(a + off[A_U16], 2) == 0xbeef);
	CHECK(alen[A_U32] == 4 &&
	      rd_host(a + off[A_U32], 4) == (uint32_t)(0xdeadbeef + i));
	CHECK(alen[A_U64] == 8 &&
	      rd_host(a + off[A_U64], 8) == 0x0123456789abcdefULL);
	CHECK(alen[A_S16] == 2);
	memcpy(&s16, a + off[A_S16], sizeof(s16));
	CHECK(s16 == -300);
	CHECK(alen[A_STR] == 5 && memcmp(a + off[A_STR], "eth0", 5) == 0);
	CHECK(alen[A_BIN] == 3 && memcmp(a + off[A_BIN], "\x00\xff\x10", 3) == 0);
	CHECK(alen[A_FLAG] == 0 && off[A_FLAG] != 0);
	/* the first attribute's header, byte by byte, in host order */
	check_order16(a, NLA_HDRLEN + 1);
	check_order16(a + 2, A_U8);
	/* padding is zero */
	CHECK(a[5] == 0 && a[6] == 0 && a[7] == 0);

	/* lookup by type, relative to the message start */
	r = nlf_attr_find(msg, skip, len - skip, A_U64);
	CHECK((r >> 32) == 8 && rd_host(msg + (uint32_t)r, 8) ==
	      0x0123456789abcdefULL);
	CHECK(nlf_attr_find(msg, skip, len - skip, 200) == 0);

	/* the nest: flag bit set on the wire, masked by the walker */
	CHECK(alen[A_NEST] == 8 + 12);
	CHECK(nlf_attr_type_raw(a + off[A_NEST] - NLA_HDRLEN) ==
	      (A_NEST | NLA_F_NESTED));
	r = nlf_attr_find(a, off[A_NEST], alen[A_NEST], 2);
	CHECK((r >> 32) == 8);
	r = nlf_attr_find(a, (uint32_t)r, 8, 1);
	CHECK((r >> 32) == 2 && rd_host(a + (uint32_t)r, 2) == 0x1234);

	/* the same stream, one step at a time */
	n = 0;
	r = nlf_attr_next(msg, skip, len);
	while (r && r != UINT64_MAX) {
		n++;
		CHECK((r >> 48 & NLA_TYPE_MASK) == n);
		r = nlf_attr_next(msg, (uint32_t)r +
				  NLA_ALIGN((uint32_t)(r >> 32) & 0xffff), len);
	}
	CHECK(r == 0 && n == A_NEST);
}

static void test_frame_and_parse(void)
{
	struct nlf_tx *tx = nlf_tx_new(ARENA, 200);
	struct nlf_table t;
	uint32_t i, n = 20, expect = 1, absent = 0;
	uint64_t out[20], expect64 = 0xdeadbeef;
	unsigned char strs[20 * 8];
	uint8_t present[20];

	CHECK(tx);
	if (!tx)
		return;
	for (i = 0; i < n; i++)
		CHECK(frame_all(tx, i) == i + 1);
	CHECK(nlf_tx_close(tx) == 0);
	CHECK(tx->nmsgs == n && tx->ndgrams > 1);
	/* the first message's header, in host order */
	check_order32(tx->arena, MSG_LEN);
	check_order16(tx->arena + NLF_NLMSG_TYPE_OFF, 0x20);
	check_order16(tx->arena + NLF_NLMSG_FLAGS_OFF, NLM_F_REQUEST);
	check_order32(tx->arena + NLF_NLMSG_SEQ_OFF, 1);
	check_order32(tx->arena + NLF_NLMSG_PID_OFF, 77);

	CHECK(nlf_table_init(&t, ARENA / NLMSG_HDRLEN) == 0);
	for (i = 0; i < tx->ndgrams; i++)
		CHECK(nlf_parse(tx->arena + tx->dg_off[i], tx->dg_len[i],
				tx->dg_off[i], i, &t) > 0);
	CHECK(t.count == n && t.n_bad == 0);
	for (i = 0; i < t.count && i < n; i++) {
		CHECK(t.seq[i] == i + 1 && t.type[i] == 0x20 + i % 3);
		CHECK(t.flags[i] == NLM_F_REQUEST && t.portid[i] == 77);
		CHECK(t.len[i] == MSG_LEN);
		check_attrs(tx->arena + t.off[i], t.len[i], i);
	}
	CHECK(nlf_table_seq_gaps(&t, 0x20, &expect) == 12);
	CHECK(nlf_table_count_type(&t, 0, n, 0x21) == 7);
	CHECK(nlf_table_attr_uint(tx->arena, &t, 0, n, 3, A_U16, 7, out) ==
	      (int)n);
	CHECK(out[0] == 0xbeef && out[n - 1] == 0xbeef);
	CHECK(nlf_table_attr_uint(tx->arena, &t, 0, n, 3, A_U64, 7, out) ==
	      (int)n);
	CHECK(out[5] == 0x0123456789abcdefULL);
	CHECK(nlf_table_attr_uint(tx->arena, &t, 0, n, 3, A_U8, 7, out) ==
	      (int)n);
	CHECK(out[3] == 0xab);
	CHECK(nlf_table_attr_gaps(tx->arena, &t, 0, n, 3, A_U32, &expect64,
				  &absent) == 0);
	CHECK(expect64 == 0xdeadbeefULL + n && absent == 0);
	CHECK(nlf_table_attr_strs(tx->arena, &t, 0, n, 3, A_STR, strs,
				  sizeof(strs), present) == 5 * n);
	CHECK(memcmp(strs + 5 * (n - 1), "eth0", 5) == 0 && present[n - 1]);
	CHECK(nlf_table_attr_uint(tx->arena, &t, 0, n + 1, 3, A_U8, 0, out) ==
	      -1 && errno == ERANGE);
	nlf_table_fini(&t);
	nlf_tx_free(tx);
}

static void test_repeat(void)
{
	struct nlf_tx *tx = nlf_tx_new(4096, 4096);
	struct nlf_table t;
	unsigned char tmpl[MSG_LEN];
	uint32_t len, i;

	CHECK(tx);
	if (!tx)
		return;
	frame_all(tx, 0);
	len = tx->pos;
	memcpy(tmpl, tx->arena, len);
	nlf_tx_reset(tx);
	CHECK(len <= sizeof(tmpl));
	CHECK(nlf_tx_put_repeat(tx, tmpl, len, 1000) == 4096 / len);
	CHECK(nlf_tx_close(tx) == 0);
	CHECK(nlf_table_init(&t, 4096 / NLMSG_HDRLEN) == 0);
	CHECK(nlf_parse(tx->arena, tx->pos, 0, 0, &t) == (int)(4096 / len));
	for (i = 0; i < t.count; i++)
		CHECK(t.seq[i] == i + 2 && t.len[i] == len);
	nlf_table_fini(&t);
	nlf_tx_free(tx);
}

static void test_extack(void)
{
	struct nlf_tx *tx = nlf_tx_new(4096, 4096);
	struct nlmsgerr e = { .error = -22 };
	struct nlf_extack ea;
	struct nlf_table t;

	CHECK(tx);
	if (!tx)
		return;
	e.msg.nlmsg_len = 64;	/* capped: the request's header only */
	e.msg.nlmsg_type = 0x20;
	e.msg.nlmsg_seq = 0x01020304;
	CHECK(nlf_tx_msg_begin(tx, NLMSG_ERROR, NLM_F_CAPPED | NLM_F_ACK_TLVS,
			       0, &e, sizeof(e)) >= 0);
	CHECK(nlf_tx_attr_put_str(tx, NLMSGERR_ATTR_MSG, "bad thing", 9) == 0);
	CHECK(nlf_tx_attr_put_u32(tx, NLMSGERR_ATTR_OFFS, 36) == 0);
	CHECK(nlf_tx_attr_put_u32(tx, NLMSGERR_ATTR_MISS_TYPE, 0x0a0b) == 0);
	CHECK(nlf_tx_attr_put_u32(tx, NLMSGERR_ATTR_MISS_NEST, 44) == 0);
	CHECK(nlf_tx_msg_end(tx) == 0);
	CHECK(nlf_extack_parse(tx->arena, tx->pos, &ea) == 0);
	CHECK(ea.error == 22 && ea.req_type == 0x20 &&
	      ea.req_seq == 0x01020304);
	CHECK(ea.has == (NLF_EXTACK_MSG | NLF_EXTACK_OFFS |
			 NLF_EXTACK_MISS_TYPE | NLF_EXTACK_MISS_NEST));
	CHECK(ea.msg_len == 9 &&
	      memcmp(tx->arena + ea.msg_off, "bad thing", 9) == 0);
	CHECK(ea.offs == 36 && ea.miss_type == 0x0a0b && ea.miss_nest == 44);
	CHECK(nlf_table_init(&t, 8) == 0);
	CHECK(nlf_parse(tx->arena, tx->pos, 0, 0, &t) == 1);
	CHECK(t.error[0] == 22 && t.n_error == 1);
	nlf_table_fini(&t);
	CHECK(nlf_extack_parse(tx->arena, NLMSG_HDRLEN + 2, &ea) == -1 &&
	      errno == EINVAL);
	nlf_tx_free(tx);
}

/* Writes one message header in host order at p. */
static uint32_t put_msg(unsigned char *p, uint32_t len, uint16_t type,
			uint16_t flags, uint32_t seq)
{
	struct nlmsghdr h = {
		.nlmsg_len = len, .nlmsg_type = type, .nlmsg_flags = flags,
		.nlmsg_seq = seq, .nlmsg_pid = 0,
	};

	memcpy(p, &h, sizeof(h));
	return NLMSG_ALIGN(len);
}

static void put_i32(unsigned char *p, int32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void test_tx_edges(void)
{
	static unsigned char big[NLF_ATTR_PAYLOAD_MAX + 8];
	struct nlf_tx *tx;
	unsigned char tmpl[NLMSG_HDRLEN + 8];
	uint32_t hdr = 0;

	errno = 0;
	CHECK(!nlf_tx_new(NLMSG_HDRLEN - 1, 4096) && errno == EINVAL);
	CHECK(!nlf_tx_new(4096, NLMSG_HDRLEN - 1) && errno == EINVAL);
	CHECK(!nlf_tx_new((1u << 30) + 1, 4096) && errno == EINVAL);
	tx = nlf_tx_new(NLMSG_HDRLEN, NLMSG_HDRLEN);
	CHECK(tx && tx->cap == NLMSG_HDRLEN && tx->seq == 1 && tx->pos == 0);
	nlf_tx_free(tx);
	nlf_tx_free(NULL);

	tx = nlf_tx_new(1 << 18, 1 << 18);
	CHECK(tx);
	if (!tx)
		return;
	/* nothing open */
	CHECK(nlf_tx_msg_end(tx) == -1 && errno == EINVAL);
	CHECK(nlf_tx_attr_put_u8(tx, 1, 1) == -1 && errno == EINVAL);
	CHECK(nlf_tx_attr_put_str(tx, 1, "x", 1) == -1 && errno == EINVAL);
	CHECK(nlf_tx_nest_end(tx) == -1 && errno == EINVAL);
	CHECK(nlf_tx_close(tx) == 0 && tx->ndgrams == 0);
	/* a family header longer than the arena, and one that fits */
	CHECK(nlf_tx_msg_begin(tx, 0x20, 0, 0, big, (1 << 18) + 1) == -1 &&
	      errno == ENOSPC);
	CHECK(nlf_tx_msg_begin(tx, 0x20, 0, 0, &hdr, 1) == 1);
	CHECK(tx->pos == NLMSG_HDRLEN + 4);
	CHECK(nlf_tx_msg_begin(tx, 0x20, 0, 0, NULL, 0) == -1 &&
	      errno == EBUSY);
	CHECK(nlf_tx_put_repeat(tx, tmpl, sizeof(tmpl), 1) == -1 &&
	      errno == EBUSY);
	CHECK(nlf_tx_close(tx) == -1 && errno == EBUSY);
	/* the largest attribute, and one byte more */
	CHECK(nlf_tx_attr_put(tx, 1, big, NLF_ATTR_PAYLOAD_MAX) == 0);
	CHECK(nlf_attr_len(tx->arena + NLMSG_HDRLEN + 4) == 0xffff);
	CHECK(nlf_tx_attr_put(tx, 1, big, NLF_ATTR_PAYLOAD_MAX + 1) == -1 &&
	      errno == EMSGSIZE);
	CHECK(nlf_tx_attr_put_str(tx, 1, (const char *)big,
				  NLF_ATTR_PAYLOAD_MAX) == -1 &&
	      errno == EMSGSIZE);
	CHECK(nlf_tx_attr_put_str(tx, 1, "x", UINT32_MAX) == -1 &&
	      errno == EMSGSIZE);
	CHECK(nlf_tx_attr_put_str(tx, 1, (const char *)big,
				  NLF_ATTR_PAYLOAD_MAX - 1) == 0);
	/* an empty string needs no bytes at all */
	CHECK(nlf_tx_attr_put_str(tx, 2, NULL, 0) == 0);
	CHECK(nlf_attr_len(tx->arena + tx->pos - NLA_HDRLEN - 4) ==
	      NLA_HDRLEN + 1 && tx->arena[tx->pos - 4] == 0);
	nlf_tx_msg_cancel(tx);
	CHECK(tx->pos == 0 && nlf_tx_msg_end(tx) == -1);
	nlf_tx_msg_cancel(tx);	/* nothing open: nothing happens */
	CHECK(tx->pos == 0);
	/* a nest that outgrows an attribute */
	CHECK(nlf_tx_msg_begin(tx, 0x20, 0, 0, NULL, 0) == 1);
	CHECK(nlf_tx_nest_start(tx, 1) == 0);
	CHECK(nlf_tx_attr_put(tx, 2, big, NLF_ATTR_PAYLOAD_MAX - 4) == 0);
	CHECK(nlf_tx_nest_end(tx) == -1 && errno == EMSGSIZE);
	CHECK(tx->depth == 1);
	nlf_tx_msg_cancel(tx);
	CHECK(tx->depth == 0 && tx->pos == 0);
	/* the exact nest limit: E2BIG past it, nothing left open */
	CHECK(nlf_tx_msg_begin(tx, 0x20, 0, 0, NULL, 0) == 1);
	for (hdr = 0; hdr < NLF_NEST_MAX; hdr++)
		CHECK(nlf_tx_nest_start(tx, 1) == 0);
	CHECK(nlf_tx_nest_start(tx, 1) == -1 && errno == E2BIG);
	CHECK(tx->depth == 0 && tx->pos == 0 && tx->nmsgs == 0);
	CHECK(nlf_tx_msg_end(tx) == -1 && errno == EINVAL);
	nlf_tx_free(tx);

	/* an arena filled to the byte, then ENOSPC with nothing changed */
	tx = nlf_tx_new(2 * (NLMSG_HDRLEN + 8), 4096);
	CHECK(tx);
	if (!tx)
		return;
	CHECK(nlf_tx_msg_begin(tx, 0x20, 0, 0, NULL, 0) == 1);
	CHECK(nlf_tx_attr_put_u32(tx, 1, 1) == 0 && nlf_tx_msg_end(tx) == 0);
	CHECK(nlf_tx_msg_begin(tx, 0x20, 0, 0, NULL, 0) == 2);
	CHECK(nlf_tx_attr_put_u32(tx, 1, 2) == 0 && nlf_tx_msg_end(tx) == 0);
	CHECK(tx->pos == tx->cap && tx->nmsgs == 2);
	CHECK(nlf_tx_msg_begin(tx, 0x20, 0, 0, NULL, 0) == -1 &&
	      errno == ENOSPC);
	CHECK(tx->pos == tx->cap && tx->seq == 3);
	memcpy(tmpl, tx->arena, sizeof(tmpl));
	CHECK(nlf_tx_put_repeat(tx, tmpl, sizeof(tmpl), 1) == 0 &&
	      errno == ENOSPC);
	CHECK(nlf_tx_close(tx) == 0 && tx->ndgrams == 1 &&
	      tx->dg_len[0] == tx->cap);
	nlf_tx_reset(tx);
	CHECK(tx->pos == 0 && tx->ndgrams == 0 && tx->nmsgs == 0 &&
	      tx->seq == 3);
	/* room for the header but not the attribute: ENOSPC, message open */
	CHECK(nlf_tx_msg_begin(tx, 0x20, 0, 0, NULL, 0) == 3);
	CHECK(nlf_tx_attr_put(tx, 1, big, tx->cap) == -1 && errno == ENOSPC);
	CHECK(nlf_tx_attr_put(tx, 1, big, tx->cap - NLMSG_HDRLEN -
			      NLA_HDRLEN) == 0);
	CHECK(tx->pos == tx->cap);
	nlf_tx_msg_cancel(tx);
	/* repeat: a bad template, zero copies, a partial fit */
	CHECK(nlf_tx_put_repeat(tx, tmpl, sizeof(tmpl) - 1, 1) == -1 &&
	      errno == EINVAL);
	CHECK(nlf_tx_put_repeat(tx, tmpl, 4, 1) == -1 && errno == EINVAL);
	errno = 0;
	CHECK(nlf_tx_put_repeat(tx, tmpl, sizeof(tmpl), 0) == 0 && errno == 0);
	CHECK(nlf_tx_put_repeat(tx, tmpl, sizeof(tmpl), 5) == 2);
	CHECK(tx->nmsgs == 2 && tx->seq == 5 && tx->pos == tx->cap);
	nlf_tx_free(tx);
}

/* Datagram cuts: a message that ends exactly at dgram_max stays. */
static void test_cuts(void)
{
	static const unsigned char zeros[60];
	struct nlf_tx *tx = nlf_tx_new(4096, 3 * 24);
	uint32_t i;

	CHECK(tx);
	if (!tx)
		return;
	for (i = 0; i < 7; i++) {
		CHECK(nlf_tx_msg_begin(tx, 0x20, 0, 0, NULL, 0) > 0);
		CHECK(nlf_tx_attr_put_u32(tx, 1, i) == 0);
		CHECK(nlf_tx_msg_end(tx) == 0);
	}
	CHECK(tx->ndgrams == 2);
	CHECK(nlf_tx_close(tx) == 0 && tx->ndgrams == 3);
	CHECK(tx->dg_off[0] == 0 && tx->dg_len[0] == 72);
	CHECK(tx->dg_off[1] == 72 && tx->dg_len[1] == 72);
	CHECK(tx->dg_off[2] == 144 && tx->dg_len[2] == 24);
	CHECK(nlf_tx_close(tx) == 0 && tx->ndgrams == 3);
	nlf_tx_reset(tx);
	/* a message larger than dgram_max goes alone, uncut */
	CHECK(nlf_tx_msg_begin(tx, 0x20, 0, 0, NULL, 0) > 0);
	CHECK(nlf_tx_attr_put(tx, 1, NULL, 0) == 0 && nlf_tx_msg_end(tx) == 0);
	CHECK(nlf_tx_msg_begin(tx, 0x20, 0, 0, NULL, 0) > 0);
	CHECK(nlf_tx_attr_put(tx, 1, family_hdr, 3) == 0);
	CHECK(nlf_tx_attr_put(tx, 2, NULL, 0) == 0);
	CHECK(nlf_tx_attr_put(tx, 3, zeros, sizeof(zeros)) == 0);
	CHECK(nlf_tx_msg_end(tx) == 0);
	CHECK(nlf_tx_close(tx) == 0 && tx->ndgrams == 2);
	CHECK(tx->dg_len[0] == 20 && tx->dg_len[1] == 16 + 8 + 4 + 64);
	nlf_tx_free(tx);
}

static void test_parse_edges(void)
{
	unsigned char b[512];
	uint32_t off[8], alen[8], n = 0, expect, absent = 0, i;
	uint64_t out[8], e64;
	unsigned char strs[64];
	uint8_t present[8];
	struct nlf_extack ea;
	struct nlf_table t;

	memset(b, 0, sizeof(b));
	CHECK(nlf_table_init(&t, 16) == 0);
	/* error, ack, done with and without error, overrun, intr */
	n += put_msg(b + n, 20, NLMSG_ERROR, 0, 1);
	put_i32(b + n - 4, -ENODEV);
	n += put_msg(b + n, 20, NLMSG_ERROR, 0, 2);
	n += put_msg(b + n, 20, NLMSG_DONE, NLM_F_MULTI, 3);
	put_i32(b + n - 4, -EINTR);
	n += put_msg(b + n, 20, NLMSG_DONE, NLM_F_MULTI, 4);
	n += put_msg(b + n, 16, NLMSG_OVERRUN, 0, 5);
	n += put_msg(b + n, 20, 0x20, NLM_F_DUMP_INTR | NLM_F_MULTI, 7);
	put_i32(b + n - 4, -5);		/* not an error row: no errno */
	n += put_msg(b + n, 17, NLMSG_ERROR, 0, 8);	/* too short for one */
	n = n - 3 + 1;		/* its last byte, unpadded, ends the buffer */
	CHECK(nlf_parse(b, n - 1, 100, 9, &t) == 7);
	CHECK(t.count == 7 && t.n_bad == 0);
	CHECK(t.error[0] == ENODEV && t.error[1] == 0 && t.error[2] == EINTR);
	CHECK(t.error[3] == 0 && t.error[5] == 0 && t.error[6] == 0);
	CHECK(t.n_error == 2 && t.n_ack == 2 && t.n_done == 2);
	CHECK(t.n_overrun == 1 && t.n_intr == 1);
	CHECK(t.off[0] == 100 && t.off[1] == 120 && t.dgram[6] == 9);
	CHECK(t.len[6] == 17 && t.seq[6] == 8 && t.portid[6] == 0);
	expect = 1;
	CHECK(nlf_table_seq_gaps(&t, NLMSG_ERROR, &expect) == 5 &&
	      expect == 9);
	expect = 5;	/* rows behind count no gap */
	CHECK(nlf_table_seq_gaps(&t, NLMSG_DONE, &expect) == 0 &&
	      expect == 5);
	expect = 0xffffffff;	/* across the wrap */
	CHECK(nlf_table_seq_gaps(&t, NLMSG_ERROR, &expect) == 2 + 5);
	CHECK(nlf_table_count_type(&t, 0, 7, NLMSG_ERROR) == 3);
	CHECK(nlf_table_count_type(&t, 1, 6, NLMSG_ERROR) == 2);
	CHECK(nlf_table_count_type(&t, 7, 0, NLMSG_ERROR) == 0);
	CHECK(nlf_table_count_type(&t, 8, 0, 1) == -1 && errno == ERANGE);
	CHECK(nlf_table_count_type(&t, 6, 2, 1) == -1 && errno == ERANGE);
	/* a malformed tail, and a full table */
	nlf_table_reset(&t);
	CHECK(t.count == 0 && t.n_error == 0 && t.n_intr == 0);
	CHECK(nlf_parse(b, 40 + 3, 0, 0, &t) == 2 && t.n_bad == 1);
	CHECK(nlf_parse(b, 15, 0, 0, &t) == 0 && t.n_bad == 2);
	put_msg(b + 200, 15, 0x20, 0, 0);
	CHECK(nlf_parse(b + 200, 40, 0, 0, &t) == 0 && t.n_bad == 3);
	put_msg(b + 200, 41, 0x20, 0, 0);
	CHECK(nlf_parse(b + 200, 40, 0, 0, &t) == 0 && t.n_bad == 4);
	CHECK(nlf_parse(b, 0, 0, 0, &t) == 0 && t.n_bad == 4);
	CHECK(nlf_nlmsg_ok(b, 16) == 0 && nlf_nlmsg_ok(b, 20) == 1);
	CHECK(nlf_nlmsg_ok(b, 19) == 0 && nlf_nlmsg_ok(b, -1) == 0);
	nlf_table_fini(&t);
	CHECK(nlf_table_init(&t, 2) == 0);
	CHECK(nlf_parse(b, 60, 0, 0, &t) == -1 && errno == ENOSPC);
	CHECK(t.count == 2);
	nlf_table_fini(&t);
	CHECK(!t.off && t.cap == 0);

	/* the attribute index forgets what the caller's arrays held */
	memset(off, 0xaa, sizeof(off));
	memset(alen, 0xaa, sizeof(alen));
	memset(b, 0, sizeof(b));
	put_msg(b, 16 + 8 + 8, 0x20, 0, 0);
	{
		struct nlattr a1 = { .nla_len = 8, .nla_type = 2 };
		struct nlattr a2 = { .nla_len = 5, .nla_type = 9 };

		memcpy(b + 16, &a1, sizeof(a1));
		put_i32(b + 20, 0x01020304);
		memcpy(b + 24, &a2, sizeof(a2));
		b[28] = 'z';
	}
	CHECK(nlf_attr_parse(b + 16, 16, 7, off, alen) == 2);
	CHECK(off[2] == 4 && alen[2] == 4 && off[9 % 8] == 0);
	for (i = 0; i < 8; i++)
		CHECK(i == 2 || (off[i] == 0 && alen[i] == 0));
	CHECK(nlf_attr_parse(b + 16, 12, 7, off, alen) == -1 &&
	      errno == EINVAL);
	CHECK(nlf_attr_ok(b + 16, 13) == 1 && nlf_attr_ok(b + 16, 12) == 0);
	CHECK(nlf_attr_ok(b + 16, 0) == 1 && nlf_attr_ok(b + 16, 3) == 0);
	CHECK(nlf_attr_find(b, 16, 16, 9) == ((uint64_t)1 << 32 | 28));
	CHECK(nlf_attr_find(b, 16, 16, 3) == 0);
	CHECK(nlf_attr_next(b, 16, 32) == ((uint64_t)2 << 48 |
					   (uint64_t)4 << 32 | 20));
	CHECK(nlf_attr_next(b, 32, 32) == 0 && nlf_attr_next(b, 33, 32) == 0);
	CHECK(nlf_attr_next(b, 24, 28) == UINT64_MAX && errno == EINVAL);

	/* the table's attribute columns over it, and a row too short */
	CHECK(nlf_table_init(&t, 4) == 0);
	put_msg(b + 32, 16, 0x20, 0, 0);
	CHECK(nlf_parse(b, 48, 0, 0, &t) == 2);
	CHECK(nlf_table_attr_column(b, &t, 0, 2, 0, 9, off, alen) == 1);
	CHECK(off[0] == 28 && alen[0] == 1 && off[1] == 0 && alen[1] == 0);
	CHECK(nlf_table_attr_column(b, &t, 0, 2, 1, 9, off, alen) == 0);
	CHECK(nlf_table_attr_column(b, &t, 0, 2, 17, 9, off, alen) == 0);
	CHECK(nlf_table_attr_column(b, &t, 1, 2, 0, 9, off, alen) == -1 &&
	      errno == ERANGE);
	CHECK(nlf_table_attr_uint(b, &t, 0, 2, 0, 2, 77, out) == 1);
	CHECK(out[0] == 0x01020304 && out[1] == 77);
	CHECK(nlf_table_attr_uint(b, &t, 0, 1, 0, 9, 77, out) == 1 &&
	      out[0] == 'z');
	CHECK(nlf_table_attr_uint(b, &t, 2, 1, 0, 9, 77, out) == -1);
	CHECK(nlf_table_attr_strs(b, &t, 0, 2, 0, 9, strs, 3, present) == 3);
	CHECK(strs[0] == 'z' && strs[1] == 0 && strs[2] == 0);
	CHECK(present[0] == 1 && present[1] == 0);
	CHECK(nlf_table_attr_strs(b, &t, 0, 2, 0, 9, strs, 2, present) == -1 &&
	      errno == ENOSPC);
	CHECK(nlf_table_attr_strs(b, &t, 0, 3, 0, 9, strs, 9, present) == -1 &&
	      errno == ERANGE);
	/* a NUL inside the payload ends the string */
	b[28] = 0;
	CHECK(nlf_table_attr_strs(b, &t, 0, 1, 0, 9, strs, 9, present) == 1 &&
	      strs[0] == 0 && present[0] == 1);
	e64 = 0x01020300;
	CHECK(nlf_table_attr_gaps(b, &t, 0, 2, 0, 2, &e64, &absent) == 4);
	CHECK(e64 == 0x01020305 && absent == 1);
	e64 = 0x01020306;	/* behind: no gap, expect moves back */
	CHECK(nlf_table_attr_gaps(b, &t, 0, 1, 0, 2, &e64, &absent) == 0);
	CHECK(e64 == 0x01020305 && absent == 1);
	CHECK(nlf_table_attr_gaps(b, &t, 0, 1, 0, 9, &e64, &absent) == 0);
	CHECK(absent == 1);	/* 1 byte: a width, not absent */
	CHECK(nlf_table_attr_gaps(b, &t, 1, 2, 0, 2, &e64, &absent) == -1 &&
	      errno == ERANGE);
	nlf_table_fini(&t);

	/* extended acks: DONE with TLVs, short ones, no flag, capped/not */
	memset(b, 0, sizeof(b));
	n = put_msg(b, 16 + 4 + 8 + 8, NLMSG_DONE, NLM_F_ACK_TLVS, 0);
	put_i32(b + 16, -EINVAL);
	{
		struct nlattr m = { .nla_len = 7, .nla_type = NLMSGERR_ATTR_MSG };
		struct nlattr o = { .nla_len = 7, .nla_type = NLMSGERR_ATTR_OFFS };

		memcpy(b + 20, &m, sizeof(m));
		memcpy(b + 24, "abc", 3);	/* no NUL: the length bounds it */
		memcpy(b + 28, &o, sizeof(o));	/* too short for a u32 */
	}
	CHECK(nlf_extack_parse(b, n, &ea) == 0);
	CHECK(ea.error == EINVAL && ea.has == NLF_EXTACK_MSG);
	CHECK(ea.msg_off == 24 && ea.msg_len == 3 && ea.req_seq == 0);
	b[6] = 0;	/* flags off: no TLVs looked for */
	b[7] = 0;
	CHECK(nlf_extack_parse(b, n, &ea) == 0 && ea.has == 0 &&
	      ea.msg_len == 0);
	CHECK(nlf_extack_parse(b, 19, &ea) == -1 && errno == EINVAL);
	put_msg(b, 19, NLMSG_DONE, 0, 0);
	CHECK(nlf_extack_parse(b, 64, &ea) == -1 && errno == EINVAL);
	put_msg(b, 20, NLMSG_DONE, 0, 0);
	CHECK(nlf_extack_parse(b, 64, &ea) == 0 && ea.error == EINVAL);
	/* an NLMSG_ERROR too short for the echoed header */
	put_msg(b, 20 + 15, NLMSG_ERROR, 0, 0);
	CHECK(nlf_extack_parse(b, 64, &ea) == -1 && errno == EINVAL);
	/* uncapped: the whole echoed request (unaligned) is skipped */
	memset(b, 0, sizeof(b));
	put_msg(b, 16 + 4 + 20 + 8, NLMSG_ERROR, NLM_F_ACK_TLVS, 0);
	put_i32(b + 16, -4095);
	put_msg(b + 20, 18, 0x33, 0, 0xabcd);
	{
		struct nlattr x = { .nla_len = 8,
				    .nla_type = NLMSGERR_ATTR_MISS_TYPE };

		memcpy(b + 40, &x, sizeof(x));
		put_i32(b + 44, 3);
	}
	CHECK(nlf_extack_parse(b, 48, &ea) == 0);
	CHECK(ea.error == 4095 && ea.req_type == 0x33 && ea.req_seq == 0xabcd);
	CHECK(ea.has == NLF_EXTACK_MISS_TYPE && ea.miss_type == 3);
	put_i32(b + 16, -4096);		/* no errno */
	CHECK(nlf_extack_parse(b, 48, &ea) == 0 && ea.error == 0);
	put_i32(b + 16, 7);		/* positive: no errno either */
	CHECK(nlf_extack_parse(b, 48, &ea) == 0 && ea.error == 0);
	/* the echoed length exactly fills the rest: no room for TLVs */
	put_msg(b + 20, 28, 0x33, 0, 0xabcd);
	CHECK(nlf_extack_parse(b, 48, &ea) == 0 && ea.has == 0);
	put_msg(b + 20, 29, 0x33, 0, 0xabcd);	/* one past the end */
	CHECK(nlf_extack_parse(b, 48, &ea) == 0 && ea.has == 0);
	put_msg(b + 20, 15, 0x33, 0, 0xabcd);	/* shorter than a header */
	CHECK(nlf_extack_parse(b, 48, &ea) == 0 && ea.has == 0);
}

/*
 * Every allocation of nlf_table_init and nlf_tx_new fails in turn: each
 * answers ENOMEM and frees what it had (LeakSanitizer checks at exit).
 */
static void test_out_of_memory(void)
{
	struct nlf_table t;
	struct nlf_tx *tx;
	int i;

	for (i = 0; i < 8; i++) {
		fail_at = i;
		errno = 0;
		CHECK(nlf_table_init(&t, 64) == -1 && errno == ENOMEM);
		CHECK(!t.off && !t.len && !t.type && !t.flags && !t.seq &&
		      !t.portid && !t.error && !t.dgram);
	}
	fail_at = 8;
	CHECK(nlf_table_init(&t, 64) == 0);
	nlf_table_fini(&t);
	for (i = 0; i < 6; i++) {
		fail_at = i;
		errno = 0;
		CHECK(!nlf_tx_new(4096, 4096) && errno == ENOMEM);
	}
	fail_at = 6;
	tx = nlf_tx_new(4096, 4096);
	CHECK(tx);
	nlf_tx_free(tx);
	fail_at = -1;
}

int main(void)
{
	test_frame_and_parse();
	test_repeat();
	test_extack();
	test_tx_edges();
	test_cuts();
	test_parse_edges();
	test_out_of_memory();
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	printf("big-endian: ");
#else
	printf("little-endian: ");
#endif
	printf("%d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
