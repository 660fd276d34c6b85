"""``nlfast monitor --spec``: events of real kernel families decoded by the
names of a spec (nlfast's own, a path, the kernel tree's), checked against
``ip -j``; and the module's family numbers the CLI takes from its spec."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from nlfast import family, spec

from .conftest import Netns
from .test_cli import cli, load_json, start_monitor


def records(p: subprocess.Popen[str]) -> list[dict[str, Any]]:
    try:
        out, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 0, err
    assert "Traceback" not in err
    return [json.loads(line) for line in out.splitlines()]


def veth_events(netns: Netns, *args: str) -> tuple[list[dict[str, Any]], dict[str, int]]:
    p = start_monitor("--netns", netns.name, *args, "--count", "2", "--json",
                      "--timeout", "30")
    netns.ip("link", "add", "name", "sa", "type", "veth", "peer", "name", "sb")
    recs = records(p)
    ifindex = {d["ifname"]: d["ifindex"] for d in netns.ip_json("link", "show")}
    return recs, ifindex


@pytest.mark.parametrize("how", ["name", "path"])
def test_monitor_spec_rt_link(netns: Netns, how: str) -> None:
    which = "rt-link" if how == "name" else str(spec.find("rt-link"))
    recs, ifindex = veth_events(netns, "--spec", which, "rtnlgrp-link")
    ops = spec.load("rt-link").ops
    for r in recs:
        assert r["type"] == 16  # RTM_NEWLINK
        assert r["type_name"] in ops and ops[r["type_name"]].rsp_value == 16
        a = r["attrs"]
        assert a["ifi-index"] == ifindex[a["ifname"]]
        assert a["linkinfo"]["kind"] == "veth"
        assert isinstance(a["address"], str) and len(a["address"]) == 17
    assert {r["attrs"]["ifname"] for r in recs} == {"sa", "sb"}


def test_monitor_spec_kernel_tree_rt_link(netns: Netns, kernel_specs: Path) -> None:
    """The kernel's own rt_link spec, by path; the route groups by their usual names too."""
    recs, ifindex = veth_events(netns, "--spec", str(kernel_specs / "rt_link.yaml"), "link")
    assert {r["attrs"]["ifname"] for r in recs} == {"sa", "sb"}
    for r in recs:
        assert r["attrs"]["ifi-index"] == ifindex[r["attrs"]["ifname"]]
        assert r["attrs"]["linkinfo"]["kind"] == "veth"


@pytest.mark.parametrize("source", ["user", "kernel-tree"])
def test_monitor_spec_generic_family_group_by_name(netns: Netns, tmp_path: Path,
                                                   request: pytest.FixtureRequest,
                                                   source: str) -> None:
    """A generic netlink spec: the family and its group resolved through
    nlctrl in the namespace, the events decoded by the spec: netdev, by a
    user's small spec of the uapi's numbers and by the kernel tree's."""
    if source == "user":
        pytest.importorskip("yaml")
        path = tmp_path / "netdev.yaml"
        path.write_text(NETDEV_SPEC)
    else:
        path = request.getfixturevalue("kernel_specs") / "netdev.yaml"
    recs, ifindex = veth_events(netns, "--spec", str(path), "mgmt")
    assert {r["type_name"] for r in recs} == {"dev-add-ntf"}
    assert {r["attrs"]["ifindex"] for r in recs} == {ifindex["sa"], ifindex["sb"]}
    for r in recs:  # flags by name (none yet: a veth gains them once up)
        assert isinstance(r["attrs"]["xdp-features"], list)


# linux/netdev.h: NETDEV_A_DEV_IFINDEX 1, _XDP_FEATURES 3; NETDEV_CMD_DEV_GET 1,
# _DEV_ADD_NTF 2; the xdp-act flags from bit 0
NETDEV_SPEC = """
name: netdev
protocol: genetlink
definitions:
  - {name: xdp-act, type: flags, entries: [basic, redirect, ndo-xmit, xsk-zerocopy,
                                           hw-offload, rx-sg, ndo-xmit-sg]}
attribute-sets:
  - name: dev
    attributes:
      - {name: ifindex, type: u32}
      - {name: pad, type: pad}
      - {name: xdp-features, type: u64, enum: xdp-act}
operations:
  list:
    - name: dev-get
      attribute-set: dev
      do: {request: {attributes: [ifindex]}, reply: {attributes: [ifindex, xdp-features]}}
      dump: {reply: {attributes: [ifindex, xdp-features]}}
    - name: dev-add-ntf
      notify: dev-get
      mcgrp: mgmt
mcast-groups:
  list:
    - {name: mgmt}
"""


def test_monitor_spec_text_lines(netns: Netns) -> None:
    p = start_monitor("--netns", netns.name, "--spec", "rt-addr", "ipv4-ifaddr",
                      "--count", "1", "--timeout", "30")
    try:
        netns.ip("addr", "add", "10.11.12.13/24", "dev", "lo")
        out, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 0, err
    (line,) = out.splitlines()
    name = line.split()[0]
    assert spec.load("rt-addr").ops[name].rsp_value == 20  # RTM_NEWADDR
    assert "local=10.11.12.13" in line and "ifa-prefixlen=24" in line
    assert "ifa-index=1" in line and "label=lo" in line


@pytest.mark.parametrize(("argv", "says"), [
    (["--spec", "nosuchspec", "link"], "argument --spec: no spec 'nosuchspec'"),
    (["--spec", "/nonexistent/x.yaml", "link"], "argument --spec: no spec file"),
    (["--spec", "rt-link", "--proto", "generic", "1"],
     "argument --proto: spec 'rt-link' is of protocol 0, not 16"),
    (["--spec", "rt-link", "nosuchgroup"], "unknown group 'nosuchgroup'"),
])
def test_monitor_spec_bad_arguments(argv: list[str], says: str) -> None:
    r = cli("monitor", *argv, "--timeout", "1", timeout=30)
    assert r.returncode == 2, (r.stdout, r.stderr)
    (line,) = r.stderr.strip().splitlines()
    assert says in line and "error:" in line
    assert r.stdout == ""


def test_cli_family_names_come_from_the_spec() -> None:
    """The module's family as the CLI sees it (types, attributes, groups):
    its spec, which agrees with the uapi header."""
    from nlfast.cli import family_spec, parse_proto
    from nlfast.cli.monitor import _FamilyNames, resolve_groups

    fam = family_spec()
    assert fam is spec.load("nlfast-family")
    names = _FamilyNames()
    header = {n: getattr(family, n) for n in family.names()}
    assert {v: header[k] for v, k in names.types.items()} == {v: v for v in names.types}
    assert {v: header[k] for v, k in names.attrs.items()} == {v: v for v in names.attrs}
    assert {v: header[k] for v, k in names.stats.items()} == {v: v for v in names.stats}
    assert len(names.types) == len(fam.ops)
    groups = resolve_groups(parse_proto("family"), ["events", "hello", "flood", "spare"])
    assert list(groups) == [family.NLFAM_GRP_EVENTS, family.NLFAM_GRP_HELLO,
                            family.NLFAM_GRP_FLOOD, family.NLFAM_GRP_SPARE]


@pytest.mark.parametrize("name", ["mcast-hello", "mcast_hello", "MCAST-HELLO"])
def test_load_family_types_by_spec_name(name: str) -> None:
    """load --type by the spec's operation names (the header's spelling too),
    sent over USERSOCK multicast (family=2): the module cannot load here."""
    s = load_json("--proto", "family=2", "--group", "4", "--type", name, "--count", "3")
    assert s["type"] == family.NLFAM_MSG_MCAST_HELLO
    assert s["type_name"] == "NLFAM_MSG_MCAST_HELLO"
    assert s["sent"] == 3
