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

#define CHECK(cond) do {						\
	checks++;							\
	if (!(cond)) {							\
		failures++;						\
		fprintf(stderr, "%s:%d: CHECK failed: %s\n",		\
			__FILE__, __LINE__, #cond);			\
	}								\
} while (0)

#define ARENA 65536
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

int main(void)
{
	test_frame_and_parse();
	test_repeat();
	test_extack();
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	printf("big-endian: ");
#else
	printf("little-endian: ");
#endif
	printf("%d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
