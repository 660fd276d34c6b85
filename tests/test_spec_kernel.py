"""The shipped specs against the host kernel, in private namespaces: values
decoded by name are checked against `ip -j`, and requests encoded from dicts
change what `ip` then shows."""

from __future__ import annotations

import ipaddress
import time

import pytest

import nlfast
from nlfast import genl, rtnl, spec

from .conftest import Netns


def veths(ns: Netns, n: int = 2) -> None:
    ns.batch([f"link add va{i} type veth peer name vb{i}" for i in range(n)]
             + ["link set va0 up", "link set vb0 up", "link set lo up",
                "link set va0 mtu 1400", "link property add dev va0 altname nlfast-alt-a0",
                "link property add dev va0 altname nlfast-alt-a1"])
    settle(ns)


def settle(ns: Netns) -> None:
    """Operstate and IPv6 link-local addresses follow the carrier
    asynchronously: waits for them on va0/vb0, so two readers see one state."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        up = {d["ifname"]: d["operstate"] for d in ns.ip_json("link", "show")}
        ll = [a for d in ns.ip_json("-6", "addr", "show", "scope", "link")
              for a in d["addr_info"]]
        if up.get("va0") == up.get("vb0") == "UP" and len(ll) >= 2:
            return
        time.sleep(0.05)


def test_getlink_dump_matches_ip(netns: Netns) -> None:
    veths(netns)
    ref = {d["ifname"]: d for d in netns.ip_json("-d", "link", "show")}
    with spec.open("rt-link", netns=netns.path) as fam:
        links = fam.dump("getlink")
    assert {link["ifname"] for link in links} == set(ref)
    for link in links:
        r = ref[link["ifname"]]
        assert link["ifi-index"] == r["ifindex"]
        assert link["mtu"] == r["mtu"]
        assert link["txqlen"] == r["txqlen"]
        assert link["operstate"].upper() == r["operstate"]
        assert link["address"] == r["address"]
        assert ("up" in link["ifi-flags"]) == ("UP" in r["flags"])
        assert link.get("linkinfo", {}).get("kind") == r.get("linkinfo", {}).get("info_kind")
        assert link.get("prop-list", {}).get("alt-ifname", []) == r.get("altnames", [])
        assert link["stats64"]["rx-bytes"] >= 0
    assert next(x for x in links if x["ifname"] == "va0")["prop-list"]["alt-ifname"] == [
        "nlfast-alt-a0", "nlfast-alt-a1"]


def test_getlink_do_by_index_and_name(netns: Netns) -> None:
    veths(netns, 1)
    (va0,) = netns.ip_json("link", "show", "va0")
    with spec.open("rt-link", netns=netns.path) as fam:
        by_index = fam.do("getlink", {"ifi-index": va0["ifindex"]})
        by_name = fam.do("getlink", {"ifname": "va0"})
        with pytest.raises(nlfast.NetlinkError) as e:
            fam.do("getlink", {"ifname": "nosuchlink"})
    assert e.value.code == 19
    assert by_index is not None and by_name is not None
    assert by_index["ifname"] == "va0" and by_name["ifi-index"] == va0["ifindex"]
    assert by_index["mtu"] == 1400


def test_newlink_setlink_dellink_by_name(netns: Netns) -> None:
    """A veth pair made from a dict (linkinfo with a veth sub-message), its MTU
    changed and removed; `ip` sees each step."""
    with spec.open("rt-link", netns=netns.path) as fam:
        assert fam.do("newlink", {"ifname": "nlf0", "linkinfo": {
            "kind": "veth", "data": {"peer-info": {"ifi-flags": []}}}},
            flags=spec.NEW_FLAGS) is None
        (made,) = netns.ip_json("-d", "link", "show", "nlf0")
        assert made["linkinfo"]["info_kind"] == "veth"
        fam.do("setlink", {"ifi-index": made["ifindex"], "mtu": 1280,
                           "address": "02:00:00:00:00:42"})
        (changed,) = netns.ip_json("link", "show", "nlf0")
        assert changed["mtu"] == 1280 and changed["address"] == "02:00:00:00:00:42"
        fam.do("dellink", {"ifname": "nlf0"})
    assert "nlf0" not in {d["ifname"] for d in netns.ip_json("link", "show")}


def test_getaddr_dump_matches_ip(netns: Netns) -> None:
    veths(netns)
    netns.batch(["addr add 10.9.0.1/24 dev va0", "addr add 10.9.1.1/16 dev va0 label va0:x",
                 "addr add 2001:db8::1/64 dev va0 nodad", "addr add 10.9.2.1/32 dev vb0"])
    ref = {(a["local"], a["prefixlen"]): (d["ifindex"], a)
           for d in netns.ip_json("addr", "show") for a in d["addr_info"]}
    with spec.open("rt-addr", netns=netns.path) as fam:
        got = fam.dump("getaddr")
    assert {(a["local"] if "local" in a else a["address"], a["ifa-prefixlen"]) for a in got} \
        == set(ref)
    for a in got:
        key = (a.get("local", a["address"]), a["ifa-prefixlen"])
        ifindex, r = ref[key]
        assert a["ifa-index"] == ifindex
        assert a["ifa-scope"] == {"global": "universe"}.get(r["scope"], r["scope"])
        assert a["ifa-family"] == (2 if r["family"] == "inet" else 10)
        if "label" in r:
            assert a["label"] == r["label"]
        if key[0] == "2001:db8::1":
            assert "nodad" in a["flags"] and "permanent" in a["flags"]


def test_newaddr_deladdr_by_name(netns: Netns) -> None:
    veths(netns, 1)
    (va0,) = netns.ip_json("link", "show", "va0")
    with spec.open("rt-addr", netns=netns.path) as fam:
        fam.do("newaddr", {"ifa-family": 2, "ifa-prefixlen": 28, "ifa-index": va0["ifindex"],
                           "local": "10.44.0.5", "address": "10.44.0.5",
                           "label": "va0"}, flags=spec.NEW_FLAGS)
        (d,) = netns.ip_json("-4", "addr", "show", "va0")
        assert [(a["local"], a["prefixlen"]) for a in d["addr_info"]] == [("10.44.0.5", 28)]
        fam.do("deladdr", {"ifa-family": 2, "ifa-prefixlen": 28, "ifa-index": va0["ifindex"],
                           "local": "10.44.0.5"})
    assert [a for d in netns.ip_json("-4", "addr", "show", "va0") for a in d["addr_info"]] == []


def test_getroute_main_table_matches_ip(netns: Netns) -> None:
    veths(netns)
    netns.batch(["addr add 10.9.0.1/24 dev va0", "route add 10.77.0.0/16 via 10.9.0.2",
                 "route add 10.78.0.0/24 dev va0 metric 7", "route add default via 10.9.0.254"])
    ref = netns.ip_json("route", "show", "table", "main")
    with spec.open("rt-route", netns=netns.path) as fam:
        routes = [r for r in fam.dump("getroute", {"rtm-family": 2})
                  if r["table"] == rtnl.RT_TABLE_MAIN]
    assert len(routes) == len(ref)

    def key(dst: str, plen: int) -> str:
        return "default" if plen == 0 else str(ipaddress.ip_network(f"{dst}/{plen}"))

    by_dst = {key(r.get("dst", "0.0.0.0"), r["rtm-dst-len"]): r for r in routes}
    for r in ref:
        got = by_dst[r["dst"] if "/" in r["dst"] or r["dst"] == "default" else f"{r['dst']}/32"]
        assert got.get("gateway") == r.get("gateway")
        assert got["rtm-protocol"] == r.get("protocol", "boot")
        assert got.get("priority") == r.get("metric")
        assert got["rtm-scope"] == {"global": "universe"}.get(r.get("scope", "global"),
                                                               r.get("scope"))


def test_newroute_delroute_by_name(netns: Netns) -> None:
    veths(netns, 1)
    netns.ip("addr", "add", "10.9.0.1/24", "dev", "va0")
    (va0,) = netns.ip_json("link", "show", "va0")
    route = {"rtm-family": 2, "rtm-dst-len": 16, "rtm-table": rtnl.RT_TABLE_MAIN,
             "rtm-protocol": "static", "rtm-scope": "universe", "rtm-type": "unicast",
             "dst": "10.55.0.0", "gateway": "10.9.0.9", "oif": va0["ifindex"],
             "priority": 33}
    with spec.open("rt-route", netns=netns.path) as fam:
        fam.do("newroute", route, flags=spec.NEW_FLAGS)
        (r,) = netns.ip_json("route", "show", "10.55.0.0/16")
        assert (r["gateway"], r["metric"], r["protocol"]) == ("10.9.0.9", 33, "static")
        got = fam.do("getroute", {"rtm-family": 2, "rtm-dst-len": 32, "dst": "10.55.1.2"})
        assert got is not None and got["gateway"] == "10.9.0.9"
        fam.do("delroute", {k: route[k] for k in ("rtm-family", "rtm-dst-len", "rtm-table",
                                                  "dst")})
    assert netns.ip_json("route", "show", "10.55.0.0/16") == []


def test_getneigh_matches_ip(netns: Netns) -> None:
    veths(netns)
    netns.batch(["addr add 10.9.0.1/24 dev va0",
                 "neigh add 10.9.0.7 lladdr 02:00:00:00:00:07 dev va0 nud permanent",
                 "neigh add 10.9.0.8 lladdr 02:00:00:00:00:08 dev va0 nud stale"])
    ref = {n["dst"]: n for n in netns.ip_json("-4", "neigh", "show", "dev", "va0")}
    (va0,) = netns.ip_json("link", "show", "va0")
    with spec.open("rt-neigh", netns=netns.path) as fam:
        got = {n["dst"]: n for n in fam.dump("getneigh", {"ndm-family": 2})
               if n["ndm-ifindex"] == va0["ifindex"]}
    assert set(got) == set(ref)
    for dst, n in got.items():
        assert n["lladdr"] == ref[dst]["lladdr"]
        assert [s.upper() for s in n["ndm-state"]] == ref[dst]["state"]


def test_link_events_by_group_name(netns: Netns) -> None:
    with spec.open("rt-link", netns=netns.path) as fam:
        fam.subscribe("rtnlgrp-link")
        netns.ip("link", "add", "evA", "type", "veth", "peer", "name", "evB")
        seen = set()
        for name, msg in fam.events(timeout=2):
            assert name in ("newlink-ntf", "dellink-ntf")
            seen.add(msg["ifname"])
            if seen >= {"evA", "evB"}:
                break
    assert seen >= {"evA", "evB"}


def test_rtnl_rtmsg_filters_a_real_dump(netns: Netns) -> None:
    """The hand-built rtmsg header: an AF_INET6 dump brings only IPv6 routes."""
    veths(netns, 1)
    netns.batch(["addr add 10.9.0.1/24 dev va0", "addr add 2001:db8::1/64 dev va0 nodad"])
    with nlfast.Socket(nlfast.NETLINK_ROUTE, netns=netns.path) as s:
        msgs = list(s.dump_messages(nlfast.Message(
            rtnl.RTM_GETROUTE, header=rtnl.rtmsg(family=rtnl.AF_INET6))))
        fams = {rtnl.rtmsg_fields(m.payload)["rtm_family"] for m in msgs}
        neigh = list(s.dump_messages(nlfast.Message(
            rtnl.RTM_GETNEIGH, header=rtnl.ndmsg(family=rtnl.AF_INET))))
        assert all(rtnl.ndmsg_fields(m.payload)["ndm_family"] == rtnl.AF_INET for m in neigh)
    assert fams == {rtnl.AF_INET6}


def test_nlctrl_spec_matches_genl() -> None:
    """The genetlink-legacy spec: indexed arrays and type-value nests from the kernel."""
    with spec.open("nlctrl") as fam:
        f = fam.do("getfamily", {"family-name": "nlctrl"})
        assert f is not None
        ref = genl.family(fam.sock, "nlctrl")
        assert f["family-id"] == ref.id and f["version"] == ref.version
        assert {o["id"]: o["flags"] for o in f["ops"]} == {
            i: fam.spec.enums["op-flags"].decode(v) for i, v in ref.ops.items()}
        assert {g["name"]: g["id"] for g in f["mcast-groups"]} == ref.groups
        pol = fam.dump("getpolicy", {"family-name": "nlctrl"})
    policies = [p["policy"] for p in pol if "policy" in p]
    # CTRL_ATTR_FAMILY_ID is a u16 in policy 0 of nlctrl's getfamily
    assert any(p.get(0, {}).get(genl.CTRL_ATTR_FAMILY_ID, {}).get("type") == "u16"
               for p in policies)
    assert any("op-policy" in p for p in pol)


def test_genl_spec_resolves_family_and_groups() -> None:
    with spec.open("nlctrl") as fam:
        assert fam.id == genl.GENL_ID_CTRL
        assert fam.group("notify") == genl.family(fam.sock, "nlctrl").group("notify")
        with pytest.raises(KeyError, match="no multicast group 'nope'"):
            fam.group("nope")


def test_column_by_name(netns: Netns) -> None:
    veths(netns)
    ref = {d["ifname"]: d["mtu"] for d in netns.ip_json("link", "show")}
    with spec.open("rt-link", netns=netns.path) as fam:
        got: dict[str, int] = {}
        for batch in fam.batches("getlink"):
            got.update(zip(fam.column(batch, "ifname"), fam.column(batch, "mtu")))
    assert got == ref


def test_c_plan_decodes_real_dumps_as_python_does(netns: Netns) -> None:
    veths(netns)
    # a static neighbour: the table is otherwise empty or not, by timing
    netns.batch(["addr add 10.9.0.1/24 dev va0", "route add 10.77.0.0/16 via 10.9.0.2",
                 "neigh add 10.9.0.7 lladdr 02:00:00:00:00:07 dev va0 nud permanent"])
    for name, op, values in (("rt-link", "getlink", None), ("rt-addr", "getaddr", None),
                             ("rt-route", "getroute", None), ("rt-neigh", "getneigh", None)):
        with spec.open(name, netns=netns.path) as fam:
            n = 0
            for batch in fam.batches(op, values):
                for m in batch:
                    raw = bytes(m.data())
                    c, py = fam.spec.decode(m.type, m.payload), fam.spec.decode_py(
                        m.type, m.payload)
                    assert c == py, (name, raw.hex(), c, py)
                    n += 1
            assert n
    with spec.open("nlctrl") as fam:
        for batch in fam.batches("getfamily"):
            for m in batch:
                assert fam.spec.decode(m.type, m.payload) == fam.spec.decode_py(
                    m.type, m.payload)


def test_columns_match_to_dict(netns: Netns) -> None:
    """Every kind of column (ints, enums, strings, hinted binary, structs, nests,
    fixed-header fields) equals the same value of the message's dict."""
    veths(netns)
    with spec.open("rt-link", netns=netns.path) as fam:
        for batch in fam.batches("getlink"):
            dicts = [fam.to_dict(m) for m in batch]
            for name in ("ifname", "mtu", "operstate", "address", "stats64", "linkinfo",
                         "prop-list", "ifi-index", "ifi-flags", "link-netnsid"):
                assert fam.column(batch, name) == [d.get(name) for d in dicts], name
        with pytest.raises(KeyError, match="no attribute or field 'nosuch'"):
            for batch in fam.batches("getlink"):
                fam.column(batch, "nosuch")
