// SPDX-License-Identifier: MIT
/*
 * Spec decode plans: one message's attributes to a flat record stream.
 * See nlf_spec.h.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "nlf_attr.h"
#include "nlf_spec.h"

struct spec_walk {
	const struct nlf_spec_set *sets;
	uint32_t nsets;
	const unsigned char *base;
	struct nlf_spec_rec *out;
	uint32_t cap;
	uint32_t n;
	int err;		/* a positive errno once something failed */
	uint32_t err_off;	/* where, from base */
};

static struct nlf_spec_rec *spec_rec(struct spec_walk *w, uint32_t key,
				     uint16_t kind, uint16_t type)
{
	struct nlf_spec_rec *r;

	if (w->n >= w->cap) {
		w->err = ENOSPC;
		return NULL;
	}
	r = &w->out[w->n++];
	r->key = key;
	r->kind = kind;
	r->type = type;
	r->off = 0;
	r->len = 0;
	r->val = 0;
	return r;
}

static uint64_t spec_bswap(uint64_t v, uint32_t size)
{
	switch (size) {
	case 2:
		return __builtin_bswap16((uint16_t)v);
	case 4:
		return __builtin_bswap32((uint32_t)v);
	case 8:
		return __builtin_bswap64(v);
	default:
		return v;
	}
}

/* An integer of size bytes (0: whatever of 4 or 8 the payload has). */
static int spec_int(struct spec_walk *w, const struct nlf_spec_attr *sa,
		    uint8_t kind, uint32_t key, uint16_t type,
		    const unsigned char *p, uint32_t plen)
{
	struct nlf_spec_rec *r;
	uint32_t size = sa->size;
	uint64_t v = 0;

	if (!size) {
		if (plen != 4 && plen != 8)
			goto bad;
		size = plen;
	} else if (plen < size) {
		goto bad;
	}
	memcpy(&v, p, size);	/* little-endian host: low bytes first */
	if (sa->flags & NLF_SF_BE)
		v = spec_bswap(v, size);
	if (kind == NLF_SK_SINT && size < 8 && (v >> (size * 8 - 1)) & 1)
		v |= ~(uint64_t)0 << (size * 8);
	r = spec_rec(w, key, kind == NLF_SK_SINT ? NLF_SR_SINT : NLF_SR_UINT,
		     type);
	if (!r)
		return -1;
	r->val = v;
	return 0;
bad:
	w->err = EBADMSG;
	w->err_off = (uint32_t)(p - w->base);
	return -1;
}

static int spec_set(struct spec_walk *w, uint32_t set,
		    const unsigned char *buf, uint32_t len, uint32_t depth);

/* One value of kind (an attribute, or an element of an indexed array). */
static int spec_value(struct spec_walk *w, const struct nlf_spec_attr *sa,
		      uint8_t kind, uint16_t type, const unsigned char *p,
		      uint32_t plen, uint32_t depth)
{
	struct nlf_spec_rec *r;
	uint16_t rk;

	switch (kind) {
	case NLF_SK_UINT:
	case NLF_SK_SINT:
		return spec_int(w, sa, kind, sa->key, type, p, plen);
	case NLF_SK_NEST:
		if (!spec_rec(w, sa->key, NLF_SR_BEGIN, type))
			return -1;
		if (spec_set(w, (uint32_t)sa->nest, p, plen, depth + 1) < 0)
			return -1;
		return spec_rec(w, sa->key, NLF_SR_END, type) ? 0 : -1;
	case NLF_SK_FLAG:
		return spec_rec(w, sa->key, NLF_SR_FLAG, type) ? 0 : -1;
	case NLF_SK_STRING:
		rk = NLF_SR_STRING;
		break;
	case NLF_SK_BINARY:
		rk = NLF_SR_BINARY;
		break;
	default:
		rk = NLF_SR_RAW;
		break;
	}
	r = spec_rec(w, sa->key, rk, type);
	if (!r)
		return -1;
	r->off = (uint32_t)(p - w->base);
	r->len = plen;
	return 0;
}

static int spec_array(struct spec_walk *w, const struct nlf_spec_attr *sa,
		      uint16_t type, const unsigned char *buf, uint32_t len,
		      uint32_t depth)
{
	const unsigned char *a;
	int64_t rem;

	if (!spec_rec(w, sa->key, NLF_SR_ARRAY, type))
		return -1;
	nlf_attr_for_each(a, rem, buf, len) {
		if (spec_value(w, sa, sa->sub_kind, nlf_attr_type(a),
			       nlf_attr_data(a), nlf_attr_plen(a), depth) < 0)
			return -1;
	}
	if (rem >= NLA_HDRLEN) {
		w->err = EBADMSG;
		w->err_off = (uint32_t)(a - w->base);
		return -1;
	}
	return spec_rec(w, sa->key, NLF_SR_END, type) ? 0 : -1;
}

static int spec_set(struct spec_walk *w, uint32_t set,
		    const unsigned char *buf, uint32_t len, uint32_t depth)
{
	static const struct nlf_spec_attr unknown = { .kind = NLF_SK_UNKNOWN };
	const struct nlf_spec_set *s;
	const struct nlf_spec_attr *sa;
	struct nlf_spec_rec *r;
	const unsigned char *a;
	int64_t rem;
	uint16_t type;

	if (depth > NLF_SPEC_MAX_DEPTH || set >= w->nsets) {
		w->err = depth > NLF_SPEC_MAX_DEPTH ? ELOOP : EINVAL;
		w->err_off = (uint32_t)(buf - w->base);
		return -1;
	}
	s = &w->sets[set];
	nlf_attr_for_each(a, rem, buf, len) {
		type = nlf_attr_type(a);
		sa = type < s->n ? &s->attrs[type] : &unknown;
		if (sa->kind == NLF_SK_SKIP)
			continue;
		if (sa->kind == NLF_SK_UNKNOWN) {
			r = spec_rec(w, 0, NLF_SR_UNKNOWN, type);
			if (!r)
				return -1;
			r->off = (uint32_t)(nlf_attr_data(a) - w->base);
			r->len = nlf_attr_plen(a);
			continue;
		}
		if (sa->kind == NLF_SK_ARRAY) {
			if (spec_array(w, sa, type, nlf_attr_data(a),
				       nlf_attr_plen(a), depth + 1) < 0)
				return -1;
			continue;
		}
		if (spec_value(w, sa, sa->kind, type, nlf_attr_data(a),
			       nlf_attr_plen(a), depth) < 0)
			return -1;
	}
	if (rem >= NLA_HDRLEN) {	/* a tail under 4 bytes is padding */
		w->err = EBADMSG;
		w->err_off = (uint32_t)(a - w->base);
		return -1;
	}
	return 0;
}

/*
 * Decodes the attributes in base[off, off + len) with set `set` of the plan
 * into out[0..cap).  Returns the number of records, or -errno: -ENOSPC when
 * cap is too small (call again with more), -EBADMSG for a malformed
 * attribute, -ELOOP past NLF_SPEC_MAX_DEPTH nests, -EINVAL for a bad plan;
 * for -EBADMSG, out[0].off is where the bad attribute starts.
 */
int64_t nlf_spec_decode(const struct nlf_spec_set *sets, uint32_t nsets,
			uint32_t set, const unsigned char *base,
			uint32_t off, uint32_t len,
			struct nlf_spec_rec *out, uint32_t cap)
{
	struct spec_walk w = {
		.sets = sets, .nsets = nsets, .base = base, .out = out,
		.cap = cap,
	};

	if (spec_set(&w, set, base + off, len, 0) < 0) {
		if (w.err == EBADMSG && cap)
			out[0].off = w.err_off;
		return -(int64_t)(w.err ? w.err : EINVAL);
	}
	return w.n;
}

/*
 * One attribute of every message of a batch: message i is base[offs[i],
 * offs[i] + lens[i]), its attributes start skip bytes in (the netlink
 * header and the family's headers, aligned).  Writes the first such
 * attribute's payload offset and length (plen NLF_SPEC_ABSENT where there is
 * none) and, for integer kinds, its value decoded as sa says (a payload too
 * short for it counts as absent).  Returns how many rows have it.
 */
int64_t nlf_spec_column(const unsigned char *base, const uint32_t *offs,
			const uint32_t *lens, uint32_t n, uint32_t skip,
			uint16_t type, const struct nlf_spec_attr *sa,
			uint64_t *vals, uint32_t *poff, uint32_t *plen)
{
	struct nlf_spec_rec rec;
	struct spec_walk w = { .base = base, .out = &rec, .cap = 1 };
	const unsigned char *a;
	int64_t rem, found = 0;
	uint32_t i;

	for (i = 0; i < n; i++) {
		poff[i] = 0;
		plen[i] = NLF_SPEC_ABSENT;
		vals[i] = 0;
		if (lens[i] < skip)
			continue;
		nlf_attr_for_each(a, rem, base + offs[i] + skip, lens[i] - skip) {
			if (nlf_attr_type(a) != type)
				continue;
			if (sa->kind == NLF_SK_UINT || sa->kind == NLF_SK_SINT) {
				w.n = 0;
				w.err = 0;
				if (spec_int(&w, sa, sa->kind, 0, type,
					     nlf_attr_data(a),
					     nlf_attr_plen(a)) < 0)
					break;
				vals[i] = rec.val;
			}
			poff[i] = (uint32_t)(nlf_attr_data(a) - base);
			plen[i] = nlf_attr_plen(a);
			found++;
			break;
		}
	}
	return found;
}
