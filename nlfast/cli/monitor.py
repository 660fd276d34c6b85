"""``nlfast monitor``: group names, message decoders, the receive loop."""

from __future__ import annotations

import argparse
import errno
import json
import os
import socket
import struct
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Callable

from nlfast import genl, rtnl
from nlfast.attrs import AttrSet
from nlfast.cli import (
    CTRL_ATTR_FAMILY_ID,
    CTRL_ATTR_FAMILY_NAME,
    GENL_HDRLEN,
    GENL_ID_CTRL,
    PROG,
    RTM_NAMES,
    Proto,
    UsageError,
    _drops,
    _strerror,
    c_name,
    errno_name,
    family_spec,
    load_spec,
    open_error,
    parse_proto,
)
from nlfast.constants import NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN
from nlfast.errors import DecodeError, TruncatedError
from nlfast.message import MessageView

if TYPE_CHECKING:
    from nlfast.spec import Spec

_NDM_IFINDEX = struct.Struct("=i")  # host order, as the kernel writes it

# linux/rtnetlink.h: {"link": RTNLGRP_LINK, "ipv4-ifaddr": ...}, as the shim was built
ROUTE_GROUPS: dict[str, int] = rtnl.rtnl_groups()

_AF_NAMES: dict[int, Any] = {int(socket.AF_INET): "inet", int(socket.AF_INET6): "inet6"}
_OPERSTATES = ("UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP")


# -- monitor ------------------------------------------------------------------------


def resolve_groups(proto: Proto, names: Sequence[str], spec: Spec | None = None,
                   netns: str | None = None) -> dict[int, str]:
    """{group number: label} of the groups named (names or numbers): the
    names of ``spec`` when given (a generic netlink family's resolved through
    nlctrl in ``netns``), else those the protocol is known by."""
    table: dict[str, int] = {}
    if proto.kind == "route":
        table = dict(ROUTE_GROUPS)
    elif proto.kind == "family":
        table = {k: v for k, v in family_spec().mcast_groups.items() if v is not None}
    if spec is not None:
        table.update(_spec_groups(spec, netns))
    rev = {v: k for k, v in reversed(table.items())}
    out: dict[int, str] = {}
    for name in names:
        key = name.strip().lower()
        if key not in table:
            key = key.replace("_", "-")
        if key not in table and key.startswith("rtnlgrp-"):
            key = key[len("rtnlgrp-"):]
        if key in table:
            g = table[key]
        else:
            try:
                g = int(key, 0)
            except ValueError:
                known = ", ".join(table) if table else "none: give numbers"
                raise UsageError(f"unknown group {name!r} for {proto.label} (known: {known})") \
                    from None
            if g < 1:
                raise UsageError(f"group {g}: groups are numbered from 1")
        out[g] = f"{rev[g]} ({g})" if g in rev else str(g)
    return out


def _spec_groups(spec: Spec, netns: str | None) -> dict[str, int]:
    """{name: number} of the spec's groups; a generic netlink family's
    come from nlctrl (the family's groups in this namespace)."""
    fixed = {k: v for k, v in spec.mcast_groups.items() if v is not None}
    if not spec.genl:
        return fixed
    from nlfast.socket import Socket

    try:
        with Socket(spec.protonum, netns=netns) as s:
            return dict(genl.family(s, spec.name).groups)
    except genl.FamilyNotFoundError as exc:
        raise UsageError(f"argument --spec: {exc}") from None


def _fmt_addr(b: bytes) -> str:
    if len(b) == 4:
        return socket.inet_ntop(socket.AF_INET, b)
    if len(b) == 16:
        return socket.inet_ntop(socket.AF_INET6, b)
    return ":".join(f"{x:02x}" for x in b)


def _mac(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


def _str(a: AttrSet, t: int) -> str | None:
    return a.str(t) if t in a else None


def _route_fields(m: MessageView) -> dict[str, Any]:
    t, p = m.type, m.payload
    f: dict[str, Any] = {}
    if rtnl.RTM_NEWLINK <= t <= rtnl.RTM_SETLINK and len(p) >= rtnl.IFINFOMSG_LEN:
        a = m.attrs(rtnl.IFINFOMSG_LEN)
        f["ifindex"] = rtnl.ifinfo_index(p)
        f["IFLA_IFNAME"] = _str(a, rtnl.IFLA_IFNAME)
        if rtnl.IFLA_MTU in a:
            f["IFLA_MTU"] = a.u32(rtnl.IFLA_MTU)
        if rtnl.IFLA_OPERSTATE in a:
            st = a.u8(rtnl.IFLA_OPERSTATE)
            f["IFLA_OPERSTATE"] = _OPERSTATES[st] if st < len(_OPERSTATES) else st
        if rtnl.IFLA_ADDRESS in a:
            f["IFLA_ADDRESS"] = _mac(a.bytes(rtnl.IFLA_ADDRESS))
        if rtnl.IFLA_MASTER in a:
            f["IFLA_MASTER"] = a.u32(rtnl.IFLA_MASTER)
        if rtnl.IFLA_LINKINFO in a:
            kind = _str(a.nested(rtnl.IFLA_LINKINFO), rtnl.IFLA_INFO_KIND)
            if kind:
                f["IFLA_INFO_KIND"] = kind
    elif rtnl.RTM_NEWADDR <= t <= rtnl.RTM_GETADDR and len(p) >= rtnl.IFADDRMSG_LEN:
        a = m.attrs(rtnl.IFADDRMSG_LEN)
        f["family"] = _AF_NAMES.get(p[0], p[0])
        f["prefixlen"] = p[1]
        f["ifindex"] = rtnl.ifaddr_index(p)
        for name, at in (("IFA_LOCAL", rtnl.IFA_LOCAL), ("IFA_ADDRESS", rtnl.IFA_ADDRESS)):
            if at in a:
                f[name] = _fmt_addr(a.bytes(at))
        label = _str(a, rtnl.IFA_LABEL)
        if label is not None:
            f["IFA_LABEL"] = label
    elif rtnl.RTM_NEWROUTE <= t <= rtnl.RTM_GETROUTE and len(p) >= rtnl.RTMSG_LEN:
        a = m.attrs(rtnl.RTMSG_LEN)
        f["family"] = p[0]
        f["dst_len"] = p[1]
        f["table"] = p[4]
        for name, at in (("RTA_DST", 1), ("RTA_GATEWAY", 5)):
            if at in a:
                f[name] = _fmt_addr(a.bytes(at))
        if 4 in a:
            f["RTA_OIF"] = a.u32(4)
    elif rtnl.RTM_NEWNEIGH <= t <= rtnl.RTM_GETNEIGH and len(p) >= rtnl.NDMSG_LEN:
        a = m.attrs(rtnl.NDMSG_LEN)
        f["ifindex"] = _NDM_IFINDEX.unpack_from(p, 4)[0]  # struct ndmsg: u8, u8, u16, int
        if 1 in a:
            f["NDA_DST"] = _fmt_addr(a.bytes(1))
        if 2 in a:
            f["NDA_LLADDR"] = _mac(a.bytes(2))
    return f


class _FamilyNames:
    """The module's family, by its spec, under the header's names."""

    def __init__(self) -> None:
        fam = family_spec()
        self.types: dict[int, str] = {}
        for name, op in fam.ops.items():
            if op.rsp_value is not None:
                self.types.setdefault(op.rsp_value, c_name("NLFAM_MSG_", name))
        self.attrs = {a.value: c_name("NLFAM_A_", a.name)
                      for a in fam.attr_sets["nlfam-attrs"].by_name.values()}
        self.stats = {a.value: c_name("NLFAM_STAT_", a.name)
                      for a in fam.attr_sets["stat-attrs"].by_name.values()}

    def fields(self, m: MessageView) -> dict[str, Any]:
        f: dict[str, Any] = {}
        a = m.attrs()
        for t, v in a:
            name = self.attrs.get(t, f"attr{t}")
            if name == "NLFAM_A_TEXT":
                b = bytes(v)
                f[name] = b.split(b"\0", 1)[0].decode(errors="replace")
            elif name == "NLFAM_A_DATA":
                f[name] = {"len": len(v), "head": bytes(v[:16]).hex()}
            elif name == "NLFAM_A_STATS":
                f[name] = {self.stats.get(st, f"stat{st}"): int.from_bytes(sv[:8], "little")
                           for st, sv in AttrSet(v)}
            elif len(v) == 4:
                f[name] = int.from_bytes(v, "little")
            elif name != "NLFAM_A_PAD":
                f[name] = bytes(v).hex()
        return f


def _generic_fields(m: MessageView) -> dict[str, Any]:
    p = m.payload
    if len(p) < GENL_HDRLEN:
        return {}
    f: dict[str, Any] = {"cmd": p[0], "version": p[1]}
    if m.type == GENL_ID_CTRL:
        a = m.attrs(GENL_HDRLEN)
        if CTRL_ATTR_FAMILY_ID in a:
            f["CTRL_ATTR_FAMILY_ID"] = a.u16(CTRL_ATTR_FAMILY_ID)
        name = _str(a, CTRL_ATTR_FAMILY_NAME)
        if name is not None:
            f["CTRL_ATTR_FAMILY_NAME"] = name
    return f


def _raw_fields(m: MessageView) -> dict[str, Any]:
    p = m.payload
    return {"payload_len": len(p), "payload_head": bytes(p[:32]).hex()}


_CONTROL = {NLMSG_NOOP: "NLMSG_NOOP", NLMSG_ERROR: "NLMSG_ERROR", NLMSG_DONE: "NLMSG_DONE",
            NLMSG_OVERRUN: "NLMSG_OVERRUN"}


class _Decoder:
    def __init__(self, proto: Proto, spec: Spec | None = None) -> None:
        self.kind = proto.kind
        self.spec = spec
        self.fam = _FamilyNames() if proto.kind == "family" and spec is None else None

    def _spec_op(self, m: MessageView) -> Any:
        assert self.spec is not None
        p = m.payload
        return self.spec.reply_op(m.type, p[0] if self.spec.genl and len(p) else None)

    def type_name(self, t: int) -> str | None:
        if t in _CONTROL:
            return _CONTROL[t]
        if self.kind == "route":
            return RTM_NAMES.get(t)
        if self.fam is not None:
            return self.fam.types.get(t)
        if self.kind == "generic" and t == GENL_ID_CTRL:
            return "nlctrl"
        return None

    def record(self, m: MessageView) -> dict[str, Any]:
        n, t, fl, seq, pid = m.header
        rec: dict[str, Any] = {"type": t, "type_name": self.type_name(t), "flags": fl,
                               "seq": seq, "len": n, "portid": pid}
        try:
            if t in (NLMSG_ERROR, NLMSG_DONE):
                rec["error"] = errno_name(m.error) if m.error else None
            elif self.spec is not None:
                op = self._spec_op(m)
                if op is not None:
                    rec["type_name"] = op.name
                rec["attrs"] = self.spec.decode(t, m.payload, op=op)
            elif self.kind == "route":
                rec["attrs"] = _route_fields(m)
            elif self.fam is not None:
                rec["attrs"] = self.fam.fields(m)
            elif self.kind == "generic":
                rec["attrs"] = _generic_fields(m)
            else:
                rec["attrs"] = _raw_fields(m)
        except (DecodeError, KeyError, struct.error, ValueError, IndexError) as exc:
            rec["undecodable"] = str(exc) or exc.__class__.__name__
        return rec


def _text_value(v: Any) -> str:
    if isinstance(v, str):
        if not v or any(c.isspace() or c in "\"=" for c in v):
            return json.dumps(v)
        return v
    if isinstance(v, dict):
        return "{" + ",".join(f"{k}={_text_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ",".join(_text_value(x) for x in v) + "]"
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).hex()
    return str(v)


def _json_default(v: Any) -> Any:
    """What a spec decodes beyond JSON's types: binary values, as hex."""
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).hex()
    raise TypeError(f"{type(v).__name__} is not JSON serializable")


def _json_line(rec: dict[str, Any]) -> str:
    return json.dumps(rec, default=_json_default)


def format_text(rec: dict[str, Any]) -> str:
    name = rec["type_name"] or f"type={rec['type']}"
    parts = [name, f"flags={rec['flags']:#x}", f"seq={rec['seq']}", f"len={rec['len']}",
             f"portid={rec['portid']}"]
    if "error" in rec:
        parts.append(f"error={rec['error'] or 0}")
    for k, v in (rec.get("attrs") or {}).items():
        if v is not None:
            parts.append(f"{k}={_text_value(v)}")
    if "undecodable" in rec:
        parts.append(f"undecodable={_text_value(rec['undecodable'])}")
    return " ".join(parts)


def _proto_of(given: Proto | None, spec: Spec | None) -> Proto:
    """--proto, or the spec's protocol (route without either)."""
    if spec is None:
        return given or parse_proto("route")
    if given is not None and given.number != spec.protonum:
        raise UsageError(f"argument --proto: spec {spec.name!r} is of protocol "
                         f"{spec.protonum}, not {given.number}")
    base = given or parse_proto(str(spec.protonum))
    return Proto(spec.protonum, base.kind, f"{spec.name} ({spec.protonum})")


def run_monitor(a: argparse.Namespace) -> int:
    """``nlfast monitor``: runs on nlfast.aio (one reader callback, no thread)."""
    import asyncio

    try:
        return asyncio.run(_run_monitor(a))
    except KeyboardInterrupt:
        return 130


async def _run_monitor(a: argparse.Namespace) -> int:
    from nlfast import aio

    spec = load_spec(a.spec) if a.spec is not None else None
    proto: Proto = _proto_of(a.proto, spec)
    groups = resolve_groups(proto, a.groups, spec, a.netns)
    try:
        sock = aio.Socket(proto.number, netns=a.netns, rcvbuf=a.rcvbuf, overrun="count")
    except OSError as exc:
        print(f"{PROG} monitor: {open_error(exc, proto, a.netns)}", file=sys.stderr)
        return 1
    async with sock:
        for g in groups:
            try:
                sock.subscribe(g)
            except OSError as exc:
                why = _strerror(exc)
                if exc.errno == errno.EINVAL:
                    why += f" (the family has no group {g})"
                print(f"{PROG} monitor: cannot join group {g} of {proto.label}: {why}",
                      file=sys.stderr)
                return 1
        if not a.quiet:
            where = f" in netns {a.netns}" if a.netns else ""
            print(f"{PROG} monitor: listening on {proto.label} groups "
                  f"{', '.join(groups.values())}{where} (portid {sock.portid})",
                  file=sys.stderr, flush=True)
        try:
            return await _monitor_loop(sock, a, _Decoder(proto, spec))
        except BrokenPipeError:
            # the reader went away (| head): no traceback, no flush error at exit
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 0


async def _monitor_loop(sock: Any, a: argparse.Namespace, dec: _Decoder) -> int:
    out = sys.stdout
    emit: Callable[[dict[str, Any]], str] = _json_line if a.json else format_text
    seen = 0
    # a fresh socket: counted from 0, not from a first reading that could
    # come after the "listening" line and so after losses it should report
    overruns = drops = 0
    deadline = None if a.timeout is None else time.monotonic() + a.timeout
    while a.count is None or seen < a.count:
        wait = 0.5
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0:
                break
        truncated = 0
        try:
            b = await sock.recv(min(wait, 0.5))
        except TimeoutError:
            continue
        except TruncatedError as exc:
            b, truncated = exc.batch, 1
        lines: list[str] = []
        now_drops = _drops(sock)
        if sock.overruns != overruns or now_drops != drops:
            ev = {"event": "enobufs", "overruns": sock.overruns, "drops": now_drops,
                  "new_drops": now_drops - drops}
            overruns, drops = sock.overruns, now_drops
            lines.append(json.dumps(ev) if a.json else
                         f"ENOBUFS: receive queue overrun, messages lost "
                         f"(overruns {ev['overruns']}, kernel drops {now_drops} "
                         f"+{ev['new_drops']})")
        if truncated:
            lines.append(json.dumps({"event": "truncated"}) if a.json else
                         "TRUNCATED: a datagram was larger than the receive buffer")
        for m in b:
            if a.count is not None and seen >= a.count:
                break
            lines.append(emit(dec.record(m)))
            seen += 1
        if lines:
            out.write("\n".join(lines) + "\n")
            out.flush()
    if a.count is not None and seen < a.count:
        print(f"{PROG} monitor: timed out after {seen} of {a.count} messages", file=sys.stderr)
        return 1
    return 0
