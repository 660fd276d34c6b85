"""The workloads, as declarations: what is asked, what is checked, the unit,
who takes part and what nlfast's rows must reach.

``kind`` picks the contender functions (benchmarks/contenders.py) and how a
measurement runs (benchmarks/harness.py): ``dump``, ``request``, ``recv``
(nlceil or the family sends, the contender receives), ``send`` (the
contender sends, to nlceil's receiver or the family), ``decode`` (messages
captured before the clock, decoded), ``import``, ``rss`` (peak RSS of one
dump).  ``params`` go to the contender functions; ``c``
gives each C contender its nlceil arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from benchmarks import nlconst as K

NAMES = {
    "c": "C ceiling (nlceil)",
    "c-ack": "C pipelined, acked",
    "c-sync": "C one per syscall pair",
    "nlfast": "nlfast columns",
    "nlfast-request": "nlfast request()",
    "nlfast-request_many": "nlfast request_many(ack=False)",
    "nlfast-request_many-ack": "nlfast request_many()",
    "nlfast-messages": "nlfast dump_messages()",
    "nlfast-send_batch": "nlfast send_batch()",
    "nlfast-simple": "nlfast simple",
    "stdlib": "stdlib batched",
    "stdlib-distinct": "stdlib distinct",
    "stdlib-simple": "stdlib simple",
    "pyroute2": "pyroute2",
    "nlfast-aio": "nlfast.aio async for dump()",
    "nlfast-aio-request": "nlfast.aio await request()",
    "nlfast-aio-coroutines": "nlfast.aio 1000 coroutines, await request()",
    "pyroute2-aio": "pyroute2 AsyncIPRoute",
    "nlfast-spec": "nlfast spec columns by name",
    "nlfast-do": "nlfast spec do() by name",
    "nlfast-to_dict": "nlfast spec to_dict()",
    "ynl": "the kernel's ynl",
}
PURE_PYTHON = ("stdlib", "stdlib-distinct", "stdlib-simple", "pyroute2", "pyroute2-aio", "ynl")


@dataclass
class Workload:
    name: str
    title: str
    kind: str
    unit: str
    contenders: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)
    c: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    # row -> [(reference row, at least this ratio)]; footprints: ("p2_over"
    # | "growth", bound)
    targets: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    tier: str = "host"
    notes: str = ""
    names: dict[str, str] = field(default_factory=dict)  # display names for this table
    na: dict[str, str] = field(default_factory=dict)  # contender -> why not
    row_notes: dict[str, str] = field(default_factory=dict)
    fixed: dict[str, int] = field(default_factory=dict)  # units per run, not calibrated
    quick: dict[str, int] = field(default_factory=dict)  # the same with --quick
    per_unit: str = ""  # ctx.facts key: entries per unit (rtnl dumps: one dump)
    min_units: int = 1
    warmup: bool = True
    max_repeat: int = 0
    lossy: bool = False

    @property
    def footprint(self) -> bool:
        return self.kind in ("import", "rss")

    def name_of(self, c: str) -> str:
        return self.names.get(c, NAMES.get(c, c))


def vs(c: float | None = None, p2: float | None = 100.0, ref: str = "c") -> list[tuple[str, float]]:
    return [(r, x) for r, x in ((ref, c), ("pyroute2", p2)) if x is not None]


ALL = ("c", "nlfast", "nlfast-simple", "stdlib", "stdlib-simple", "pyroute2")
DUMP = ("c", "nlfast", "nlfast-messages", "stdlib", "stdlib-simple", "pyroute2")
RTNL = {"proto": K.NETLINK_ROUTE}
LINKS = dict(RTNL, req=K.RTM_GETLINK, reply=K.RTM_NEWLINK, hdrlen=K.IFINFOMSG_LEN,
             attrs=[K.IFLA_IFNAME], text=True, p2get="get_links", p2attrs=["IFLA_IFNAME"])
ADDRS = dict(RTNL, req=K.RTM_GETADDR, reply=K.RTM_NEWADDR, hdrlen=K.IFADDRMSG_LEN,
             attrs=[K.IFA_ADDRESS, K.IFA_LOCAL], p2get="get_addr",
             p2attrs=["IFA_ADDRESS", "IFA_LOCAL"])
GETLINK = dict(RTNL, req=K.RTM_GETLINK, reply=K.RTM_NEWLINK, hdrlen=K.IFINFOMSG_LEN,
               attr=K.IFLA_IFNAME, text=True, ifindex=1)
USERSOCK = {"proto": K.NETLINK_USERSOCK, "mtype": K.USERSOCK_TYPE}
FAM_DUMP = dict(req=K.FAM_MSG_DUMP, reply=K.FAM_MSG_DUMP, hdrlen=0, attrs=[K.FAM_A_INDEX],
                order=True, size=16)
ECHO = dict(req=K.FAM_MSG_ECHO, reply=K.FAM_MSG_ECHO, hdrlen=0, attr=K.FAM_A_DATA, size=16)
STREAMED = {"nlfast": "nlfast (streamed)", "stdlib": "stdlib (streamed)",
            "pyroute2": "pyroute2 (list kept)"}

HOST = [
    Workload("linkdump", "link dump: RTM_GETLINK, IFLA_IFNAME decoded (per dump: all links "
             "of the namespace)", "dump", "links/s", (*DUMP, "nlfast-spec"), LINKS,
             per_unit="links", c={"c": ("linkdump", {})},
             targets={"nlfast": vs(0.95), "nlfast-spec": [("nlfast", 0.9)]},
             notes="kernel-bound: the kernel builds ~1.3 KB per link; columns by name: "
                   "rt.column(batch, 'ifname') over rt.batches('getlink') (nlfast.spec)"),
    Workload("linkdict", "link dump decoded to dicts, every attribute: nlfast.spec to_dict() "
             "beside the kernel's spec client (ynl) and pyroute2", "decode", "links/s",
             ("nlfast-to_dict", "ynl", "pyroute2"), per_unit="links",
             targets={"nlfast-to_dict": [("ynl", 20.0), ("pyroute2", 50.0)]},
             notes="the same bytes: each contender captures one dump of the namespace's links "
                   "before the clock, then decodes every message (framing included); nlfast and "
                   "ynl read the kernel tree's rt_link.yaml (NLFAST_KERNEL_TREE; without it "
                   "ynl is n/a and nlfast reads its shipped rt-link, fewer attributes); "
                   "pyroute2 parses each datagram and dump()s each message to dicts"),
    Workload("linkdump-aio", "link dump under asyncio: `async for batch in s.dump(msg)` "
             "(nlfast.aio) beside the sync dump and pyroute2's AsyncIPRoute.get_links()",
             "dump", "links/s", ("nlfast", "nlfast-aio", "pyroute2-aio"), LINKS, per_unit="links",
             targets={"nlfast-aio": [("nlfast", 0.8), ("pyroute2-aio", 50.0)]},
             notes="the same IFLA_IFNAME column checks as the sync nlfast row"),
    Workload("addrdump", "address dump: RTM_GETADDR, IFA_ADDRESS and IFA_LOCAL read as u32",
             "dump", "addrs/s", DUMP, ADDRS, per_unit="addresses", c={"c": ("addrdump", {})},
             targets={"nlfast": vs(0.7), "nlfast-messages": vs(1.5, None, "stdlib")}),
    Workload("getlink", "RTM_GETLINK request/response for ifindex 1, IFLA_IFNAME decoded",
             "request", "round trips/s",
             ("c", "c-ack", "c-sync", "nlfast", "nlfast-request", "nlfast-request_many",
              "nlfast-request_many-ack", "stdlib", "stdlib-simple", "pyroute2", "nlfast-do"),
             GETLINK,
             c={"c": ("getlink", {"window": 64}), "c-ack": ("getlink", {"window": 64, "ack": 1}),
                "c-sync": ("getlink", {"window": 1, "ack": 1})},
             targets={"nlfast": vs(0.9), "nlfast-request": vs(0.9, None, "c-sync"),
                      "nlfast-do": [("nlfast-request", 0.9)], "nlfast-request_many": vs(0.9, None),
                      "nlfast-request_many-ack": vs(0.9, None, "c-ack")}, min_units=64,
             notes="C, nlfast columns, request_many and stdlib batched keep 64 requests in "
                   "flight, the rest one; request(), request_many() and the acked C rows add "
                   "NLM_F_ACK (two replies per request), as does rt.do('getlink', "
                   "{'ifi-index': 1}); C one per syscall pair: sendto, then recvmmsg to the ack"),
    Workload("getlink-aio", "RTM_GETLINK request/response under asyncio, one in flight: "
             "`await s.request(msg)` (nlfast.aio) beside the sync request() (both acked)",
             "request", "round trips/s", ("nlfast-request", "nlfast-aio-request"), GETLINK,
             targets={"nlfast-aio-request": [("nlfast-request", 0.8)]}, min_units=64),
    Workload("getlink-coroutines", "RTM_GETLINK requests from 1000 coroutines x 100 on one "
             "nlfast.aio socket, beside request_many() of the same 100,000 (all acked)",
             "request", "round trips/s", ("nlfast-request_many-ack", "nlfast-aio-coroutines"),
             GETLINK, targets={"nlfast-aio-coroutines": [("nlfast-request_many-ack", 0.8)]},
             fixed={"*": 100_000}, quick={"*": 20_000},
             notes="100,000 requests per run (20,000 with --quick: 1000 coroutines x 20); "
                   "request_many keeps 64 in flight"),
    Workload("usersock-recv", "NETLINK_USERSOCK unicast, receiver side: nlceil sends, the "
             "contender receives (type and seq checked in order)", "recv", "msgs/s", ALL,
             USERSOCK, c={"c": ("usersock-recv", {"timeout": 5})},
             targets={"nlfast": vs(0.5)}, min_units=50000,
             notes="nlceil sends to each receiver, 1024 messages per datagram"),
    Workload("usersock-send", "NETLINK_USERSOCK unicast, sender side: the contender sends seqs "
             "1..N, nlceil receives and checks them", "send", "msgs/s",
             ("c", "nlfast", "nlfast-send_batch", "nlfast-simple", "stdlib", "stdlib-distinct",
              "stdlib-simple", "pyroute2"),
             dict(USERSOCK, size=K.USERSOCK_SIZE), c={"c": ("usersock-send", {})},
             targets={"nlfast": vs(0.8), "nlfast-send_batch": vs(2.0, None, "stdlib-distinct")},
             min_units=1000,
             notes="batched senders put 1024 messages (32 KiB) in a datagram; send_batch and "
                   "stdlib distinct send distinct messages (each its index in its payload), "
                   "prepared before the clock starts: a list of Message, a list of payloads"),
    Workload("usersock-mcast", "NETLINK_USERSOCK multicast under overload: nlceil floods a "
             "group, the contender receives; rate kept and messages lost reported apart",
             "recv", "msgs/s", ALL, dict(USERSOCK, group=3, rcvbuf=2 << 20, timeout=2,
                                         end_type=K.END_TYPE),
             c={"c": ("usersock-recv", {"group": 3, "timeout": 1, "rcvbuf": 2 << 20})},
             fixed={"*": 4_000_000}, quick={"*": 1_000_000}, lossy=True,
             targets={"nlfast": vs(0.5)},
             na={"pyroute2": "pyroute2 0.9's NetlinkSocket receives nothing more after an "
                             "ENOBUFS overrun here (get() blocks; the END message never comes out)"},
             notes="nlceil floods N messages to group 3 at full speed; every receiver has the "
                   "same 2 MiB SO_RCVBUFFORCE; what it cannot keep up with is lost"),
    Workload("import", "import time: `import nlfast` vs `from pyroute2 import IPRoute` (fresh "
             "interpreter)", "import", "ms", ("nlfast", "pyroute2", "stdlib"),
             {"nlfast": "import nlfast", "pyroute2": "from pyroute2 import IPRoute",
              "stdlib": "import socket, struct"},
             names={"nlfast": "nlfast", "stdlib": "stdlib socket, struct"},
             fixed={"*": 1}, targets={"nlfast": [("p2_over", 20.0)]},
             notes="a fresh interpreter each time; the time of the import statement alone; "
                   "bytecode cached (in a private PYTHONPYCACHEPREFIX, warmed by the sizing round)"),
    Workload("dump-rss", "peak RSS of one address dump of the whole namespace", "rss", "MiB",
             ("c", "nlfast", "stdlib", "pyroute2"), ADDRS, c={"c": ("addrdump", {})},
             names=STREAMED, fixed={"*": 1}, targets={"nlfast": [("growth", 4.0)]},
             notes="peak RSS (GNU time %M) of a process that dumps every address once; "
                   "pyroute2 keeps its message list as get_addr() returns it"),
]

GUEST = [
    Workload("fam-echo", "NLFAM_MSG_ECHO round trips, one in flight, 16 data bytes", "request",
             "round trips/s", ("c", "c-sync", "nlfast", "nlfast-request", "stdlib",
                               "stdlib-simple", "pyroute2"), dict(ECHO, window=1),
             c={"c": ("echo", {"window": 1}), "c-sync": ("echo", {"window": 1, "ack": 1})},
             targets={"nlfast": vs(0.5), "nlfast-request": vs(0.9, None, "c-sync")},
             min_units=100, notes="request() adds NLM_F_ACK, as README shows it: two replies per request"),
    Workload("fam-echo-pipe", "NLFAM_MSG_ECHO round trips, pipelined", "request",
             "round trips/s", ("c", "nlfast", "nlfast-request_many", "stdlib", "stdlib-simple",
                               "pyroute2"), dict(ECHO, window=64),
             c={"c": ("echo", {"window": 64})},
             targets={"nlfast": vs(0.9), "nlfast-request_many": vs(0.9, None)}, min_units=100,
             notes="64 in flight for nlceil, nlfast and stdlib batched; one for the rest"),
    Workload("fam-sink", "NLFAM_MSG_SINK send rate (the last one acked)", "send", "msgs/s", ALL,
             dict(mtype=K.FAM_MSG_SINK, flags=K.NLM_F_REQUEST, size=16, attr=K.FAM_A_DATA,
                  barrier=True), c={"c": ("sink", {"batch": 1024})},
             targets={"nlfast": vs(0.8)}, min_units=1000,
             notes="batched senders put as many SINKs in a datagram as 32 KiB holds (910)"),
    Workload("fam-flood", "NLFAM_MSG_FLOOD multicast from the kernel, received; losses apart",
             "recv", "msgs/s", ALL, dict(mtype=K.FAM_MSG_FLOOD, group=3, index=K.FAM_A_INDEX,
                                         flood={"size": 16}),
             c={"c": ("flood-recv", {"group": 3})}, fixed={"*": 5000}, quick={"*": 2000},
             lossy=True, targets={"nlfast": vs(0.5)},
             notes="the kernel floods 5k messages (2k with --quick) to group 3, timed from the "
                   "request to the last one received; the 32 MiB receive buffer holds them all, "
                   "so what is measured is how fast each receiver keeps up"),
    Workload("fam-dump", "NLFAM_MSG_DUMP entries, NLFAM_A_INDEX checked in order", "dump",
             "entries/s", DUMP, FAM_DUMP, c={"c": ("dump", {})},
             targets={"nlfast": vs(0.5)}, min_units=1000,
             notes="one dump per run, of as many entries as take ~0.3 s; 1M: fam-dump-rss"),
    Workload("fam-dump-rss", "peak RSS of one NLFAM_MSG_DUMP of 1M entries, and its rate",
             "rss", "MiB", ("c", "nlfast", "stdlib", "pyroute2"), FAM_DUMP,
             c={"c": ("dump", {})}, names=STREAMED, warmup=False, max_repeat=1,
             fixed={"c": 1_000_000, "nlfast": 1_000_000, "stdlib": 100_000, "pyroute2": 10_000},
             quick={"c": 200_000, "nlfast": 200_000, "stdlib": 20_000, "pyroute2": 2_000},
             targets={"nlfast": [("growth", 4.0)]},
             row_notes={"stdlib": "fewer entries (1M would take most of a minute in the "
                                  "guest); it streams: its peak does not grow with the count",
                        "pyroute2": "fewer entries (1M would take a quarter of an hour in the "
                                    "guest); its list grows with the count"},
             notes="peak RSS (GNU time %M) of a fresh process that dumps once, and that "
                   "dump's rate; one run each (an interpreter takes seconds to start in the "
                   "guest); pyroute2 keeps its message list as nlm_request() returns it"),
]
for _w in GUEST:
    _w.tier = "guest"
