// SPDX-License-Identifier: MIT
/*
 * Spec plans: one attribute of every message of a batch, as a column.
 * See nlf_spec.h; whole messages are decoded by nlf_specdict.c.
 */
#include <stdint.h>
#include <string.h>

#include "nlf_attr.h"
#include "nlf_spec.h"

/*
 * An integer of sa->size bytes (0: whichever of 4 or 8 the payload has) in
 * host order, or big-endian with NLF_SF_BE; signed kinds sign-extended.
 * Returns 0, or -1 when the payload is too short for it.
 */
static int spec_int(const struct nlf_spec_attr *sa, const unsigned char *p,
		    uint32_t plen, uint64_t *out)
{
	uint32_t size = sa->size ? sa->size : plen;
	int be = sa->flags & NLF_SF_BE;
	uint16_t v16;
	uint32_t v32;
	uint64_t v;

	if ((!sa->size && plen != 4 && plen != 8) || plen < size)
		return -1;
	switch (size) {
	case 1:
		v = *p;
		break;
	case 2:
		memcpy(&v16, p, 2);
		v = be ? __builtin_bswap16(v16) : v16;
		break;
	case 4:
		memcpy(&v32, p, 4);
		v = be ? __builtin_bswap32(v32) : v32;
		break;
	case 8:
		memcpy(&v, p, 8);
		if (be)
			v = __builtin_bswap64(v);
		break;
	default:
		return -1;
	}
	if (sa->kind == NLF_SK_SINT && size < 8 && (v >> (size * 8 - 1)) & 1)
		v |= ~(uint64_t)0 << (size * 8);
	*out = v;
	return 0;
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
			if ((sa->kind == NLF_SK_UINT || sa->kind == NLF_SK_SINT) &&
			    spec_int(sa, nlf_attr_data(a), nlf_attr_plen(a),
				     &vals[i]) < 0)
				break;
			poff[i] = (uint32_t)(nlf_attr_data(a) - base);
			plen[i] = nlf_attr_plen(a);
			found++;
			break;
		}
	}
	return found;
}
