"""nlfast.genl against the host kernel's generic netlink controller, with
iproute2's `genl ctrl` as an independent reference."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

import nlfast
from nlfast import attrs, genl

from .conftest import Netns


def genl_ctrl(*args: str) -> dict[str, dict[str, Any]]:
    """`genl ctrl ...` parsed: {name: {id, version, hdrsize, maxattr, ops, groups}}."""
    out = subprocess.run(["genl", "ctrl", *args], check=True, capture_output=True,
                         text=True).stdout
    fams: dict[str, dict[str, Any]] = {}
    for block in re.split(r"^Name: ", out, flags=re.M)[1:]:
        name = block.split()[0]
        m = re.search(r"ID: (0x[0-9a-f]+)\s+Version: (0x[0-9a-f]+)\s+header size: (\d+)\s+"
                      r"max attribs: (\d+)", block)
        assert m, block
        ops: dict[int, int] = {}
        cmds, _, groups_text = block.partition("multicast groups:")
        for op, caps in re.findall(r"#\d+:\s+ID-(0x[0-9a-f]+)\s*\n(?:\s*Capabilities \((0x[0-9a-f]+)\))?",
                                   cmds):
            ops[int(op, 16)] = int(caps, 16) if caps else 0
        groups = {g: int(i, 16) for i, g in re.findall(r"ID-(0x[0-9a-f]+)\s+name: (\S+)", groups_text)}
        fams[name] = dict(id=int(m[1], 16), version=int(m[2], 16), hdrsize=int(m[3]),
                          maxattr=int(m[4]), ops=ops, groups=groups)
    return fams


needs_genl = pytest.mark.skipif(shutil.which("genl") is None, reason="iproute2's genl missing")


def as_ref(f: genl.Family) -> dict[str, Any]:
    # iproute2 prints an operation's flags only for a family of version >= 2
    ops = f.ops if f.version >= 2 else dict.fromkeys(f.ops, 0)
    return dict(id=f.id, version=f.version, hdrsize=f.hdrsize, maxattr=f.maxattr,
                ops=ops, groups=f.groups)


@needs_genl
def test_nlctrl_matches_genl_ctrl() -> None:
    ref = genl_ctrl("get", "name", "nlctrl")["nlctrl"]
    with nlfast.Socket(nlfast.NETLINK_GENERIC) as s:
        f = genl.family(s, "nlctrl")
    assert f.name == "nlctrl"
    assert f.id == genl.GENL_ID_CTRL
    assert as_ref(f) == ref
    assert f.ops[genl.CTRL_CMD_GETFAMILY] & genl.GENL_CMD_CAP_DO
    assert f.ops[genl.CTRL_CMD_GETFAMILY] & genl.GENL_CMD_CAP_DUMP
    assert f.group("notify") == ref["groups"]["notify"]


@needs_genl
@pytest.mark.parametrize("name", ["ethtool", "netdev"])
def test_family_matches_genl_ctrl(name: str) -> None:
    """ethtool and netdev, which every kernel nlfast supports has (devlink
    is left out: many kernels, this host's among them, build it out)."""
    ref = genl_ctrl("list")
    assert name in ref, f"this kernel has no {name} generic netlink family"
    with nlfast.Socket(nlfast.NETLINK_GENERIC) as s:
        f = genl.family(s, name)
    assert as_ref(f) == ref[name]


def test_host_has_a_real_family_beyond_nlctrl() -> None:
    # by nlfast itself, not only by iproute2's genl (which the test above needs)
    assert Path("/sys/class/net/lo").exists()
    with nlfast.Socket(nlfast.NETLINK_GENERIC) as s:
        names = genl.families(s)
    assert {"nlctrl", "ethtool", "netdev"} <= set(names), sorted(names)


@needs_genl
def test_dump_of_all_families_matches_genl_ctrl_list() -> None:
    ref = genl_ctrl("list")
    with nlfast.Socket(nlfast.NETLINK_GENERIC) as s:
        got = {n: as_ref(f) for n, f in genl.families(s).items()}
    assert got == ref


def test_cached_per_socket() -> None:
    with nlfast.Socket(nlfast.NETLINK_GENERIC) as s:
        a = genl.family(s, "nlctrl")
        assert genl.family(s, "nlctrl") is a
        assert genl.family(s, "nlctrl", refresh=True) is not a
    with nlfast.Socket(nlfast.NETLINK_GENERIC) as s2:
        assert genl.family(s2, "nlctrl") is not a


def test_family_by_id() -> None:
    with nlfast.Socket(nlfast.NETLINK_GENERIC) as s:
        assert genl.family_by_id(s, genl.GENL_ID_CTRL).name == "nlctrl"
        with pytest.raises(genl.FamilyNotFoundError, match="id 1000"):
            genl.family_by_id(s, 1000)


def test_missing_family_named() -> None:
    with nlfast.Socket(nlfast.NETLINK_GENERIC) as s:
        with pytest.raises(genl.FamilyNotFoundError,
                           match="no generic netlink family 'nosuchfam' in this namespace"):
            genl.family(s, "nosuchfam")
        with pytest.raises(LookupError):
            genl.family(s, "nosuchfam")


def test_missing_group_named() -> None:
    with nlfast.Socket(nlfast.NETLINK_GENERIC) as s:
        with pytest.raises(genl.GroupNotFoundError,
                           match=r"family 'nlctrl' has no multicast group 'nope'.*notify"):
            genl.subscribe(s, "nlctrl:nope")
        with pytest.raises(genl.FamilyNotFoundError, match="'nosuchfam'"):
            genl.subscribe(s, "nosuchfam:notify")
        with pytest.raises(ValueError, match="'family:group'"):
            genl.subscribe(s, "nlctrl")


def test_bad_arguments() -> None:
    with nlfast.Socket(nlfast.NETLINK_ROUTE) as r:
        with pytest.raises(ValueError, match="NETLINK_GENERIC"):
            genl.family(r, "nlctrl")
    with nlfast.Socket(nlfast.NETLINK_GENERIC) as s:
        with pytest.raises(ValueError, match="under 16 bytes"):
            genl.family(s, "x" * 16)
        with pytest.raises(ValueError, match="non-empty"):
            genl.family(s, "")
    with pytest.raises(ValueError, match=r"cmd must be an int in 0\.\.255"):
        genl.genlmsghdr(256)


def test_genlmsghdr_built_and_parsed() -> None:
    assert genl.genlmsghdr(3, 2) == b"\x03\x02\x00\x00"
    with nlfast.Socket(nlfast.NETLINK_GENERIC) as s:
        f = genl.family(s, "nlctrl")
        req = f.message(genl.CTRL_CMD_GETFAMILY,
                        [attrs.string(genl.CTRL_ATTR_FAMILY_NAME, "nlctrl")])
        (reply,) = s.request(req)
        cmd, version, a = genl.parse(reply)
        assert cmd == genl.CTRL_CMD_NEWFAMILY
        assert version == f.version
        assert a.u16(genl.CTRL_ATTR_FAMILY_ID) == genl.GENL_ID_CTRL
        with pytest.raises(nlfast.DecodeError, match="genlmsghdr"):
            genl.parse(reply, hdrsize=100000)


def test_subscribe_by_name_receives_notifications(netns: Netns) -> None:
    """netdev:mgmt by name in a private namespace: a new link there brings a
    notification from the netdev family, carrying the link's ifindex."""
    with nlfast.Socket(nlfast.NETLINK_GENERIC, netns=netns.path) as s:
        fam = genl.family(s, "netdev")
        (num,) = genl.subscribe(s, "netdev:mgmt")
        assert num == fam.groups["mgmt"]
        netns.ip("link", "add", "nlfa0", "type", "veth", "peer", "name", "nlfb0")
        want = {d["ifindex"] for d in netns.ip_json("link", "show")
                if d["ifname"] in ("nlfa0", "nlfb0")}
        got: set[int] = set()
        while got != want:
            for m in s.recv(timeout=5):
                assert m.type == fam.id
                _cmd, _ver, a = genl.parse(m, fam.hdrsize)
                got.add(a.u32(1))  # NETDEV_A_DEV_IFINDEX
            assert got <= want


def test_resolved_in_the_sockets_namespace(netns: Netns) -> None:
    with nlfast.Socket(nlfast.NETLINK_GENERIC, netns=netns.path) as s:
        f = genl.family(s, "nlctrl")
    assert f.id == genl.GENL_ID_CTRL
