"""Family.do()'s own path: the request framed in C from the dict (beside
what spec.message() frames), the first reply decoded from the receive memory
(nothing of it kept), and the paths around it: errors, NLM_F_ECHO, an op
without 'do', a dump in flight on the same socket."""

from __future__ import annotations

import errno
import sys
import types
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nlfast
from nlfast import spec
from nlfast.batch import slab_idle
from nlfast.constants import NLM_F_CREATE, NLM_F_ECHO
from nlfast.spec import EncodeError, _specdict
from tests.test_spec_props import GENL, SPEC, top

from .conftest import Netns


def c_framed(fam: spec.Family, op: str, values: Any, flags: int = 0) -> bytes | None:
    """What do() sends when C frames it (None: spec.message() does)."""
    p = fam._do_plan(op, flags)
    if not p.c:
        return None
    plan = fam.spec._dplan
    assert plan is not None
    got: bytes | None = _specdict.frame(plan.cap, p.type, p.flags, p.pre, p.hdr, p.aset, values)
    return got


def py_framed(fam: spec.Family, op: str, values: Any, flags: int = 0) -> bytes:
    p = fam._do_plan(op, flags)
    return fam.spec.message(op, values, flags=p.flags, family_id=fam.id).encode()


RAW = spec.Family(SPEC, None)  # type: ignore[arg-type]  # framing needs no socket


class _Genl:
    id = 0x1234


GENL_FAM = spec.Family.__new__(spec.Family)
GENL_FAM.spec, GENL_FAM.sock, GENL_FAM.genl, GENL_FAM._hdr, GENL_FAM._do = (
    GENL, None, _Genl(), 4, {})  # type: ignore[assignment]


@settings(max_examples=200, deadline=None)
@given(top)
def test_c_frames_what_message_encodes(values: dict[str, Any]) -> None:
    """Every dict of every attribute form: C frames it byte for byte as
    spec.message() does, or leaves it to Python (None)."""
    for fam in (RAW, GENL_FAM):
        ref = py_framed(fam, "plain", values)
        got = c_framed(fam, "plain", values)
        assert got is None or got == ref
    assert c_framed(RAW, "plain", {"i-u32": 7, "str": "x", "nest": {"x": 1}}) == py_framed(
        RAW, "plain", {"i-u32": 7, "str": "x", "nest": {"x": 1}})


hdr_ints = st.fixed_dictionaries({}, optional={
    "h-u8": st.integers(0, 2**8 - 1), "h-be16": st.integers(0, 2**16 - 1),
    "h-s32": st.integers(-(2**31), 2**31 - 1), "h-u64": st.integers(0, 2**64 - 1)})


@settings(max_examples=200, deadline=None)
@given(hdr_ints, st.fixed_dictionaries({}, optional={"i-u16": st.integers(0, 2**16 - 1),
                                                      "str": st.text(max_size=8)}),
       st.sampled_from([0, NLM_F_ECHO, NLM_F_CREATE | NLM_F_ECHO]))
def test_c_frames_fixed_headers(hdr: dict[str, int], attrs: dict[str, Any], flags: int) -> None:
    """Plain integer members of a fixed header (either byte order), mixed in
    one dict with attributes: framed in C, the bytes spec.message() makes."""
    values = {**hdr, **attrs}
    if "\0" in values.get("str", ""):
        return  # Python raises for it; C leaves it to Python
    got = c_framed(RAW, "with-hdr", values, flags)
    assert got is not None
    assert got == py_framed(RAW, "with-hdr", values, flags)


@pytest.mark.parametrize("values", [
    {"h-colour": "blue"},  # an enum member by name
    {"h-name": "abc"},  # a string member
    {"h-mac": "02:00:00:00:00:01"},  # a binary member shown as mac
    {"h-pad": 0},  # a pad member named
    types.MappingProxyType({"h-u8": 1}),  # not a dict
])
def test_what_c_leaves_to_python(values: Any) -> None:
    assert c_framed(RAW, "with-hdr", values) is None
    py_framed(RAW, "with-hdr", values)  # and Python frames it


@pytest.mark.parametrize("values, what", [
    ({"h-u8": 256}, "does not fit"),
    ({"h-s32": 2**31}, "does not fit"),
    ({"h-u8": True}, "needs an int"),
    ({"h-u8": 1.0}, "needs an int"),
    ({"nosuch": 1}, "no attribute 'nosuch'"),
    ({"i-u8": -1}, "i-u8"),
])
def test_bad_values_are_left_to_python_which_names_them(values: dict[str, Any],
                                                        what: str) -> None:
    assert c_framed(RAW, "with-hdr", values) is None
    with pytest.raises(EncodeError, match=what):
        py_framed(RAW, "with-hdr", values)


def test_no_values() -> None:
    """None (and an empty dict): a zeroed fixed header, no attributes."""
    for values in (None, {}):
        got = c_framed(RAW, "with-hdr", values)
        assert got is not None and got == py_framed(RAW, "with-hdr", values)
        assert c_framed(RAW, "plain", values) == py_framed(RAW, "plain", values)
        assert c_framed(GENL_FAM, "plain", values) == py_framed(GENL_FAM, "plain", values)


def test_frame_keeps_no_references() -> None:
    """Framing in C and leaving to Python, many times: no object gains a
    reference (what a leak in the C encoder would show)."""
    name, big = "abc", 2**40
    ok = {"h-u8": 1, "h-u64": big, "str": name, "nest": {"x": 1}}
    left = {"h-colour": "blue", "str": name}
    bad = {"h-s32": big}
    for values in (ok, left, bad):
        c_framed(RAW, "with-hdr", values)
    objs = (name, big, ok, left, bad, *ok.values())
    before = [sys.getrefcount(x) for x in objs]
    nones = sys.getrefcount(None)
    for _ in range(2000):
        assert c_framed(RAW, "with-hdr", ok) is not None
        assert c_framed(RAW, "with-hdr", left) is None
        assert c_framed(RAW, "with-hdr", bad) is None
    assert [sys.getrefcount(x) for x in objs] == before
    # None is shared by everything else that runs: one leaked per call is 2000
    assert abs(sys.getrefcount(None) - nones) < 100


def test_frame_checks_its_plan() -> None:
    plan = RAW.spec._dplan
    assert plan is not None
    with pytest.raises(ValueError, match="no such struct or set"):
        _specdict.frame(plan.cap, 16, 5, b"", 9999, -1, None)
    with pytest.raises(ValueError, match="no such struct or set"):
        _specdict.frame(plan.cap, 0x10000, 5, b"", -1, -1, None)


def test_do_is_request_to_dict(netns: Netns) -> None:
    """do() gives the dict to_dict() makes of request()'s copy, and keeps
    nothing of the receive memory: every slab of the socket is free again."""
    with spec.open("rt-link", netns=netns.path) as fam:
        got = fam.do("getlink", {"ifi-index": 1})
        (m,) = fam.sock.request(fam.message("getlink", {"ifi-index": 1}))
        assert got == fam.to_dict(m)
        del m
        for _ in range(50):
            assert fam.do("getlink", {"ifname": "lo"}) == got
        assert all(slab_idle(s) for s in fam.sock._t.pool)

        def no_views(v: Any) -> None:
            assert not isinstance(v, memoryview)
            for x in v.values() if isinstance(v, dict) else v if isinstance(v, list) else ():
                no_views(x)
        no_views(got)


def test_do_errors(netns: Netns) -> None:
    with spec.open("rt-link", netns=netns.path) as fam:
        with pytest.raises(KeyError, match="has no operation 'getaddr'"):
            fam.do("getaddr")
        with pytest.raises(EncodeError, match="ifi-index"):
            fam.do("getlink", {"ifi-index": 2**40})
        with pytest.raises(EncodeError, match="no attribute 'nosuch'"):
            fam.do("getlink", {"nosuch": 1})
        with pytest.raises(nlfast.NetlinkError) as e:
            fam.do("getlink", {"ifi-index": 4242})
        assert e.value.code == errno.ENODEV
        with pytest.raises(ValueError, match="timeout"):
            fam.do("getlink", {"ifi-index": 1}, timeout=-1)
        with pytest.raises(TypeError):
            fam.do("getlink", {"ifi-index": 1}, flags="x")  # type: ignore[arg-type]
        # nothing of the failed calls is left in flight
        assert fam.do("getlink", {"ifi-index": 1})["ifname"] == "lo"  # type: ignore[index]
    with spec.open("rt-addr", netns=netns.path) as addrs:
        with pytest.raises(ValueError, match="'getaddr' of 'rt-addr' has no 'do'"):
            addrs.do("getaddr")


def test_do_values_c_leaves_to_python(netns: Netns) -> None:
    """A header member by enum name, values in a mapping that is no dict:
    framed by spec.message(), answered the same."""
    with spec.open("rt-link", netns=netns.path) as fam:
        ref = fam.do("getlink", {"ifi-index": 1})
        assert c_framed(fam, "getlink", {"ifi-index": 1, "ifi-change": []}) is None
        assert fam.do("getlink", {"ifi-index": 1, "ifi-change": []}) == ref
        assert fam.do("getlink", types.MappingProxyType({"ifi-index": 1})) == ref


def test_do_with_echo(netns: Netns) -> None:
    """NLM_F_ECHO: the kernel's notification of the new link is the reply."""
    with spec.open("rt-link", netns=netns.path) as fam:
        got = fam.do("newlink", {"ifname": "nlf0", "linkinfo": {
            "kind": "veth", "data": {"peer-info": {"ifi-flags": []}}}},
            flags=spec.NEW_FLAGS | NLM_F_ECHO)
    (made,) = netns.ip_json("-d", "link", "show", "nlf0")
    assert got is not None
    assert got["ifname"] == "nlf0" and got["ifi-index"] == made["ifindex"]
    assert got["linkinfo"]["kind"] == "veth"


def test_do_while_a_dump_is_in_flight(netns: Netns) -> None:
    """With a dump unfinished on the socket, do() goes through the engine
    (its reply copied): both get everything."""
    netns.batch(["link add va0 type veth peer name vb0"])
    with spec.open("rt-link", netns=netns.path, rx_buffers=1, rx_bufsize=4096) as fam:
        ref = [d["ifname"] for d in fam.dump("getlink")]
        it = fam.dump_iter("getlink")
        first = next(it)
        assert fam.sock._e.waiters  # the dump's: do() goes through the engine
        one = fam.do("getlink", {"ifname": "vb0"})
        rest = [d["ifname"] for d in it]
        assert fam.do("getlink", {"ifi-index": 1})["ifname"] == "lo"  # type: ignore[index]
    assert [first["ifname"], *rest] == ref
    assert one is not None and one["ifname"] == "vb0"


def test_do_on_generic_netlink() -> None:
    """A genl family: the genlmsghdr framed in C, the reply's command read
    from the receive memory."""
    with spec.open("nlctrl") as fam:
        assert c_framed(fam, "getfamily", {"family-name": "nlctrl"}) == py_framed(
            fam, "getfamily", {"family-name": "nlctrl"})
        got = fam.do("getfamily", {"family-name": "nlctrl"})
        assert got is not None and got["family-id"] == fam.id == 0x10
        with pytest.raises(nlfast.NetlinkError) as e:
            fam.do("getfamily", {"family-name": "no-such-family"})
        assert e.value.code == errno.ENOENT


def test_create_makes_a_new_object_once(netns: Netns) -> None:
    """create() is do() with NLM_F_CREATE | NLM_F_EXCL: the link is made, and
    a second create of the same name is the kernel's EEXIST; do() without
    the flags on a name that does not exist is its ENODEV."""
    with spec.open("rt-link", netns=netns.path) as fam:
        assert fam.create("newlink", {"ifname": "nlf1", "linkinfo": {"kind": "veth"}}) is None
        assert netns.ip_json("link", "show", "nlf1")[0]["ifname"] == "nlf1"
        with pytest.raises(nlfast.NetlinkError) as ei:
            fam.create("newlink", {"ifname": "nlf1", "linkinfo": {"kind": "veth"}})
        assert ei.value.code == errno.EEXIST
        with pytest.raises(nlfast.NetlinkError) as ei:
            fam.do("newlink", {"ifname": "nlf9", "linkinfo": {"kind": "veth"}})
        assert ei.value.code == errno.ENODEV
