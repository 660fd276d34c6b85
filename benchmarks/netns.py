"""The benchmark's private network namespace: thousands of veth links and
IPv4 addresses, made with ``ip -batch`` and deleted at the end whatever
happens (Ctrl-C, SIGTERM, a failure; a namespace left by a run that was
killed outright is deleted by the next run)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

PREFIX = "nlfast-bench-"


def _ip(*args: str, input: str | None = None) -> str:
    p = subprocess.run(["ip", *args], input=input, capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError(f"ip {' '.join(args[:4])}...: {p.stderr.strip() or p.returncode}")
    return p.stdout


def stale() -> list[str]:
    """Namespaces left by benchmark runs whose process is gone."""
    out = []
    for line in _ip("netns", "list").splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.fullmatch(re.escape(PREFIX) + r"(\d+)", name)
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            out.append(name)
    return out


def _raise_exit(signum: int, frame: Any) -> None:
    # as Ctrl-C does: the runner deletes the namespace and reports what it has
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def bench_netns(pairs: int, addrs: int) -> Iterator[dict[str, Any]]:
    """A namespace with ``pairs`` veth pairs (2*pairs+1 links with lo, which
    stays down) and ``addrs`` IPv4 /32 addresses spread over them."""
    for name in stale():
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
    name = f"{PREFIX}{os.getpid()}"
    old_term = signal.signal(signal.SIGTERM, _raise_exit)
    old_hup = signal.signal(signal.SIGHUP, _raise_exit)
    t0 = time.monotonic()
    _ip("netns", "add", name)
    try:
        for lo in range(0, pairs, 1000):
            _ip("-n", name, "-batch", "-", input="".join(
                f"link add va{i} type veth peer name vb{i}\n" for i in range(lo, min(pairs, lo + 1000))))
        if addrs:
            if not pairs:
                raise ValueError("addresses need links")
            lines = [f"addr add 10.{100 + i // 62500}.{(i // 250) % 250}.{i % 250 + 1}/32 "
                     f"dev va{i % pairs}\n" for i in range(addrs)]
            for lo in range(0, addrs, 5000):
                _ip("-n", name, "-batch", "-", input="".join(lines[lo : lo + 5000]))
        yield {"netns": name, "links": 2 * pairs + 1, "addresses": addrs,
               "setup_seconds": round(time.monotonic() - t0, 2)}
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
        signal.signal(signal.SIGTERM, old_term)
        signal.signal(signal.SIGHUP, old_hup)
