/* SPDX-License-Identifier: MIT */
/*
 * Spec plans: a compiled netlink spec as tables the shim walks.
 *
 * A plan is an array of attribute sets; a set is a table indexed by
 * attribute type (the model is the kernel's C YNL ynl_policy_nest and
 * ynl_policy_attr).  nlf_specdict.c decodes whole messages to dicts and
 * encodes dicts with it; nlf_spec_column() reads one attribute of every
 * message of a batch.
 */
#ifndef NLF_SPEC_H
#define NLF_SPEC_H

#include <stdint.h>

/* cffi cdef begin: csrc/build_ffi.py feeds what follows to the cdef */
/* attribute kinds of a plan (struct nlf_spec_attr.kind) */
#define NLF_SK_UNKNOWN	0	/* no such attribute in the set */
#define NLF_SK_UINT	1	/* unsigned: size 1, 2, 4 or 8; 0 = 4 or 8 */
#define NLF_SK_SINT	2	/* signed, likewise */
#define NLF_SK_STRING	3
#define NLF_SK_BINARY	4
#define NLF_SK_FLAG	5
#define NLF_SK_NEST	6	/* attributes of set .nest */
#define NLF_SK_ARRAY	7	/* indexed array of .sub_kind (nests: set .nest) */
#define NLF_SK_RAW	8	/* left to Python */
#define NLF_SK_SKIP	9	/* pad / unused: no record */

#define NLF_SF_BE	0x1	/* big-endian integer */

#define NLF_SPEC_MAX_DEPTH	32

struct nlf_spec_attr {
	uint8_t kind;
	uint8_t size;
	uint8_t flags;
	uint8_t sub_kind;	/* indexed arrays: the elements' kind */
	int32_t nest;		/* set index, or -1 */
	uint32_t key;		/* the attribute's index in the plan's key table */
};

struct nlf_spec_set {
	uint32_t n;		/* attrs[type] for type < n */
	const struct nlf_spec_attr *attrs;
};

#define NLF_SPEC_ABSENT	0xffffffff	/* plen of a row without the attribute */
int64_t nlf_spec_column(const unsigned char *base, const uint32_t *offs,
			const uint32_t *lens, uint32_t n, uint32_t skip,
			uint16_t type, const struct nlf_spec_attr *sa,
			uint64_t *vals, uint32_t *poff, uint32_t *plen);
/* nlf_specdict.c: makes the module nlfast._specdict (dicts built in C) */
int nlf_specdict_register(void);
/* cffi cdef end */

#endif /* NLF_SPEC_H */
