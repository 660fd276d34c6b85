"""The kernel's own published specs ($NLFAST_KERNEL_TREE) against the host
kernel: every family of that tree this kernel has, a real dump decoded by
the kernel's names and checked against a second source (ip -j, genl, /sys).

The host kernel lacks some families of the tree (devlink, dpll, ovs_*,
team, fou, handshake, nfsd, nftables: no nf_tables); tc's get
operations are do only and answer with NLM_F_ECHO.  rt-neigh is not in the tree (6.12): the
project's own spec round-trips it in tests/test_spec_kernel.py.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from nlfast import spec
from nlfast.constants import NLM_F_ECHO

from .conftest import Netns
from .test_genl import genl_ctrl
from .test_spec_kernel import settle, veths

OPERSTATES = ["UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP"]


def kspec(kernel_specs: Path, name: str) -> spec.Spec:
    path = kernel_specs / f"{name}.yaml"
    assert path.is_file(), f"the kernel tree has no {path}"
    return spec.load(str(path))


def in_ns(ns: Netns, *cmd: str) -> str:
    return subprocess.run(["ip", "netns", "exec", ns.name, *cmd], check=True,
                          capture_output=True, text=True).stdout


def test_rt_link(kernel_specs: Path, netns: Netns) -> None:
    veths(netns)
    ref = {d["ifname"]: d for d in netns.ip_json("-d", "link", "show")}
    with spec.open(kspec(kernel_specs, "rt_link"), netns=netns.path) as fam:
        links = fam.dump("getlink")
        one = fam.do("getlink", {"ifname": "va0"})
    assert {x["ifname"] for x in links} == set(ref)
    for x in links:
        r = ref[x["ifname"]]
        assert x["ifi-index"] == r["ifindex"]
        assert x["mtu"] == r["mtu"] and x["txqlen"] == r["txqlen"]
        assert x["address"] == r["address"]
        assert OPERSTATES[x["operstate"]] == r["operstate"]
        assert ("up" in x["ifi-flags"]) == ("UP" in r["flags"])
        assert x.get("linkinfo", {}).get("kind") == r.get("linkinfo", {}).get("info_kind")
        assert x.get("prop-list", {}).get("alt-ifname", []) == r.get("altnames", [])
        if "link" in r:  # a veth's peer
            assert x["link"] == ref[r["link"]]["ifindex"]
    assert one is not None and one["ifi-index"] == ref["va0"]["ifindex"]
    assert one["mtu"] == 1400


def test_rt_addr(kernel_specs: Path, netns: Netns) -> None:
    veths(netns)
    netns.batch(["addr add 10.9.0.1/24 dev va0", "addr add 10.9.1.1/16 dev va0 label va0:x",
                 "addr add 2001:db8::1/64 dev va0 nodad"])
    ref = {(a["local"], a["prefixlen"]): (d["ifindex"], a)
           for d in netns.ip_json("addr", "show") for a in d["addr_info"]}
    with spec.open(kspec(kernel_specs, "rt_addr"), netns=netns.path) as fam:
        got = fam.dump("getaddr")
    keys = {(a.get("ifa-local", a["ifa-address"]), a["ifa-prefixlen"]) for a in got}
    assert keys == set(ref)
    for a in got:
        ifindex, r = ref[(a.get("ifa-local", a["ifa-address"]), a["ifa-prefixlen"])]
        assert a["ifa-index"] == ifindex
        assert a["ifa-family"] == (2 if r["family"] == "inet" else 10)
        if "label" in r:
            assert a["ifa-label"] == r["label"]
        assert a["ifa-cacheinfo"]["ifa-valid"] == r["valid_life_time"]


def test_rt_route(kernel_specs: Path, netns: Netns) -> None:
    veths(netns)
    netns.batch(["addr add 10.9.0.1/24 dev va0", "route add 10.77.0.0/16 via 10.9.0.2",
                 "route add 10.78.0.0/24 dev va0 metric 7", "route add default via 10.9.0.254"])
    ref = netns.ip_json("route", "show", "table", "main")
    with spec.open(kspec(kernel_specs, "rt_route"), netns=netns.path) as fam:
        routes = [r for r in fam.dump("getroute", {"rtm-family": 2})
                  if r.get("rta-table") == 254]
    assert len(routes) == len(ref)
    by_dst = {("default" if r["rtm-dst-len"] == 0 else
               str(ipaddress.ip_network(f"{r['rta-dst']}/{r['rtm-dst-len']}"))): r
              for r in routes}
    ifindex = {d["ifname"]: d["ifindex"] for d in netns.ip_json("link", "show")}
    for r in ref:
        got = by_dst[r["dst"] if "/" in r["dst"] or r["dst"] == "default" else f"{r['dst']}/32"]
        assert got.get("rta-gateway") == r.get("gateway")
        assert got.get("rta-priority") == r.get("metric")
        assert got["rta-oif"] == ifindex[r["dev"]]
        assert got["rtm-type"] == "unicast"


def test_nlctrl(kernel_specs: Path) -> None:
    ref = genl_ctrl("list")
    with spec.open(kspec(kernel_specs, "nlctrl")) as fam:
        got = {f["family-name"]: f for f in fam.dump("getfamily")}
    assert set(got) == set(ref)
    for name, f in got.items():
        r = ref[name]
        assert (f["family-id"], f["version"], f["hdrsize"], f["maxattr"]) == (
            r["id"], r["version"], r["hdrsize"], r["maxattr"])
        assert sorted(o["id"] for o in f.get("ops", [])) == sorted(r["ops"])
        assert {g["name"]: g["id"] for g in f.get("mcast-groups", [])} == r["groups"]


def test_netdev(kernel_specs: Path, netns: Netns) -> None:
    veths(netns)
    shown = netns.ip_json("link", "show")
    links = {d["ifindex"]: d["ifname"] for d in shown}
    with spec.open(kspec(kernel_specs, "netdev"), netns=netns.path) as fam:
        devs = fam.dump("dev-get")
        queues = fam.dump("queue-get")
        va0 = next(i for i, n in links.items() if n == "va0")
        one = fam.do("dev-get", {"ifindex": va0})
    assert {d["ifindex"] for d in devs} == set(links)
    assert one is not None and "basic" in one["xdp-features"]  # veth does XDP
    for d in shown:  # queues are listed for the links that are up
        ifindex, name = d["ifindex"], d["ifname"]
        sysq = in_ns(netns, "ls", f"/sys/class/net/{name}/queues").split() \
            if "UP" in d["flags"] else []
        mine = sorted(f"{q['type']}-{q['id']}" for q in queues if q["ifindex"] == ifindex)
        assert mine == sorted(sysq), name


def test_ethtool(kernel_specs: Path, netns: Netns) -> None:
    veths(netns)
    ifindex = {d["ifname"]: d["ifindex"] for d in netns.ip_json("link", "show")}
    with spec.open(kspec(kernel_specs, "ethtool"), netns=netns.path) as fam:
        modes = fam.do("linkmodes-get", {"header": {"dev-name": "va0"}})
        chans = {c["header"]["dev-name"]: c for c in fam.dump("channels-get")}
        info = fam.dump("linkinfo-get")
    assert modes is not None
    assert modes["header"] == {"dev-index": ifindex["va0"], "dev-name": "va0"}
    speed, duplex = in_ns(netns, "cat", "/sys/class/net/va0/speed",
                          "/sys/class/net/va0/duplex").split()
    assert modes["speed"] == int(speed)
    assert modes["duplex"] == {"full": 1, "half": 0}[duplex]
    # lo has no channels operation: the veths answer
    assert set(chans) == set(ifindex) - {"lo"}
    for name, c in chans.items():
        sysq = in_ns(netns, "ls", f"/sys/class/net/{name}/queues").split()
        assert c["rx-count"] == sum(q.startswith("rx-") for q in sysq)
        assert c["tx-count"] == sum(q.startswith("tx-") for q in sysq)
    assert {i["header"]["dev-index"] for i in info} <= set(ifindex.values())
    assert {i["header"]["dev-name"] for i in info} >= {"va0", "vb0"}


def test_tcp_metrics(kernel_specs: Path, netns: Netns) -> None:
    veths(netns, 1)
    netns.ip("addr", "add", "10.9.0.1/24", "dev", "va0")
    settle(netns)
    # one TCP connection closed in the namespace leaves its metrics there
    code = ("import socket\n"
            "s = socket.socket(); s.bind(('10.9.0.1', 0)); s.listen()\n"
            "c = socket.create_connection(s.getsockname()); a, _ = s.accept()\n"
            "c.sendall(b'x' * 100000)\n"
            "n = 0\n"
            "while n < 100000: n += len(a.recv(65536))\n"
            "c.close(); a.close()\n")
    in_ns(netns, sys.executable, "-c", code)
    ref = {(m["dst"], m["source"]): m for m in netns.ip_json("tcp_metrics", "show")}
    assert ref
    with spec.open(kspec(kernel_specs, "tcp_metrics"), netns=netns.path) as fam:
        got = {(m["addr-ipv4"], m["saddr-ipv4"]): m for m in fam.dump("get")}
        one = fam.do("get", {"addr-ipv4": "10.9.0.1"})
    assert set(got) == set(ref)
    for key, m in got.items():
        r = ref[key]
        assert m["vals"]["cwnd"] == r["cwnd"]
        # the kernel keeps srtt in us << 3 and its variance << 2; ip shows seconds
        assert m["vals"]["rtt-us"] >> 3 == round(r["rtt"] * 1e6)
        assert m["vals"]["rttvar-us"] >> 2 == round(r["rttvar"] * 1e6)
    assert one is not None and one["vals"] == got[("10.9.0.1", "10.9.0.1")]["vals"]


def test_mptcp_pm(kernel_specs: Path, netns: Netns) -> None:
    veths(netns, 1)
    netns.batch(["addr add 10.9.0.1/24 dev va0", "addr add 10.9.0.2/24 dev va0",
                 "mptcp endpoint add 10.9.0.1 dev va0 signal id 5",
                 "mptcp endpoint add 10.9.0.2 dev va0 subflow id 6"])
    ref = {e["id"]: e for e in netns.ip_json("mptcp", "endpoint", "show")}
    assert set(ref) == {5, 6}
    ifindex = {d["ifname"]: d["ifindex"] for d in netns.ip_json("link", "show")}
    with spec.open(kspec(kernel_specs, "mptcp_pm"), netns=netns.path) as fam:
        got: dict[int, dict[str, Any]] = {e["addr"]["id"]: e["addr"]
                                          for e in fam.dump("get-addr")}
    assert set(got) == set(ref)
    for i, e in got.items():
        r = ref[i]
        assert str(ipaddress.IPv4Address(e["addr4"])) == r["address"]
        assert e["family"] == 2
        assert e["if-idx"] == ifindex[r["dev"]]
        # the spec gives flags as a plain u32: MPTCP_PM_ADDR_FLAG_SIGNAL 1, _SUBFLOW 2
        assert e["flags"] == (1 if r.get("signal") else 0) | (2 if r.get("subflow") else 0)


def test_tc(kernel_specs: Path, netns: Netns) -> None:
    """tc's get is do-only and answers only with NLM_F_ECHO, as the group's
    notification unicast back to the requester (still marked with the group):
    it must reach do(), not the event queue."""
    veths(netns)
    subprocess.run(["tc", "-n", netns.name, "qdisc", "add", "dev", "va0", "root", "handle",
                    "1:", "pfifo", "limit", "10"], check=True)
    shown = json.loads(subprocess.run(["tc", "-n", netns.name, "-j", "qdisc", "show", "dev",
                                       "va0"], check=True, capture_output=True,
                                      text=True).stdout)
    idx = netns.ip_json("link", "show", "va0")[0]["ifindex"]
    with spec.open(kspec(kernel_specs, "tc"), netns=netns.path) as fam:
        got = fam.do("getqdisc", {"family": 0, "ifindex": idx, "handle": 0,
                                  "parent": 0xFFFFFFFF, "info": 0}, flags=NLM_F_ECHO)
        assert got is not None
        assert fam.sock.events_queued == 0
    assert (got["kind"], got["ifindex"], got["handle"]) == (shown[0]["kind"], idx, 0x10000)
    assert shown[0]["handle"] == "1:" and shown[0]["options"]["limit"] == 10
    assert got["options"]["limit"] == 10
