// SPDX-License-Identifier: MIT
/*
 * Spec decode plans, straight to Python dicts.
 *
 * nlf_spec.c walks a message into a flat record stream that Python turns
 * into dicts; this file walks the same plan (attribute sets as tables
 * indexed by attribute type, plus the plan's structs) and builds the dicts,
 * lists, ints and strings itself with the stable C API, so a fully decoded
 * message costs one call.  What it does not decode itself (bitfield32,
 * nest-type-value, sub-messages, conversions such as flags or addresses)
 * it hands to a Python callable of the plan, with the same arguments the
 * Python decoder would use, so the result is the same dict.
 *
 * The same plan encodes requests from dicts (the common kinds; the rest,
 * and every error, is left to Python) and decodes one attribute of every
 * message of a batch into a list.
 *
 * The shim is a cffi module, which offers no way to return Python objects;
 * nlf_specdict_register() (called once from nlfast/spec.py) makes the
 * module "nlfast._specdict" with builtin functions:
 *
 *   compile(sets, structs, raw, error, names) -> capsule
 *   decode(plan, hdr, set, buf, addr, boff, hoff, off, len, out) -> out
 *   column(plan, set, type, buf, arena, offs, lens, n, skip) -> list
 *   encode(plan, set, values) -> bytes, or None
 *   frame(plan, type, flags, pre, hdr, set, values) -> bytes, or None
 *
 * See nlfast/spec.py (_DictPlan) for the tuples compile() takes.  Only the
 * stable ABI (3.9) is used: the shim stays one abi3 module.
 */
#define PY_SSIZE_T_CLEAN
#define Py_LIMITED_API 0x03090000
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nlf_attr.h"
#include "nlf_spec.h"

/* attribute kinds (the same numbers as NLF_SK_*, plus a struct) */
#define DK_STRUCT	20	/* binary holding a struct (.strct) */

/* value conversions */
#define CV_NONE		0
#define CV_ENUM		1	/* .map: value -> name, else the value */
#define CV_CALL		2	/* .conv(value) */
#define CV_MAC		3	/* bytes as "aa:bb:.." */
#define CV_FLAGS	4	/* .map: each set bit's mask -> name, as a list */

/* struct member kinds */
#define MK_INT		1
#define MK_STRING	2
#define MK_BINARY	3
#define MK_PAD		4

struct dattr {
	uint8_t kind;
	uint8_t size;		/* ints: 1, 2, 4, 8; 0: 4 or 8 */
	uint8_t be;
	uint8_t sub_kind;	/* indexed arrays */
	uint8_t multi;
	uint8_t cv;
	uint8_t sub_cv;
	int32_t nest;		/* set index or -1 */
	int32_t strct;		/* struct index or -1 */
	PyObject *name;
	PyObject *map;		/* enum values to names (CV_ENUM) */
	PyObject *conv;		/* CV_CALL */
	PyObject *attr;		/* the Python Attr, for the raw fallback */
	PyObject *rmap;		/* enum names to values (encoding) */
};

struct dset {
	uint32_t n;
	struct dattr *attrs;
	PyObject *names;	/* attribute name -> type (encoding) */
};

struct dmember {
	uint32_t off;
	uint32_t size;
	uint8_t kind;
	uint8_t sgn;
	uint8_t be;
	uint8_t cv;
	PyObject *name;
	PyObject *map;
	PyObject *conv;
};

struct dstruct {
	uint32_t size;
	uint32_t n;
	struct dmember *m;
	PyObject *tmpl;		/* {member: None}: a struct's dict is a copy */
	/*
	 * The last payload decoded and a private copy of its dict: the same
	 * bytes again (a dump's links share most of their settings) give a
	 * copy of it.  Only for structs whose values are all immutable.
	 */
	int cacheable;
	unsigned char *last;
	PyObject *last_dict;
};

struct dplan {
	uint32_t nsets;
	struct dset *sets;
	uint32_t nstructs;
	struct dstruct *structs;
	PyObject *raw;		/* raw(attr, buf, off, len, here or None) */
	PyObject *error;	/* the exception class of malformed input */
};

#define CAPSULE_NAME "nlfast._specdict.plan"

static void plan_free(struct dplan *p)
{
	uint32_t i, j;

	if (!p)
		return;
	for (i = 0; p->sets && i < p->nsets; i++) {
		for (j = 0; p->sets[i].attrs && j < p->sets[i].n; j++) {
			struct dattr *a = &p->sets[i].attrs[j];

			Py_XDECREF(a->name);
			Py_XDECREF(a->map);
			Py_XDECREF(a->conv);
			Py_XDECREF(a->attr);
			Py_XDECREF(a->rmap);
		}
		free(p->sets[i].attrs);
		Py_XDECREF(p->sets[i].names);
	}
	free(p->sets);
	for (i = 0; p->structs && i < p->nstructs; i++) {
		for (j = 0; p->structs[i].m && j < p->structs[i].n; j++) {
			struct dmember *m = &p->structs[i].m[j];

			Py_XDECREF(m->name);
			Py_XDECREF(m->map);
			Py_XDECREF(m->conv);
		}
		free(p->structs[i].m);
		free(p->structs[i].last);
		Py_XDECREF(p->structs[i].tmpl);
		Py_XDECREF(p->structs[i].last_dict);
	}
	free(p->structs);
	Py_XDECREF(p->raw);
	Py_XDECREF(p->error);
	free(p);
}

static void plan_capsule_free(PyObject *cap)
{
	plan_free(PyCapsule_GetPointer(cap, CAPSULE_NAME));
}

/* An object of a tuple, None as NULL; a new reference. */
static PyObject *opt(PyObject *t, Py_ssize_t i)
{
	PyObject *o = PyTuple_GetItem(t, i);

	if (!o || o == Py_None)
		return NULL;
	Py_INCREF(o);
	return o;
}

static long lng(PyObject *t, Py_ssize_t i, int *bad)
{
	PyObject *o = PyTuple_GetItem(t, i);
	long v;

	if (!o) {
		*bad = 1;
		return 0;
	}
	v = PyLong_AsLong(o);
	if (v == -1 && PyErr_Occurred())
		*bad = 1;
	return v;
}

/*
 * An attribute: (type, kind, size, be, sub_kind, multi, cv, sub_cv, nest,
 * strct, name, map, conv, attr, rmap).
 */
static int fill_attr(struct dplan *p, struct dattr *a, PyObject *t)
{
	int bad = 0;

	if (!PyTuple_Check(t) || PyTuple_Size(t) != 15) {
		PyErr_SetString(PyExc_TypeError, "a plan attribute is a 15-tuple");
		return -1;
	}
	a->kind = (uint8_t)lng(t, 1, &bad);
	a->size = (uint8_t)lng(t, 2, &bad);
	a->be = (uint8_t)lng(t, 3, &bad);
	a->sub_kind = (uint8_t)lng(t, 4, &bad);
	a->multi = (uint8_t)lng(t, 5, &bad);
	a->cv = (uint8_t)lng(t, 6, &bad);
	a->sub_cv = (uint8_t)lng(t, 7, &bad);
	a->nest = (int32_t)lng(t, 8, &bad);
	a->strct = (int32_t)lng(t, 9, &bad);
	if (bad)
		return -1;
	a->name = opt(t, 10);
	a->map = opt(t, 11);
	a->conv = opt(t, 12);
	a->attr = opt(t, 13);
	a->rmap = opt(t, 14);
	if (!a->name || (a->nest >= 0 && (uint32_t)a->nest >= p->nsets) ||
	    (a->strct >= 0 && (uint32_t)a->strct >= p->nstructs) ||
	    ((a->cv == CV_ENUM || a->cv == CV_FLAGS) && !a->map) ||
	    (a->cv == CV_CALL && !a->conv) ||
	    (a->sub_cv == CV_CALL && !a->conv) ||
	    (a->kind == DK_STRUCT && a->strct < 0)) {
		PyErr_SetString(PyExc_ValueError, "an inconsistent plan attribute");
		return -1;
	}
	return 0;
}

/* A member: (name, off, kind, size, signed, be, cv, map, conv). */
static int fill_member(struct dmember *m, PyObject *t)
{
	int bad = 0;

	if (!PyTuple_Check(t) || PyTuple_Size(t) != 9) {
		PyErr_SetString(PyExc_TypeError, "a plan struct member is a 9-tuple");
		return -1;
	}
	m->name = opt(t, 0);
	m->off = (uint32_t)lng(t, 1, &bad);
	m->kind = (uint8_t)lng(t, 2, &bad);
	m->size = (uint32_t)lng(t, 3, &bad);
	m->sgn = (uint8_t)lng(t, 4, &bad);
	m->be = (uint8_t)lng(t, 5, &bad);
	m->cv = (uint8_t)lng(t, 6, &bad);
	if (bad)
		return -1;
	m->map = opt(t, 7);
	m->conv = opt(t, 8);
	if (!m->name || ((m->cv == CV_ENUM || m->cv == CV_FLAGS) && !m->map) ||
	    (m->cv == CV_CALL && !m->conv) ||
	    (m->kind == MK_INT && m->size != 1 && m->size != 2 &&
	     m->size != 4 && m->size != 8)) {
		PyErr_SetString(PyExc_ValueError, "an inconsistent plan struct member");
		return -1;
	}
	return 0;
}

/*
 * compile(sets, structs, raw, error, names): sets is a list of lists of
 * attribute tuples indexed by attribute type (None: no such attribute),
 * structs a list of (size, [member tuples]), names a dict per set from
 * attribute names to types.
 */
static PyObject *sd_compile(PyObject *self, PyObject *args)
{
	PyObject *sets, *structs, *raw, *error, *names, *cap;
	struct dplan *p;
	Py_ssize_t i, j, n;

	if (!PyArg_ParseTuple(args, "O!O!OOO!", &PyList_Type, &sets, &PyList_Type,
			      &structs, &raw, &error, &PyList_Type, &names))
		return NULL;
	if (PyList_Size(names) != PyList_Size(sets)) {
		PyErr_SetString(PyExc_ValueError, "a name table per set");
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return PyErr_NoMemory();
	Py_INCREF(raw);
	p->raw = raw;
	Py_INCREF(error);
	p->error = error;
	p->nsets = (uint32_t)PyList_Size(sets);
	p->nstructs = (uint32_t)PyList_Size(structs);
	p->sets = calloc(p->nsets ? p->nsets : 1, sizeof(*p->sets));
	p->structs = calloc(p->nstructs ? p->nstructs : 1, sizeof(*p->structs));
	if (!p->sets || !p->structs)
		goto nomem;
	for (i = 0; i < (Py_ssize_t)p->nstructs; i++) {
		PyObject *st = PyList_GetItem(structs, i), *ms;
		struct dstruct *ds = &p->structs[i];
		int bad = 0;

		if (!PyTuple_Check(st) || PyTuple_Size(st) != 2)
			goto type;
		ds->size = (uint32_t)lng(st, 0, &bad);
		ms = PyTuple_GetItem(st, 1);
		if (bad || !ms || !PyList_Check(ms))
			goto type;
		n = PyList_Size(ms);
		ds->m = calloc(n ? n : 1, sizeof(*ds->m));
		if (!ds->m)
			goto nomem;
		ds->n = (uint32_t)n;
		for (j = 0; j < n; j++) {
			if (fill_member(&ds->m[j], PyList_GetItem(ms, j)) < 0)
				goto fail;
			if (ds->m[j].off + ds->m[j].size > ds->size) {
				PyErr_SetString(PyExc_ValueError,
						"a struct member past its struct");
				goto fail;
			}
		}
		/* the members in order, so a copy keeps the dict's order */
		ds->tmpl = PyDict_New();
		if (!ds->tmpl)
			goto fail;
		ds->cacheable = ds->size > 0;
		for (j = 0; j < n; j++) {
			if (ds->m[j].cv == CV_CALL || ds->m[j].cv == CV_FLAGS)
				ds->cacheable = 0;	/* values may be mutable */
			if (ds->m[j].kind != MK_PAD &&
			    PyDict_SetItem(ds->tmpl, ds->m[j].name, Py_None) < 0)
				goto fail;
		}
	}
	for (i = 0; i < (Py_ssize_t)p->nsets; i++) {
		PyObject *s = PyList_GetItem(sets, i);
		struct dset *ds = &p->sets[i];

		if (!s || !PyList_Check(s))
			goto type;
		n = PyList_Size(s);
		if (n > 0x10000)
			goto type;
		ds->attrs = calloc(n ? n : 1, sizeof(*ds->attrs));
		if (!ds->attrs)
			goto nomem;
		ds->n = (uint32_t)n;
		ds->names = PyList_GetItem(names, i);
		if (!ds->names || !PyDict_Check(ds->names))
			goto type;
		Py_INCREF(ds->names);
		for (j = 0; j < n; j++) {
			PyObject *t = PyList_GetItem(s, j);

			if (t == Py_None)
				continue;	/* kind 0: unknown */
			if (fill_attr(p, &ds->attrs[j], t) < 0)
				goto fail;
		}
	}
	cap = PyCapsule_New(p, CAPSULE_NAME, plan_capsule_free);
	if (!cap)
		goto fail;
	return cap;
type:
	PyErr_SetString(PyExc_TypeError, "a malformed plan");
	goto fail;
nomem:
	PyErr_NoMemory();
fail:
	plan_free(p);
	return NULL;
}

/* -- decoding ------------------------------------------------------------ */

struct dwalk {
	struct dplan *p;
	const unsigned char *base;	/* the payload */
	PyObject *buf;
	unsigned long boff;		/* where the payload starts in buf */
};

static void malformed(struct dwalk *w, const unsigned char *at)
{
	PyErr_Format(w->p->error, "malformed attribute at offset %u",
		     (unsigned int)(at - w->base));
}

/* An integer of size 1, 2, 4 or 8 bytes, in host or network order. */
static uint64_t rd_uint(const unsigned char *p, uint32_t size, int be)
{
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const int swap = be;
#else
	const int swap = 0;	/* big-endian host: network order is host order */
#endif

	switch (size) {
	case 1:
		return p[0];
	case 2:
		memcpy(&v16, p, 2);
		return swap ? __builtin_bswap16(v16) : v16;
	case 4:
		memcpy(&v32, p, 4);
		return swap ? __builtin_bswap32(v32) : v32;
	default:
		memcpy(&v64, p, 8);
		return swap ? __builtin_bswap64(v64) : v64;
	}
}

static PyObject *mk_int(uint64_t v, uint32_t size, int sgn)
{
	if (!sgn)
		return PyLong_FromUnsignedLongLong(v);
	if (size < 8 && (v >> (size * 8 - 1)) & 1)
		v |= ~(uint64_t)0 << (size * 8);
	return PyLong_FromLongLong((long long)v);
}

/* The names of v's set bits, low to high (a bit without one: its mask). */
static PyObject *mk_flags(PyObject *v, PyObject *bits)
{
	unsigned long long x = PyLong_AsUnsignedLongLong(v), low;
	PyObject *list, *k, *name;
	int rc;

	if (x == (unsigned long long)-1 && PyErr_Occurred()) {
		PyErr_Clear();	/* negative: no bits, as in Python */
		x = 0;
	}
	list = PyList_New(0);
	while (list && x) {
		low = x & (~x + 1);
		x ^= low;
		k = PyLong_FromUnsignedLongLong(low);
		if (!k)
			goto fail;
		name = PyDict_GetItemWithError(bits, k);
		if (!name && PyErr_Occurred()) {
			Py_DECREF(k);
			goto fail;
		}
		rc = PyList_Append(list, name ? name : k);
		Py_DECREF(k);
		if (rc < 0)
			goto fail;
	}
	return list;
fail:
	Py_DECREF(list);
	return NULL;
}

/* Applies a conversion to a new reference v; returns a new reference. */
static PyObject *convert(PyObject *v, uint8_t cv, PyObject *map, PyObject *conv)
{
	PyObject *r;

	if (!v || cv == CV_NONE)
		return v;
	if (cv == CV_FLAGS) {
		r = mk_flags(v, map);
		Py_DECREF(v);
		return r;
	}
	if (cv == CV_ENUM) {
		r = PyDict_GetItemWithError(map, v);
		if (r) {
			Py_INCREF(r);
			Py_DECREF(v);
			return r;
		}
		if (PyErr_Occurred()) {
			Py_DECREF(v);
			return NULL;
		}
		return v;
	}
	r = PyObject_CallFunctionObjArgs(conv, v, NULL);
	Py_DECREF(v);
	return r;
}

static PyObject *mk_str(const unsigned char *p, uint32_t n)
{
	const unsigned char *z = memchr(p, 0, n);

	return PyUnicode_DecodeUTF8((const char *)p, z ? z - p : (Py_ssize_t)n,
				    "replace");
}

static PyObject *mk_mac(const unsigned char *p, uint32_t n)
{
	static const char hex[] = "0123456789abcdef";
	char small[96], *s = small;
	PyObject *r;
	uint32_t i;

	if (!n)
		return PyUnicode_FromStringAndSize("", 0);
	if (n > sizeof(small) / 3) {
		s = malloc((size_t)n * 3);
		if (!s)
			return PyErr_NoMemory();
	}
	for (i = 0; i < n; i++) {
		s[3 * i] = hex[p[i] >> 4];
		s[3 * i + 1] = hex[p[i] & 15];
		s[3 * i + 2] = ':';
	}
	r = PyUnicode_FromStringAndSize(s, (Py_ssize_t)n * 3 - 1);
	if (s != small)
		free(s);
	return r;
}

static PyObject *mk_bin(const unsigned char *p, uint32_t n, uint8_t cv,
			PyObject *conv)
{
	if (cv == CV_MAC)
		return mk_mac(p, n);
	return convert(PyBytes_FromStringAndSize((const char *)p, n),
		       cv == CV_CALL ? CV_CALL : CV_NONE, NULL, conv);
}

/* A struct's members into dict out. */
static int dec_struct(const struct dstruct *s, const unsigned char *p,
		      PyObject *out)
{
	uint32_t i;

	for (i = 0; i < s->n; i++) {
		const struct dmember *m = &s->m[i];
		const unsigned char *q = p + m->off;
		PyObject *v;
		int rc;

		switch (m->kind) {
		case MK_INT:
			v = convert(mk_int(rd_uint(q, m->size, m->be), m->size,
					   m->sgn), m->cv, m->map, m->conv);
			break;
		case MK_STRING:
			v = mk_str(q, m->size);
			break;
		case MK_BINARY:
			v = mk_bin(q, m->size, m->cv, m->conv);
			break;
		default:
			continue;
		}
		if (!v)
			return -1;
		rc = PyDict_SetItem(out, m->name, v);
		Py_DECREF(v);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int dec_set(struct dwalk *w, uint32_t set, const unsigned char *buf,
		   uint32_t len, uint32_t depth, PyObject *out);

/* A new dict of the struct at p (s->size bytes). */
static PyObject *struct_dict(struct dstruct *s, const unsigned char *p)
{
	PyObject *v, *keep, *old;

	if (s->cacheable && s->last_dict && !memcmp(s->last, p, s->size)) {
		keep = s->last_dict;	/* a collection may replace it */
		Py_INCREF(keep);
		v = PyDict_Copy(keep);
		Py_DECREF(keep);
		return v;
	}
	v = PyDict_Copy(s->tmpl);
	if (!v || dec_struct(s, p, v) < 0) {
		Py_XDECREF(v);
		return NULL;
	}
	if (!s->cacheable)
		return v;
	if (!s->last) {
		s->last = malloc(s->size);
		if (!s->last)
			return v;	/* no cache then */
	}
	keep = PyDict_Copy(v);
	if (!keep) {
		PyErr_Clear();
		return v;
	}
	old = s->last_dict;
	s->last_dict = keep;
	memcpy(s->last, p, s->size);
	Py_XDECREF(old);
	return v;
}

/* Raw fallback: raw(attr, buf, off, len, here). */
static PyObject *dec_raw(struct dwalk *w, const struct dattr *a,
			 const unsigned char *p, uint32_t n, PyObject *here)
{
	PyObject *off, *ln, *r;

	off = PyLong_FromSsize_t(p - w->base + (Py_ssize_t)w->boff);
	ln = PyLong_FromUnsignedLong(n);
	r = off && ln ? PyObject_CallFunctionObjArgs(w->p->raw, a->attr, w->buf,
						     off, ln, here, NULL) : NULL;
	Py_XDECREF(off);
	Py_XDECREF(ln);
	return r;
}

/* One value of kind (an attribute's, or an indexed array element's). */
static PyObject *dec_value(struct dwalk *w, const struct dattr *a,
			   uint8_t kind, uint8_t cv, const unsigned char *p,
			   uint32_t n, uint32_t depth, PyObject *here)
{
	uint32_t size = a->size;
	PyObject *v;

	switch (kind) {
	case NLF_SK_UINT:
	case NLF_SK_SINT:
		if (!size) {
			if (n != 4 && n != 8)
				goto bad;
			size = n;
		} else if (n < size) {
			goto bad;
		}
		return convert(mk_int(rd_uint(p, size, a->be), size,
				      kind == NLF_SK_SINT), cv, a->map, a->conv);
	case NLF_SK_STRING:
		return mk_str(p, n);
	case NLF_SK_BINARY:
		return mk_bin(p, n, cv, a->conv);
	case NLF_SK_FLAG:
		Py_INCREF(Py_True);
		return Py_True;
	case NLF_SK_NEST:
		v = PyDict_New();
		if (v && dec_set(w, (uint32_t)a->nest, p, n, depth + 1, v) < 0)
			Py_CLEAR(v);
		return v;
	case DK_STRUCT:
		if (n >= w->p->structs[a->strct].size)
			return struct_dict(&w->p->structs[a->strct], p);
		return mk_bin(p, n, cv, a->conv);
	default:
		return dec_raw(w, a, p, n, here);
	}
bad:
	malformed(w, p);
	return NULL;
}

static PyObject *dec_array(struct dwalk *w, const struct dattr *a,
			   const unsigned char *buf, uint32_t len,
			   uint32_t depth)
{
	const unsigned char *e;
	PyObject *list, *v;
	int64_t rem;
	int rc;

	list = PyList_New(0);
	if (!list)
		return NULL;
	nlf_attr_for_each(e, rem, buf, len) {
		v = dec_value(w, a, a->sub_kind, a->sub_cv, nlf_attr_data(e),
			      nlf_attr_plen(e), depth, Py_None);
		if (!v)
			goto fail;
		rc = PyList_Append(list, v);
		Py_DECREF(v);
		if (rc < 0)
			goto fail;
	}
	if (rem >= NLA_HDRLEN) {
		malformed(w, e);
		goto fail;
	}
	return list;
fail:
	Py_DECREF(list);
	return NULL;
}

static int put(PyObject *out, const struct dattr *a, PyObject *v)
{
	PyObject *l;
	int rc;

	if (!a->multi) {
		rc = PyDict_SetItem(out, a->name, v);
		Py_DECREF(v);
		return rc;
	}
	l = PyDict_GetItemWithError(out, a->name);
	if (!l) {
		if (PyErr_Occurred()) {
			Py_DECREF(v);
			return -1;
		}
		l = PyList_New(0);
		if (!l || PyDict_SetItem(out, a->name, l) < 0) {
			Py_XDECREF(l);
			Py_DECREF(v);
			return -1;
		}
		Py_DECREF(l);	/* the dict holds it */
	}
	rc = PyList_Append(l, v);
	Py_DECREF(v);
	return rc;
}

static int dec_set(struct dwalk *w, uint32_t set, const unsigned char *buf,
		   uint32_t len, uint32_t depth, PyObject *out)
{
	const struct dset *s;
	const struct dattr *a;
	const unsigned char *at;
	PyObject *k, *v;
	int64_t rem;
	uint16_t type;
	int rc;

	if (depth > NLF_SPEC_MAX_DEPTH) {
		PyErr_Format(w->p->error, "attributes nested deeper than %d",
			     NLF_SPEC_MAX_DEPTH);
		return -1;
	}
	s = &w->p->sets[set];
	nlf_attr_for_each(at, rem, buf, len) {
		type = nlf_attr_type(at);
		a = type < s->n ? &s->attrs[type] : NULL;
		if (a && a->kind == NLF_SK_SKIP)
			continue;
		if (!a || a->kind == NLF_SK_UNKNOWN) {
			k = PyLong_FromLong(type);
			v = PyBytes_FromStringAndSize(
				(const char *)nlf_attr_data(at), nlf_attr_plen(at));
			rc = k && v ? PyDict_SetItem(out, k, v) : -1;
			Py_XDECREF(k);
			Py_XDECREF(v);
			if (rc < 0)
				return -1;
			continue;
		}
		if (a->kind == NLF_SK_ARRAY) {
			v = dec_array(w, a, nlf_attr_data(at), nlf_attr_plen(at),
				      depth + 1);
		} else {
			v = dec_value(w, a, a->kind, a->cv, nlf_attr_data(at),
				      nlf_attr_plen(at), depth, out);
		}
		if (!v || put(out, a, v) < 0)
			return -1;
	}
	if (rem >= NLA_HDRLEN) {	/* a tail under 4 bytes is padding */
		malformed(w, at);
		return -1;
	}
	return 0;
}

/*
 * decode(plan, hdr, set, buf, addr, boff, hoff, off, len, out): addr (an
 * int, or buf itself when it is bytes) points at buf's bytes, which the
 * caller keeps alive; a message's payload starts boff bytes in.  Decodes
 * the struct hdr (-1: none) at payload + hoff (the caller checked that it
 * fits), then the attributes of set (-1: none) in payload[off, off + len),
 * into out.  Offsets in errors are from the payload, in raw() calls from
 * buf.
 */
static PyObject *sd_decode(PyObject *self, PyObject *args)
{
	PyObject *cap, *buf, *out, *addr;
	const unsigned char *start;
	unsigned long boff, hoff, off, len;
	struct dplan *p;
	struct dwalk w;
	long hdr, set;

	if (!PyArg_ParseTuple(args, "OllOOkkkkO!", &cap, &hdr, &set, &buf, &addr,
			      &boff, &hoff, &off, &len, &PyDict_Type, &out))
		return NULL;
	p = PyCapsule_GetPointer(cap, CAPSULE_NAME);
	if (!p)
		return NULL;
	if (PyBytes_Check(addr)) {
		start = (const unsigned char *)PyBytes_AsString(addr);
		if (boff + off + len > (unsigned long)PyBytes_Size(addr) ||
		    boff + hoff > (unsigned long)PyBytes_Size(addr)) {
			PyErr_SetString(PyExc_ValueError, "past the end of the bytes");
			return NULL;
		}
	} else {
		start = PyLong_AsVoidPtr(addr);
	}
	if (!start) {
		if (!PyErr_Occurred())
			PyErr_SetString(PyExc_ValueError, "a NULL address");
		return NULL;
	}
	if (hdr >= (long)p->nstructs || set >= (long)p->nsets ||
	    boff > 0xffffffffUL || off > 0xffffffffUL || len > 0xffffffffUL) {
		PyErr_SetString(PyExc_ValueError, "no such struct or set in the plan");
		return NULL;
	}
	w.p = p;
	w.buf = buf;
	w.base = start + boff;
	w.boff = boff;
	if (hdr >= 0 && dec_struct(&p->structs[hdr], w.base + hoff, out) < 0)
		return NULL;
	if (set >= 0 && dec_set(&w, (uint32_t)set, w.base + off, (uint32_t)len, 0,
				out) < 0)
		return NULL;
	Py_INCREF(out);
	return out;
}

/*
 * column(plan, set, type, buf, arena, offs, lens, n, skip): attribute type
 * of set in each of n messages, message i being arena[offs[i], offs[i] +
 * lens[i]) with its attributes skip bytes in (arena, offs and lens are
 * addresses as ints; arena points at buf's bytes, which the caller keeps
 * alive).  A list: each message's first such attribute decoded as in a
 * dict, None where there is none (or an integer's payload is too short).
 * For integers, strings, flags, binaries and structs only.
 */
static PyObject *sd_column(PyObject *self, PyObject *args)
{
	PyObject *cap, *buf, *arena_o, *offs_o, *lens_o, *list, *v;
	const unsigned char *arena, *at, *d;
	const uint32_t *offs, *lens;
	unsigned long n, skip, type, i, plen;
	const struct dattr *a;
	struct dplan *p;
	struct dwalk w;
	int64_t rem;
	long set;

	if (!PyArg_ParseTuple(args, "OlkOOOOkk", &cap, &set, &type, &buf, &arena_o,
			      &offs_o, &lens_o, &n, &skip))
		return NULL;
	p = PyCapsule_GetPointer(cap, CAPSULE_NAME);
	if (!p)
		return NULL;
	if (set < 0 || set >= (long)p->nsets || type >= p->sets[set].n ||
	    n > 0xffffffffUL) {
		PyErr_SetString(PyExc_ValueError, "no such set or attribute in the plan");
		return NULL;
	}
	a = &p->sets[set].attrs[type];
	switch (a->kind) {
	case NLF_SK_UINT:
	case NLF_SK_SINT:
	case NLF_SK_STRING:
	case NLF_SK_BINARY:
	case NLF_SK_FLAG:
	case DK_STRUCT:
		break;
	default:
		PyErr_SetString(PyExc_ValueError, "not a column C decodes");
		return NULL;
	}
	arena = PyLong_AsVoidPtr(arena_o);
	offs = PyLong_AsVoidPtr(offs_o);
	lens = PyLong_AsVoidPtr(lens_o);
	if (PyErr_Occurred())
		return NULL;
	if (!arena || !offs || !lens) {
		PyErr_SetString(PyExc_ValueError, "a NULL address");
		return NULL;
	}
	w.p = p;
	w.buf = buf;
	w.base = arena;
	w.boff = 0;
	list = PyList_New((Py_ssize_t)n);
	if (!list)
		return NULL;
	for (i = 0; i < n; i++) {
		v = NULL;
		if (lens[i] >= skip) {
			nlf_attr_for_each(at, rem, arena + offs[i] + skip,
					  lens[i] - skip) {
				if (nlf_attr_type(at) != type)
					continue;
				d = nlf_attr_data(at);
				plen = nlf_attr_plen(at);
				if ((a->kind == NLF_SK_UINT || a->kind == NLF_SK_SINT) &&
				    (a->size ? plen < a->size : plen != 4 && plen != 8))
					break;	/* too short: absent */
				v = dec_value(&w, a, a->kind, a->cv, d, (uint32_t)plen,
					      0, Py_None);
				if (!v) {
					Py_DECREF(list);
					return NULL;
				}
				break;
			}
		}
		if (!v) {
			Py_INCREF(Py_None);
			v = Py_None;
		}
		PyList_SetItem(list, (Py_ssize_t)i, v);	/* steals v */
	}
	return list;
}

/* -- encoding --------------------------------------------------------------
 *
 * The common cases only: anything else (a value of another type, out of
 * range, a kind left to Python, a name not in the set) makes encode()
 * return None, and Python encodes the whole message, raising what it
 * raises.  So a message C encodes is byte for byte what Python makes.
 */

#define ENC_FALLBACK	1	/* not for C: no Python error set */

struct ebuf {
	unsigned char *b;
	size_t len, cap;
};

static int eb_room(struct ebuf *e, size_t n)
{
	unsigned char *nb;
	size_t cap;

	if (e->len + n <= e->cap)
		return 0;
	cap = e->cap ? e->cap : 256;
	while (cap < e->len + n)
		cap *= 2;
	nb = realloc(e->b, cap);
	if (!nb) {
		PyErr_NoMemory();
		return -1;
	}
	e->b = nb;
	e->cap = cap;
	return 0;
}

/* An attribute header and payload, padded to 4 bytes. */
static int eb_put(struct ebuf *e, uint16_t type, const void *p, size_t n)
{
	size_t pad = (4 - (n & 3)) & 3;
	uint16_t h[2];

	if (n + NLA_HDRLEN > 0xffff)
		return ENC_FALLBACK;
	if (eb_room(e, NLA_HDRLEN + n + pad) < 0)
		return -1;
	h[0] = (uint16_t)(n + NLA_HDRLEN);
	h[1] = type;
	memcpy(e->b + e->len, h, 4);
	if (n)
		memcpy(e->b + e->len + 4, p, n);
	memset(e->b + e->len + 4 + n, 0, pad);
	e->len += NLA_HDRLEN + n + pad;
	return 0;
}

/* An integer value as Python's encoder takes it: an int (not a bool), or
 * a name of the attribute's (plain) enum.  0 and a new reference in *num,
 * ENC_FALLBACK, or -1 with an error. */
static int enc_intval(const struct dattr *a, uint8_t cv, PyObject *v, PyObject **num)
{
	PyObject *r;

	if (PyLong_Check(v) && !PyBool_Check(v)) {
		Py_INCREF(v);
		*num = v;
		return 0;
	}
	if (cv == CV_ENUM && a->rmap && PyUnicode_CheckExact(v)) {
		r = PyDict_GetItemWithError(a->rmap, v);
		if (r && PyLong_Check(r) && !PyBool_Check(r)) {
			Py_INCREF(r);
			*num = r;
			return 0;
		}
		if (PyErr_Occurred())
			return -1;
	}
	return ENC_FALLBACK;
}

/* size bytes of u, in network order when be, else in host order */
static void enc_bytes(unsigned char *raw, uint64_t u, uint32_t size, int be)
{
	uint32_t i;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const int little = !be;
#else
	const int little = 0;
#endif

	for (i = 0; i < size; i++)
		raw[little ? i : size - 1 - i] = (unsigned char)(u >> (8 * i));
}

static int enc_int(struct ebuf *e, const struct dattr *a, uint8_t kind,
		   uint8_t cv, uint16_t type, PyObject *v)
{
	unsigned char raw[8];
	uint32_t size = a->size;
	PyObject *num;
	uint64_t u;
	int rc, ovf = 0;

	rc = enc_intval(a, cv, v, &num);
	if (rc)
		return rc;
	if (kind == NLF_SK_SINT) {
		long long x = PyLong_AsLongLongAndOverflow(num, &ovf);

		if (ovf || (x == -1 && PyErr_Occurred()))
			goto fallback;
		if (!size)
			size = x >= -(1LL << 31) && x < (1LL << 31) ? 4 : 8;
		else if (size < 8 && (x < -(1LL << (size * 8 - 1)) ||
				      x >= (1LL << (size * 8 - 1))))
			goto fallback;
		u = (uint64_t)x;
	} else {
		u = PyLong_AsUnsignedLongLong(num);
		if (u == (uint64_t)-1 && PyErr_Occurred())
			goto fallback;	/* negative or too big */
		if (!size)
			size = u <= 0xffffffffULL ? 4 : 8;
		else if (size < 8 && u >> (size * 8))
			goto fallback;
	}
	Py_DECREF(num);
	enc_bytes(raw, u, size, a->be);
	return eb_put(e, type, raw, size);
fallback:
	PyErr_Clear();
	Py_DECREF(num);
	return ENC_FALLBACK;
}

static int enc_set(struct ebuf *e, const struct dplan *p, uint32_t set,
		   PyObject *values, uint32_t depth, const struct dstruct *skip);

static int enc_one(struct ebuf *e, const struct dplan *p, const struct dattr *a,
		   uint16_t type, PyObject *v, uint32_t depth)
{
	const char *str;
	Py_ssize_t n;
	PyObject *b;
	size_t start;
	int rc;

	switch (a->kind) {
	case NLF_SK_UINT:
	case NLF_SK_SINT:
		return enc_int(e, a, a->kind, a->cv, type, v);
	case NLF_SK_STRING:
		if (!PyUnicode_Check(v))
			return ENC_FALLBACK;
		b = PyUnicode_AsUTF8String(v);
		if (!b) {
			PyErr_Clear();	/* Python raises its own */
			return ENC_FALLBACK;
		}
		str = PyBytes_AsString(b);
		n = PyBytes_Size(b);
		rc = memchr(str, 0, (size_t)n) ? ENC_FALLBACK :
		     eb_put(e, type, str, (size_t)n + 1);	/* with its NUL */
		Py_DECREF(b);
		return rc;
	case NLF_SK_FLAG:
		if (v == Py_True)
			return eb_put(e, type, NULL, 0);
		return v == Py_False || v == Py_None ? 0 : ENC_FALLBACK;
	case NLF_SK_BINARY:
	case DK_STRUCT:
		if (PyBytes_Check(v))
			return eb_put(e, type, PyBytes_AsString(v), (size_t)PyBytes_Size(v));
		if (PyByteArray_Check(v))
			return eb_put(e, type, PyByteArray_AsString(v),
				      (size_t)PyByteArray_Size(v));
		return ENC_FALLBACK;
	case NLF_SK_NEST:
		if (!PyDict_Check(v) || depth >= NLF_SPEC_MAX_DEPTH)
			return ENC_FALLBACK;
		start = e->len;
		rc = eb_put(e, type | NLA_F_NESTED, NULL, 0);
		if (!rc)
			rc = enc_set(e, p, (uint32_t)a->nest, v, depth + 1, NULL);
		if (!rc) {
			uint16_t nla_len = (uint16_t)(e->len - start);

			if (e->len - start > 0xffff)
				return ENC_FALLBACK;
			memcpy(e->b + start, &nla_len, 2);
		}
		return rc;
	case NLF_SK_SKIP:
		return 0;
	default:
		return ENC_FALLBACK;
	}
}

/* The member of s named k (a str), or NULL. */
static const struct dmember *member_named(const struct dstruct *s, PyObject *k)
{
	uint32_t i;

	for (i = 0; i < s->n; i++)
		if (s->m[i].name == k || !PyUnicode_Compare(s->m[i].name, k))
			return &s->m[i];
	return NULL;
}

/* The attributes of values (keys that name a member of skip excepted). */
static int enc_set(struct ebuf *e, const struct dplan *p, uint32_t set,
		   PyObject *values, uint32_t depth, const struct dstruct *skip)
{
	const struct dset *s = &p->sets[set];
	const struct dattr *a;
	PyObject *k, *v, *t, *item;
	Py_ssize_t pos = 0, i, n;
	long type;
	int rc;

	while (PyDict_Next(values, &pos, &k, &v)) {
		if (!PyUnicode_CheckExact(k))	/* no Python code while iterating */
			return ENC_FALLBACK;
		if (skip && member_named(skip, k))
			continue;
		t = PyDict_GetItemWithError(s->names, k);
		if (!t)
			return PyErr_Occurred() ? -1 : ENC_FALLBACK;
		type = PyLong_AsLong(t);
		if (type < 0 || type >= (long)s->n) {
			PyErr_Clear();
			return ENC_FALLBACK;
		}
		a = &s->attrs[type];
		if (a->kind == NLF_SK_UNKNOWN)
			return ENC_FALLBACK;
		if (!a->multi) {
			Py_INCREF(v);
			rc = enc_one(e, p, a, (uint16_t)type, v, depth);
			Py_DECREF(v);
			if (rc)
				return rc;
			continue;
		}
		if (!PyList_Check(v) && !PyTuple_Check(v))
			return ENC_FALLBACK;
		n = PyList_Check(v) ? PyList_Size(v) : PyTuple_Size(v);
		for (i = 0; i < n; i++) {
			item = PyList_Check(v) ? PyList_GetItem(v, i) : PyTuple_GetItem(v, i);
			if (!item)
				return -1;
			rc = enc_one(e, p, a, (uint16_t)type, item, depth);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/*
 * encode(plan, set, values): the attributes of values (a dict, names of
 * set) as bytes, or None when Python must encode them (see above).
 */
static PyObject *sd_encode(PyObject *self, PyObject *args)
{
	struct ebuf e = { NULL, 0, 0 };
	PyObject *cap, *values, *r;
	struct dplan *p;
	long set;
	int rc;

	if (!PyArg_ParseTuple(args, "OlO!", &cap, &set, &PyDict_Type, &values))
		return NULL;
	p = PyCapsule_GetPointer(cap, CAPSULE_NAME);
	if (!p)
		return NULL;
	if (set < 0 || set >= (long)p->nsets) {
		PyErr_SetString(PyExc_ValueError, "no such set in the plan");
		return NULL;
	}
	rc = enc_set(&e, p, (uint32_t)set, values, 0, NULL);
	if (rc < 0) {
		free(e.b);
		return NULL;
	}
	if (rc == ENC_FALLBACK) {
		free(e.b);
		Py_RETURN_NONE;
	}
	r = PyBytes_FromStringAndSize((const char *)e.b, (Py_ssize_t)e.len);
	free(e.b);
	return r;
}

/*
 * The members of struct s named by keys of values, into hdr (s->size
 * bytes, zeroed): plain integers only (no enum, no hint), else
 * ENC_FALLBACK; *n counts the keys used.
 */
static int enc_header(const struct dstruct *s, PyObject *values,
		      unsigned char *hdr, Py_ssize_t *n)
{
	const struct dmember *m;
	Py_ssize_t pos = 0;
	PyObject *k, *v;
	uint64_t u;
	int ovf = 0;

	*n = 0;
	while (PyDict_Next(values, &pos, &k, &v)) {
		if (!PyUnicode_CheckExact(k))
			return ENC_FALLBACK;
		m = member_named(s, k);
		if (!m)
			continue;
		if (m->kind != MK_INT || m->cv != CV_NONE || !PyLong_Check(v) ||
		    PyBool_Check(v))
			return ENC_FALLBACK;
		if (m->sgn) {
			long long x = PyLong_AsLongLongAndOverflow(v, &ovf);

			if (ovf || (x == -1 && PyErr_Occurred()) ||
			    (m->size < 8 && (x < -(1LL << (m->size * 8 - 1)) ||
					     x >= (1LL << (m->size * 8 - 1)))))
				goto fallback;
			u = (uint64_t)x;
		} else {
			u = PyLong_AsUnsignedLongLong(v);
			if ((u == (uint64_t)-1 && PyErr_Occurred()) ||
			    (m->size < 8 && u >> (m->size * 8)))
				goto fallback;
		}
		enc_bytes(hdr + m->off, u, m->size, m->be);
		(*n)++;
	}
	return 0;
fallback:
	PyErr_Clear();
	return ENC_FALLBACK;
}

/*
 * frame(plan, type, flags, pre, hdr, set, values): a request framed with
 * seq 0 and port 0, as Message(type, flags, payload).encode() frames the
 * payload Python makes: pre (bytes: a genlmsghdr, or empty), then the
 * struct hdr (-1: none) from the keys of values naming its members, padded
 * to 4 bytes, then the attributes of set (-1: none) from the other keys.
 * None when Python must frame it (see above), also when values is not a
 * dict (None: no values).
 */
static PyObject *sd_frame(PyObject *self, PyObject *args)
{
	struct ebuf e = { NULL, 0, 0 };
	PyObject *cap, *pre, *values, *r = NULL;
	const struct dstruct *st = NULL;
	unsigned long type, flags;
	Py_ssize_t used = 0, npre;
	size_t at, fixed;
	struct dplan *p;
	long hdr, set;
	uint32_t len;
	uint16_t h16[2];
	int rc = 0;

	if (!PyArg_ParseTuple(args, "OkkO!llO", &cap, &type, &flags,
			      &PyBytes_Type, &pre, &hdr, &set, &values))
		return NULL;
	p = PyCapsule_GetPointer(cap, CAPSULE_NAME);
	if (!p)
		return NULL;
	if (hdr >= (long)p->nstructs || set >= (long)p->nsets ||
	    type > 0xffff || flags > 0xffff) {
		PyErr_SetString(PyExc_ValueError, "no such struct or set in the plan");
		return NULL;
	}
	if (values != Py_None && !PyDict_CheckExact(values))
		Py_RETURN_NONE;
	npre = PyBytes_Size(pre);
	if (hdr >= 0)
		st = &p->structs[hdr];
	at = NLMSG_HDRLEN + (size_t)npre;
	fixed = NLMSG_ALIGN(at + (st ? st->size : 0));
	if (eb_room(&e, fixed + 64) < 0)
		return NULL;
	memset(e.b, 0, fixed);
	memcpy(e.b + NLMSG_HDRLEN, PyBytes_AsString(pre), (size_t)npre);
	e.len = fixed;
	if (st && values != Py_None)
		rc = enc_header(st, values, e.b + at, &used);
	if (!rc && values != Py_None && PyDict_Size(values) > used) {
		if (set < 0)
			rc = ENC_FALLBACK;	/* Python names the keys */
		else
			rc = enc_set(&e, p, (uint32_t)set, values, 0, st);
	}
	if (!rc && e.len > 0xffffffffUL)
		rc = ENC_FALLBACK;
	if (rc < 0)
		goto out;
	if (rc == ENC_FALLBACK) {
		Py_INCREF(Py_None);
		r = Py_None;
		goto out;
	}
	len = (uint32_t)e.len;
	memcpy(e.b, &len, 4);
	h16[0] = (uint16_t)type;
	h16[1] = (uint16_t)flags;
	memcpy(e.b + 4, h16, 4);
	r = PyBytes_FromStringAndSize((const char *)e.b, (Py_ssize_t)e.len);
out:
	free(e.b);
	return r;
}

static PyMethodDef sd_methods[] = {
	{ "compile", sd_compile, METH_VARARGS, "A plan from attribute and struct tuples." },
	{ "decode", sd_decode, METH_VARARGS, "A message's header and attributes into a dict." },
	{ "column", sd_column, METH_VARARGS, "One attribute of every message of a batch." },
	{ "encode", sd_encode, METH_VARARGS, "A dict's attributes as bytes (None: for Python)." },
	{ "frame", sd_frame, METH_VARARGS, "A request framed from a dict (None: for Python)." },
	{ NULL, NULL, 0, NULL },
};

/*
 * Makes the module nlfast._specdict in sys.modules.  Returns 0, or -1 with
 * the error printed (cffi calls this without a Python error channel).
 */
int nlf_specdict_register(void)
{
	PyGILState_STATE g = PyGILState_Ensure();
	PyObject *m, *name, *fn;
	PyMethodDef *d;
	int rc = -1;

	m = PyImport_AddModule("nlfast._specdict");	/* borrowed */
	if (!m)
		goto out;
	name = PyUnicode_FromString("nlfast._specdict");
	if (!name)
		goto out;
	for (d = sd_methods; d->ml_name; d++) {
		fn = PyCFunction_NewEx(d, NULL, name);
		if (!fn || PyModule_AddObject(m, d->ml_name, fn) < 0) {
			Py_XDECREF(fn);
			Py_DECREF(name);
			goto out;
		}
	}
	Py_DECREF(name);
	rc = 0;
out:
	if (rc < 0)
		PyErr_Print();
	PyGILState_Release(g);
	return rc;
}
