"""The nlfast command line: ``python -m nlfast load|monitor ...``.

``load`` drives a netlink family with requests at a chosen rate or flat out,
from one or more sender processes, and counts what comes back (replies,
acks, errors by errno, ENOBUFS) from the receive columns, in C;
``monitor`` joins multicast groups and prints one line per message.

This package holds the parser, the entry point and what both commands share;
:mod:`nlfast.cli.load` and :mod:`nlfast.cli.monitor` the commands. Only the
standard library besides nlfast itself; ``import nlfast`` never imports it.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from nlfast import family, genl, rtnl
from nlfast.constants import (
    NETLINK_GENERIC,
    NETLINK_KOBJECT_UEVENT,
    NETLINK_NETFILTER,
    NETLINK_ROUTE,
    NETLINK_SOCK_DIAG,
    NETLINK_USERSOCK,
)

if TYPE_CHECKING:
    from nlfast.spec import Spec

PROG = "nlfast"

# -- names --------------------------------------------------------------------

_PROTO_NAMES: dict[str, int] = {
    "route": NETLINK_ROUTE,
    "usersock": NETLINK_USERSOCK,
    "sock_diag": NETLINK_SOCK_DIAG,
    "netfilter": NETLINK_NETFILTER,
    "kobject_uevent": NETLINK_KOBJECT_UEVENT,
    "generic": NETLINK_GENERIC,
}

# linux/rtnetlink.h: {message type: "RTM_NEWLINK", ...}, as the shim was built
RTM_NAMES: dict[int, str] = rtnl.rtm_names()

# linux/genetlink.h, as the shim was built (tests/test_cli.py checks them)
GENL_ID_CTRL = genl.GENL_ID_CTRL
GENL_HDRLEN = genl.GENL_HDRLEN
CTRL_CMD_GETFAMILY = genl.CTRL_CMD_GETFAMILY
CTRL_ATTR_FAMILY_ID = genl.CTRL_ATTR_FAMILY_ID
CTRL_ATTR_FAMILY_NAME = genl.CTRL_ATTR_FAMILY_NAME


def family_spec() -> Spec:
    """The module's family, by its spec (nlfast/specs/nlfast-family.yaml):
    message types, attributes and groups by name.

    :raises UsageError: PyYAML, which reads the spec, is missing.
    """
    from nlfast import spec

    try:
        return spec.load("nlfast-family")
    except ModuleNotFoundError as exc:
        raise UsageError(f"the module's family is read from its spec: {exc}") from None


def c_name(prefix: str, name: str) -> str:
    """A spec's name as the uapi header spells it: c_name("NLFAM_MSG_", "mcast-hello")."""
    return prefix + name.upper().replace("-", "_")


def load_spec(text: str) -> Spec:
    """``--spec``: a spec by name (nlfast's, $NLFAST_SPEC_PATH) or path.

    :raises UsageError: no such spec, or one that does not load.
    """
    from nlfast import spec

    try:
        return spec.load(text)
    except (OSError, spec.SpecError, ModuleNotFoundError) as exc:
        raise UsageError(f"argument --spec: {exc}") from None


def errno_name(code: int) -> str:
    return errno.errorcode.get(code, str(code))


# -- argument parsing -----------------------------------------------------------


class UsageError(Exception):
    """A bad argument found after parsing: exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _int(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def _positive_int(text: str) -> int:
    v = _int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, not {v}")
    return v


def _nonneg_int(text: str) -> int:
    v = _int(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, not {v}")
    return v


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not v > 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, not {text}")
    return v


def _hex_bytes(text: str) -> bytes:
    try:
        return bytes.fromhex(text.replace(":", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not hex bytes: {text!r}") from None


@dataclass(frozen=True)
class Proto:
    number: int
    kind: str  # route, usersock, generic, family or other
    label: str


def parse_proto(text: str) -> Proto:
    """route, usersock, generic, family, family=N, another known name, or a number."""
    t = text.strip().lower().replace("-", "_")
    fam = family.PROTO_DEFAULT
    if t == "family":
        return Proto(fam, "family", f"family ({fam})")
    if t.startswith("family="):
        n = _int(t.split("=", 1)[1])
        return Proto(_check_proto(n), "family", f"family ({n})")
    if t in _PROTO_NAMES:
        n = _PROTO_NAMES[t]
    else:
        try:
            n = _check_proto(int(t, 0))
        except ValueError:
            names = ", ".join([*_PROTO_NAMES, "family", "family=N"])
            raise argparse.ArgumentTypeError(
                f"unknown protocol {text!r}: use a number or one of {names}") from None
    kind = {NETLINK_ROUTE: "route", NETLINK_USERSOCK: "usersock",
            NETLINK_GENERIC: "generic", fam: "family"}.get(n, "other")
    name = next((k for k, v in _PROTO_NAMES.items() if v == n), None)
    label = name or ("family" if kind == "family" else "protocol")
    return Proto(n, kind, f"{label} ({n})")


def _check_proto(n: int) -> int:
    if not 0 <= n < 32:
        raise argparse.ArgumentTypeError(f"protocol {n} is out of range 0..31")
    return n


def open_error(exc: OSError, proto: Proto, netns: str | None) -> str:
    """The one-line message for a socket that could not be opened."""
    if exc.errno == errno.EPROTONOSUPPORT:
        if proto.kind == "family":
            return (f"protocol {proto.number} is not available: "
                    "is the nlfast_family module loaded?")
        return f"protocol {proto.number} is not available: no kernel family registered it"
    if netns is not None and exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return f"network namespace {netns!r} does not exist (see ip netns list)"
    if exc.errno == errno.EPERM:
        return f"not permitted: {_strerror(exc)} (needs CAP_NET_ADMIN?)"
    return f"cannot open the netlink socket: {_strerror(exc)}"


def _strerror(exc: OSError) -> str:
    return os.strerror(exc.errno) if exc.errno else str(exc)


def build_parser() -> _Parser:
    p = _Parser(prog=PROG, description="nlfast: netlink load generator and multicast monitor.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    load = sub.add_parser(
        "load", help="send requests at a rate or flat out and count the answers",
        description=(
            "Drive a netlink family: send one request over and over (each with its own "
            "sequence number), from N processes, paced or flat out, and count what comes "
            "back. USERSOCK without --dest gets receiver processes of its own."),
    )
    load.add_argument("--proto", type=parse_proto, default=parse_proto("route"),
                      help="route (default: every kernel has it), usersock, generic, "
                           "family (the nlfast module, 30), family=N, or a protocol number")
    load.add_argument("--type", dest="msg_type",
                      help="message type: a number, or for family echo|sink|hello|stats, "
                           "for route getlink, for generic getfamily "
                           "(default: echo, getlink, getfamily, 0x10)")
    load.add_argument("--size", type=_nonneg_int,
                      help="payload bytes, carried as an attribute (family: NLFAM_A_DATA, "
                           "otherwise binary attribute 1); default 0")
    load.add_argument("--header", type=_hex_bytes, default=None, metavar="HEX",
                      help="family header bytes before the attributes (hex), for types "
                           "given as numbers")
    load.add_argument("--ifindex", type=_positive_int, default=1,
                      help="route getlink: the interface index asked for (default 1, lo)")
    load.add_argument("--batch", type=_positive_int, default=4096,
                      help="messages per send call, packed many per datagram (default 4096)")
    load.add_argument("--dgram-size", type=_positive_int, default=32768, metavar="BYTES",
                      help="bytes per datagram before a new one starts (default 32768; "
                           "16: one message per datagram)")
    load.add_argument("--senders", type=_positive_int, default=1, metavar="N",
                      help="sender processes (default 1)")
    load.add_argument("--receivers", type=_positive_int, default=None, metavar="N",
                      help="usersock: receiver processes of our own (default: one per sender)")
    load.add_argument("--rate", type=_positive_float, default=None, metavar="MSGS",
                      help="messages per second, all senders together (default: flat out)")
    load.add_argument("--duration", type=_positive_float, default=None, metavar="SECONDS",
                      help="stop sending after this long (default 10 unless --count)")
    load.add_argument("--count", type=_positive_int, default=None, metavar="N",
                      help="stop after sending N messages in all")
    load.add_argument("--dest", type=_nonneg_int, default=None, metavar="PORTID",
                      help="unicast to this port id (usersock: someone else's receiver)")
    load.add_argument("--group", type=_positive_int, default=None, metavar="G",
                      help="send to multicast group G (1..32) instead of unicast")
    load.add_argument("--ack", action="store_true",
                      help="set NLM_F_ACK and count the acks (our usersock receivers ack)")
    load.add_argument("--window", type=_positive_int, default=None, metavar="N",
                      help="requests awaiting an answer at most (default 256; usersock "
                           "acks 16384); keep replies in flight under the receive buffer")
    load.add_argument("--wait", type=_positive_float, default=2.0, metavar="SECONDS",
                      help="how long to wait for outstanding answers at the end (default 2)")
    load.add_argument("--rcvbuf", type=_positive_int, default=1 << 22, metavar="BYTES",
                      help="receive buffer of every socket (default 4 MiB)")
    load.add_argument("--netns", default=None, metavar="NAME",
                      help="run in this network namespace (a name under /run/netns or a path)")
    load.add_argument("--json", action="store_true", help="print the summary as JSON")
    load.add_argument("-q", "--quiet", action="store_true", help="no live progress line")

    mon = sub.add_parser(
        "monitor", help="print what arrives on multicast groups",
        description=(
            "Join multicast groups and print one line per message: type, flags, seq, "
            "length, sender port id and the attributes of known families. Lost messages "
            "(ENOBUFS) are reported as lines of their own."),
    )
    mon.add_argument("groups", nargs="+", metavar="GROUP",
                     help="group numbers, or names: for route link, ipv4-ifaddr, ipv6-ifaddr, "
                          "ipv4-route, neigh, ...; for family events, hello, flood, spare; "
                          "with --spec the spec's")
    mon.add_argument("--proto", type=parse_proto, default=None,
                     help="route (default), usersock, generic, family, family=N or a number")
    mon.add_argument("--spec", default=None, metavar="NAME|PATH",
                     help="decode by this netlink spec (a name such as rt-link, nlctrl, "
                          "nlfast-family, or a YAML file's path): its protocol, its group "
                          "names (a generic netlink family's by nlctrl), messages as dicts "
                          "named by the spec")
    mon.add_argument("--count", type=_positive_int, default=None, metavar="N",
                     help="stop after N messages")
    mon.add_argument("--timeout", type=_positive_float, default=None, metavar="SECONDS",
                     help="stop after this long (exit status 1 if --count was not reached)")
    mon.add_argument("--netns", default=None, metavar="NAME",
                     help="listen in this network namespace (a name under /run/netns or a path)")
    mon.add_argument("--rcvbuf", type=_positive_int, default=1 << 22, metavar="BYTES",
                     help="receive buffer (default 4 MiB)")
    mon.add_argument("--json", action="store_true", help="one JSON object per line")
    mon.add_argument("-q", "--quiet", action="store_true",
                     help="no 'listening' line on stderr")
    return p


def _drops(s: Any) -> int:
    try:
        return int(s.drops())
    except OSError:
        return 0


# -- entry point -------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # the commands import this module: import them once it is complete
    from nlfast.cli.load import make_spec, run_load
    from nlfast.cli.monitor import run_monitor

    sub = f"{PROG} {args.command}"
    try:
        if args.command == "load":
            spec = make_spec(args)
            progress = not args.quiet and sys.stderr.isatty()
            return run_load(spec, args.json, progress)
        return run_monitor(args)
    except UsageError as exc:
        print(f"{sub}: error: {exc} (see {sub} --help)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"{sub}: {_strerror(exc)}", file=sys.stderr)
        return 1
