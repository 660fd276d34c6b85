// SPDX-License-Identifier: MIT
/*
 * Batches: one receive's memory in a block the caller owns, laid out here;
 * rows copied from one batch into another; rows split into runs by who waits
 * for them (sequence number and sending port); a range of rows summed up.
 */
#include <errno.h>
#include <string.h>

#include "nlf.h"

#define ALIGN8(x) (((x) + 7) & ~(uint64_t)7)

/* Bytes of the table's columns for rows rows: 6 of 4 bytes, 2 of 2. */
static uint64_t table_bytes(uint32_t rows)
{
	return ALIGN8((uint64_t)rows * 4) * 6 + ALIGN8((uint64_t)rows * 2) * 2;
}

/* Bytes a block needs for nlf_batch_init with these sizes. */
uint64_t nlf_batch_size(uint32_t arena_len, uint32_t rows, uint32_t dgrams)
{
	return ALIGN8(arena_len) + ALIGN8(sizeof(struct nlf_batch)) +
	       table_bytes(rows) + ALIGN8((uint64_t)dgrams * 4) * 3;
}

static void *carve(unsigned char **p, uint64_t n)
{
	void *at = *p;

	*p += ALIGN8(n);
	return at;
}

/*
 * Lays out a batch in mem[0..size): arena_len bytes of datagram memory at
 * offset 0, then the struct (returned), a table of rows rows and dgrams
 * datagram slots.  NULL/EINVAL when size is short (see nlf_batch_size) or
 * mem is not 8-byte aligned.
 */
struct nlf_batch *nlf_batch_init(void *mem, uint64_t size, uint32_t arena_len,
				 uint32_t rows, uint32_t dgrams)
{
	unsigned char *p = mem;
	struct nlf_batch *b;
	struct nlf_table *t;

	if (((uintptr_t)mem & 7) ||
	    size < nlf_batch_size(arena_len, rows, dgrams)) {
		errno = EINVAL;
		return NULL;
	}
	carve(&p, arena_len);
	b = carve(&p, sizeof(*b));
	memset(b, 0, sizeof(*b));
	b->arena = mem;
	b->arena_len = arena_len;
	b->dg_cap = dgrams;
	t = &b->tab;
	t->cap = rows;
	t->off = carve(&p, (uint64_t)rows * 4);
	t->len = carve(&p, (uint64_t)rows * 4);
	t->seq = carve(&p, (uint64_t)rows * 4);
	t->portid = carve(&p, (uint64_t)rows * 4);
	t->error = carve(&p, (uint64_t)rows * 4);
	t->dgram = carve(&p, (uint64_t)rows * 4);
	t->type = carve(&p, (uint64_t)rows * 2);
	t->flags = carve(&p, (uint64_t)rows * 2);
	b->dg_len = carve(&p, (uint64_t)dgrams * 4);
	b->dg_pid = carve(&p, (uint64_t)dgrams * 4);
	b->dg_groups = carve(&p, (uint64_t)dgrams * 4);
	return b;
}

/* Empties the batch (rows, datagrams, counters). */
void nlf_batch_reset(struct nlf_batch *b)
{
	b->used = 0;
	b->ndgrams = 0;
	nlf_table_reset(&b->tab);
}

static int rows_in(const struct nlf_batch *b, uint32_t first, uint32_t n)
{
	if (first > b->tab.count || n > b->tab.count - first) {
		errno = ERANGE;
		return 0;
	}
	return 1;
}

/* Arena bytes rows [first, first+n) take, each padded (0 on a bad range). */
uint64_t nlf_batch_rows_bytes(const struct nlf_batch *b, uint32_t first,
			      uint32_t n)
{
	uint64_t sum = 0;
	uint32_t i;

	if (!rows_in(b, first, n))
		return 0;
	for (i = first; i < first + n; i++)
		sum += NLMSG_ALIGN(b->tab.len[i]);
	return sum;
}

/* The datagram slot of dst that stands for src's datagram d, made if new. */
static int dgram_slot(struct nlf_batch *dst, const struct nlf_batch *src,
		      uint32_t d, uint32_t *last_src)
{
	if (dst->ndgrams && *last_src == d)
		return (int)dst->ndgrams - 1;
	if (dst->ndgrams == dst->dg_cap)
		return -1;
	dst->dg_len[dst->ndgrams] = src->dg_len[d];
	dst->dg_pid[dst->ndgrams] = src->dg_pid[d];
	dst->dg_groups[dst->ndgrams] = src->dg_groups[d];
	*last_src = d;
	return (int)dst->ndgrams++;
}

/*
 * Appends rows [first, first+n) of src to dst: each message's bytes packed
 * at dst->used, its row copied with the new offset, its datagram's sender
 * and group kept (consecutive rows of one datagram share a slot).  Returns
 * 0, or -1 with ERANGE (bad rows) or ENOSPC (dst too small: nothing added).
 */
int nlf_batch_append(struct nlf_batch *dst, const struct nlf_batch *src,
		     uint32_t first, uint32_t n)
{
	const struct nlf_table *s = &src->tab;
	struct nlf_table *t = &dst->tab;
	uint32_t i, last = UINT32_MAX;
	uint64_t need = nlf_batch_rows_bytes(src, first, n);

	if (!rows_in(src, first, n))
		return -1;
	if (dst->used + need > dst->arena_len || t->count + n > t->cap ||
	    dst->ndgrams + n > dst->dg_cap) {
		errno = ENOSPC;
		return -1;
	}
	for (i = first; i < first + n; i++) {
		uint32_t r = t->count++, len = s->len[i];

		memcpy(dst->arena + dst->used, src->arena + s->off[i], len);
		memset(dst->arena + dst->used + len, 0, NLMSG_ALIGN(len) - len);
		t->off[r] = dst->used;
		t->len[r] = len;
		t->type[r] = s->type[i];
		t->flags[r] = s->flags[i];
		t->seq[r] = s->seq[i];
		t->portid[r] = s->portid[i];
		t->error[r] = s->error[i];
		t->dgram[r] = (uint32_t)dgram_slot(dst, src, s->dgram[i], &last);
		dst->used += NLMSG_ALIGN(len);
	}
	return 0;
}

/*
 * The key a row belongs to, or -1: its seq and its sender match, in a
 * unicast datagram.  A datagram marked with a group is an event, except
 * the answer to a request sent with NLM_F_ECHO: the kernel multicasts the
 * notification leaving the requester out, then unicasts the same skb, group
 * mark and all, to it.  So a marked row goes to key k only when echo[k] is
 * the receiving socket's port and the row's nlmsg_pid names that port (the
 * notifications of other ports' requests carry theirs).
 */
static int32_t row_key(const struct nlf_batch *b, uint32_t i,
		       const uint32_t *seqs, const uint32_t *ports,
		       const uint32_t *echo, uint32_t nkeys)
{
	uint32_t d = b->tab.dgram[i], seq = b->tab.seq[i], k;
	int marked = b->dg_groups[d] != 0;

	for (k = 0; k < nkeys; k++) {
		if (seqs[k] != seq || ports[k] != b->dg_pid[d])
			continue;
		if (!marked || (echo && echo[k] && echo[k] == b->tab.portid[i]))
			return (int32_t)k;
	}
	return -1;
}

/*
 * Splits rows [first, first+n) into runs of consecutive rows with the same
 * destination: key k when the row came in a unicast datagram sent by port
 * ports[k] and carries sequence number seqs[k]; -1 for every other row
 * (multicast, or nobody waits for it; echo: see row_key, may be NULL).
 * Run i is rows [run_end[i-1],
 * run_end[i]) (run_end[-1] being first) going to run_dest[i]; both arrays
 * need room for n runs.  Returns the number of runs, or -1/ERANGE.
 */
int64_t nlf_batch_route(const struct nlf_batch *b, uint32_t first, uint32_t n,
			const uint32_t *seqs, const uint32_t *ports,
			const uint32_t *echo, uint32_t nkeys,
			uint32_t *run_end, int32_t *run_dest)
{
	uint32_t i, runs = 0;

	if (!rows_in(b, first, n))
		return -1;
	for (i = first; i < first + n; i++) {
		int32_t k = row_key(b, i, seqs, ports, echo, nkeys);

		if (runs && run_dest[runs - 1] == k) {
			run_end[runs - 1] = i + 1;
			continue;
		}
		run_dest[runs] = k;
		run_end[runs++] = i + 1;
	}
	return runs;
}

/*
 * Sums up rows [first, first+n): errors, acks, DONEs, DUMP_INTR flags, and
 * the first row that ends a request (NLMSG_DONE or NLMSG_ERROR).  Returns
 * 0, or -1/ERANGE.
 */
int nlf_batch_scan(const struct nlf_batch *b, uint32_t first, uint32_t n,
		   struct nlf_scan *s)
{
	const struct nlf_table *t = &b->tab;
	uint32_t i;

	memset(s, 0, sizeof(*s));
	s->term = -1;
	if (!rows_in(b, first, n))
		return -1;
	for (i = first; i < first + n; i++) {
		uint16_t type = t->type[i];

		if (t->flags[i] & NLM_F_DUMP_INTR)
			s->n_intr++;
		if (type != NLMSG_ERROR && type != NLMSG_DONE)
			continue;
		if (s->term < 0)
			s->term = (int32_t)i;
		if (type == NLMSG_DONE)
			s->n_done++;
		if (t->error[i])
			s->n_error++;
		else if (type == NLMSG_ERROR)
			s->n_ack++;
	}
	return 0;
}

/* Whether row i ends a request (NLF_REQ_* mode); sets r->error. */
static int ends_request(const struct nlf_table *t, uint32_t i, uint32_t mode,
			struct nlf_req *r)
{
	if (t->error[i]) {
		r->error = t->error[i];
		return 1;
	}
	if (t->type[i] == NLMSG_ERROR)
		return 1;
	return !(mode & NLF_REQ_ACK) || (mode & NLF_REQ_DUMP);
}

/*
 * The rows of one request in a receive: those in unicast datagrams sent by
 * port that carry seq.  Replies are counted from the first; NLMSG_ERROR
 * ends the request (with its errno, or as the ACK); NLMSG_DONE ends it
 * unless it waits for an ACK after a plain (not dump) request; without
 * NLF_REQ_ACK or NLF_REQ_DUMP, a reply without NLM_F_MULTI ends it too.
 * Every other row, and any row after the end, counts as foreign: the caller
 * then routes the receive the general way.  Returns 0.
 */
int nlf_batch_request(const struct nlf_batch *b, uint32_t seq, uint32_t port,
		      uint32_t mode, struct nlf_req *r)
{
	const struct nlf_table *t = &b->tab;
	uint32_t i, keep_seq = r->seq, keep_sent = r->sent;

	memset(r, 0, sizeof(*r));
	r->seq = keep_seq;
	r->sent = keep_sent;
	r->first = -1;
	r->term = -1;
	for (i = 0; i < t->count; i++) {
		uint32_t d = t->dgram[i];
		uint16_t type = t->type[i];

		if (r->term >= 0 || t->seq[i] != seq || b->dg_groups[d] ||
		    b->dg_pid[d] != port) {
			r->foreign++;
			continue;
		}
		if (type == NLMSG_ERROR || type == NLMSG_DONE) {
			if (ends_request(t, i, mode, r)) {
				r->term = (int32_t)i;
				r->term_off = t->off[i];
				r->term_len = t->len[i];
			}
			continue;
		}
		if (r->first < 0)
			r->first = (int32_t)i;
		else if ((uint32_t)r->first + r->nreplies != i)
			r->gap = 1;
		r->nreplies++;
		if (!(mode & (NLF_REQ_ACK | NLF_REQ_DUMP)) &&
		    !(t->flags[i] & NLM_F_MULTI)) {
			r->term = (int32_t)i;
			r->term_off = t->off[i];
			r->term_len = t->len[i];
		}
	}
	if (r->nreplies && !r->gap) {
		uint32_t a = (uint32_t)r->first, z = a + r->nreplies - 1;

		if (t->dgram[a] == t->dgram[z]) {
			r->off = t->off[a];
			r->end = t->off[z] + t->len[z];
		}
	}
	return 0;
}
