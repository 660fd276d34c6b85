"""The host workloads (native speed, the machine's own kernel), each run
inside the benchmark's namespace (see benchmarks.netns)."""

# Workload classes carry their settings as class attributes.
# ruff: noqa: RUF012

from __future__ import annotations

import os
from typing import Any

from benchmarks.core import Ctx, NotApplicable, RunError, Target, WorkerWorkload, Workload, check_c
from benchmarks.usersock import BATCH, END_TYPE

CBATCH = {"batch": BATCH}  # nlceil packs as many messages per datagram as nlfast does


class _Dump(WorkerWorkload):
    per_entry = "links"
    c_name = ""

    def per_dump(self, ctx: Ctx) -> int:
        raise NotImplementedError

    def first_units(self, contender: str, ctx: Ctx) -> int:
        entries = self.expected.get(contender, 1e5) * ctx.seconds * 0.3
        return self.clamp(entries / max(1, self.per_dump(ctx)))

    def c_command(self, ctx: Ctx, units: int) -> list[str]:
        return ctx.c(self.c_name, repeat=units)

    def c_units(self, res: dict[str, Any]) -> int:
        return int(res["repeat"])


class LinkDump(_Dump):
    name = c_name = "linkdump"
    unit = "links/s"
    expected = {"c": 220e3, "nlfast": 200e3, "nlfast-simple": 100e3, "stdlib": 180e3,
                "stdlib-simple": 150e3, "pyroute2": 1.7e3}
    target = Target(vs_c=0.9)
    notes = "kernel-bound: the kernel builds ~1.3 KB per link"

    def per_dump(self, ctx: Ctx) -> int:
        return int(ctx.facts.get("links", 4001))

    def describe(self) -> str:
        return "link dump: RTM_GETLINK, IFLA_IFNAME decoded (per dump: all links of the namespace)"


class AddrDump(_Dump):
    name = c_name = "addrdump"
    unit = "addrs/s"
    expected = {"c": 3.5e6, "nlfast": 3e6, "nlfast-simple": 150e3, "stdlib": 800e3,
                "stdlib-simple": 600e3, "pyroute2": 6e3}
    target = Target(vs_c=0.5)

    def per_dump(self, ctx: Ctx) -> int:
        return int(ctx.facts.get("addresses", 10000))

    def describe(self) -> str:
        return "address dump: RTM_GETADDR, IFA_ADDRESS (else IFA_LOCAL) decoded"


class GetLink(WorkerWorkload):
    name = "getlink"
    unit = "round trips/s"
    contenders = ("c", "nlfast", "nlfast-request_many", "nlfast-simple", "stdlib",
                  "stdlib-simple", "pyroute2")
    expected = {"c": 350e3, "nlfast": 300e3, "nlfast-request_many": 60e3,
                "nlfast-simple": 20e3, "stdlib": 200e3, "stdlib-simple": 60e3,
                "pyroute2": 1.3e3}
    params = {"ifindex": 1, "window": 64}
    target = Target(vs_c=0.9)
    min_units = 64
    notes = ("batch contenders keep 64 requests in flight, simple ones and pyroute2 one; "
             "request_many and pyroute2 add NLM_F_ACK (two replies per request)")

    def describe(self) -> str:
        return "RTM_GETLINK request/response for ifindex 1, IFLA_IFNAME decoded"

    def c_command(self, ctx: Ctx, units: int) -> list[str]:
        return ctx.c("getlink", count=units, ifindex=self.params["ifindex"],
                     window=self.params["window"])


def _c_recv(ctx: Ctx, units: int, **opts: Any) -> list[str]:
    return ctx.c("usersock-recv", count=units, **opts)


class UsersockRecv(Workload):
    name = "usersock-recv"
    unit = "msgs/s"
    expected = {"c": 60e6, "nlfast": 25e6, "nlfast-simple": 400e3, "stdlib": 1.2e6,
                "stdlib-simple": 1e6, "pyroute2": 50e3}
    target = Target(vs_c=0.5)
    min_units = 50000
    notes = "nlceil sends to each receiver, 1024 messages per datagram"

    def describe(self) -> str:
        return ("NETLINK_USERSOCK unicast, receiver side: nlceil sends, the contender "
                "receives (type and seq checked in order)")

    def measure(self, ctx: Ctx, contender: str, units: int) -> dict[str, Any]:
        if contender == "c":
            rx = ctx.start(_c_recv(ctx, units, timeout=5))
        else:
            rx = ctx.start(ctx.worker(self.name, contender, count=units))
        port = ctx.wait_ready(rx)
        tx = ctx.run(ctx.c("usersock-send", count=units, dest=port, **CBATCH))
        res = ctx.finish(rx)
        if contender == "c":
            check_c(res)
        if res.get("lost"):
            raise RunError(f"{res['lost']} of {units} messages lost on unicast")
        res["units"] = res["count"]
        res["sender_rate"] = tx["rate"]
        return res


class UsersockSend(Workload):
    name = "usersock-send"
    unit = "msgs/s"
    contenders = ("c", "nlfast", "nlfast-send_batch", "nlfast-simple", "stdlib",
                  "stdlib-simple", "pyroute2")
    expected = {"c": 60e6, "nlfast": 40e6, "nlfast-send_batch": 500e3, "nlfast-simple": 100e3,
                "stdlib": 15e6, "stdlib-simple": 400e3, "pyroute2": 10e3}
    target = Target(vs_c=0.8)
    min_units = 1000
    notes = ("the contender sends to nlceil's receiver; batched senders put 1024 messages "
             "(32 KiB) in a datagram")

    def describe(self) -> str:
        return ("NETLINK_USERSOCK unicast, sender side: the contender sends seqs 1..N, "
                "nlceil receives and checks them")

    def measure(self, ctx: Ctx, contender: str, units: int) -> dict[str, Any]:
        rx = ctx.start(_c_recv(ctx, units, timeout=10))
        port = ctx.wait_ready(rx)
        if contender == "c":
            res = ctx.run(ctx.c("usersock-send", count=units, dest=port, **CBATCH))
        else:
            res = ctx.run(ctx.worker(self.name, contender, count=units, dest=port))
        got = ctx.finish(rx)
        check_c(got)
        if got["count"] != units:
            raise RunError(f"the receiver got {got['count']} of {units}")
        res["units"] = units
        res["receiver_rate"] = got["rate"]
        return res


class UsersockMcast(Workload):
    name = "usersock-mcast"
    unit = "msgs/s"
    expected: dict[str, float] = {}
    calibrate = False
    lossy = True
    group = 3
    rcvbuf = 2 << 20
    target = Target(vs_c=0.5)
    na = {"pyroute2": "pyroute2 0.9's NetlinkSocket receives nothing more after an ENOBUFS "
                      "overrun here (get() blocks; the END message never comes out)"}
    notes = ("nlceil floods N messages to group 3 at full speed; every receiver has the "
             "same 2 MiB SO_RCVBUFFORCE; what it cannot keep up with is lost")

    def describe(self) -> str:
        return ("NETLINK_USERSOCK multicast under overload: nlceil floods a group, the "
                "contender receives; rate kept and messages lost reported apart")

    def first_units(self, contender: str, ctx: Ctx) -> int:
        return 1_000_000 if ctx.quick else 4_000_000

    def next_units(self, res: dict[str, Any], ctx: Ctx) -> int:
        return self.first_units("", ctx)

    def measure(self, ctx: Ctx, contender: str, units: int) -> dict[str, Any]:
        if contender in self.na:
            raise NotApplicable(self.na[contender])
        if contender == "c":
            rx = ctx.start(_c_recv(ctx, units, group=self.group, timeout=1,
                                   rcvbuf=self.rcvbuf))
        else:
            rx = ctx.start(ctx.worker(self.name, contender, count=units, group=self.group,
                                      rcvbuf=self.rcvbuf, timeout=2))
        port = ctx.wait_ready(rx)
        tx = ctx.run(ctx.c("usersock-mcast-send", count=units, group=self.group, **CBATCH))
        send_end(ctx, port)
        res = ctx.finish(rx)
        res["units"] = units
        res["sender_rate"] = tx["rate"]
        lost = int(res.get("lost", 0))
        res["loss_pct"] = 100.0 * lost / units
        # the overrun notices the receiver saw: ENOBUFS (stdlib, nlceil), OverrunError (nlfast)
        res["overrun_events"] = int(res.get("enobufs", 0) or res.get("overruns", 0))
        return res


def send_end(ctx: Ctx, portid: int) -> None:
    """Unicasts the END message to a receiver in ctx's namespace.  Unicast
    between user sockets waits for room, so END lands after every message
    that the receiver's queue took; a receiver that stopped reading is
    given up on after 10 s (it fails the run by its own watchdog or the
    harness's timeout)."""
    import socket

    import nlfast

    frame = nlfast.Message(END_TYPE, 0).encode(seq=0)
    try:
        # nlfast has no send timeout: the same socket through the stdlib
        with nlfast.Socket(nlfast.NETLINK_USERSOCK, netns=ctx.netns) as ns, \
                socket.socket(fileno=os.dup(ns.fileno())) as s:
            s.settimeout(10.0)
            s.sendto(frame, (portid, 0))
    except OSError:
        pass  # refused (the receiver saw its last seq and went) or timed out


class ImportTime(Workload):
    name = "import"
    unit = "ms"
    kind = "footprint"
    contenders = ("nlfast", "pyroute2", "stdlib")
    names = {"nlfast": "nlfast", "stdlib": "stdlib socket, struct"}
    calibrate = False
    STMT = {"nlfast": "import nlfast", "pyroute2": "from pyroute2 import IPRoute",
            "stdlib": "import socket, struct"}
    notes = ("a fresh interpreter each time; the time of the import statement alone; "
             "bytecode cached (in a private PYTHONPYCACHEPREFIX, warmed by the sizing round)")
    goal = 20.0  # pyroute2's time over nlfast's

    def describe(self) -> str:
        return "import time: `import nlfast` vs `from pyroute2 import IPRoute` (fresh interpreter)"

    def first_units(self, contender: str, ctx: Ctx) -> int:
        return 1

    def measure(self, ctx: Ctx, contender: str, units: int) -> dict[str, Any]:
        code = ("import time, json; t0 = time.perf_counter(); " + self.STMT[contender]
                + "; t1 = time.perf_counter(); print(json.dumps({'seconds': t1 - t0}))")
        # Bytecode for every contender, fresh and in one place: a stale
        # __pycache__ (with PYTHONDONTWRITEBYTECODE set) would time the compiler.
        env: dict[str, str | None] = {"PYTHONDONTWRITEBYTECODE": None}
        if ctx.pycache:
            env["PYTHONPYCACHEPREFIX"] = ctx.pycache
        res = ctx.run([ctx.python, "-c", code], env=env)
        res["value"] = res["seconds"] * 1000
        return res


class DumpMemory(Workload):
    name = "dump-rss"
    unit = "MiB"
    kind = "footprint"
    contenders = ("c", "nlfast", "stdlib", "pyroute2")
    names = {"nlfast": "nlfast (streamed)", "stdlib": "stdlib (streamed)",
             "pyroute2": "pyroute2 (list kept)"}
    calibrate = False
    notes = ("peak RSS (GNU time %M) of a process that dumps every address once; "
             "nlfast and stdlib stream and keep the decoded addresses, pyroute2 keeps its "
             "message list as get_addr() returns it")
    bound_mib = 4.0  # nlfast's growth during the dump

    def describe(self) -> str:
        return "peak RSS of one address dump of the whole namespace"

    def first_units(self, contender: str, ctx: Ctx) -> int:
        return 1

    def measure(self, ctx: Ctx, contender: str, units: int) -> dict[str, Any]:
        if contender == "c":
            argv = ctx.c("addrdump", repeat=1)
        else:
            argv = ctx.worker(self.name, contender, count=1)
        res, peak = ctx.run_peak_rss(argv)
        if contender == "c":
            check_c(res)
        res["peak_kib"] = peak
        res["value"] = peak / 1024
        if "rss_before_kib" in res:
            res["growth_mib"] = (res["rss_after_kib"] - res["rss_before_kib"]) / 1024
        return res


HOST_WORKLOADS: list[Workload] = [LinkDump(), AddrDump(), GetLink(), UsersockRecv(),
                                  UsersockSend(), UsersockMcast(), ImportTime(), DumpMemory()]

__all__ = ["HOST_WORKLOADS", "NotApplicable"]
