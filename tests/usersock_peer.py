"""A second process for the NETLINK_USERSOCK tests: receives and reports.

Usage: python usersock_peer.py MODE COUNT [RCVBUF]
  unicast: prints its port id, receives COUNT messages, checks order and
           payloads, prints a JSON summary.
  mcast:   joins group 3 with a small receive buffer, prints "ready", waits
           for a line on stdin (the flood is over), then drains and reports
           overruns and the kernel's drop count.
"""

from __future__ import annotations

import json
import sys

import nlfast


def unicast(count: int) -> dict[str, object]:
    with nlfast.Socket(nlfast.NETLINK_USERSOCK) as s:
        print(s.portid, flush=True)
        got = 0
        expect_seq = None
        bad = 0
        while got < count:
            b = s.recv(timeout=20)
            for m in b:
                if expect_seq is None:
                    expect_seq = m.seq
                i = m.attrs().u32(1)
                data = m.attrs().bytes(2)
                if m.seq != expect_seq or i != got or data != bytes([i & 0xFF]) * (i % 50):
                    bad += 1
                expect_seq = m.seq + 1
                got += 1
        return {"got": got, "bad": bad}


def mcast(count: int, rcvbuf: int) -> dict[str, object]:
    with nlfast.Socket(nlfast.NETLINK_USERSOCK, groups=[3], rcvbuf=rcvbuf) as s:
        print("ready", flush=True)
        sys.stdin.readline()
        got = overrun = 0
        while True:
            try:
                b = s.recv(timeout=0.5)
            except nlfast.OverrunError as e:
                overrun += 1
                drops = e.drops
                continue
            except TimeoutError:
                break
            got += len(b)
        return {"got": got, "overruns": overrun, "drops": s.drops(),
                "drops_at_error": drops if overrun else None}


if __name__ == "__main__":
    mode, n = sys.argv[1], int(sys.argv[2])
    out = unicast(n) if mode == "unicast" else mcast(n, int(sys.argv[3]))
    print(json.dumps(out), flush=True)
