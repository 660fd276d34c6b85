"""How one measurement runs: every contender in a process of its own.

A Python contender runs as ``python -m benchmarks.harness JSON`` (JSON:
``[kind, contender, params]``) and prints one JSON answer; in the QEMU
guest, where an interpreter takes seconds to start, each contender keeps
one ``--serve`` process that answers such lines on stdin, one line each.
The C contender is ``benchmarks/c/nlceil``.  Receivers print ``READY
<portid>`` on stderr once bound.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.contenders import CONTENDERS, NotApplicable, maxrss
from benchmarks.nlconst import END_TYPE, NLMSGHDR
from benchmarks.workloads import Workload

ROOT = Path(__file__).resolve().parent.parent
NLCEIL = ROOT / "benchmarks" / "c" / "nlceil"
TIME = "/usr/bin/time"


class RunError(RuntimeError):
    """One measurement failed; the message says why (the run goes on)."""


def tail(text: str, n: int = 3) -> str:
    lines = [x for x in text.strip().splitlines() if x.strip()]
    return " | ".join(lines[-n:]) if lines else "(no output)"


def answer(ans: dict[str, Any], err: str = "") -> dict[str, Any]:
    """A worker's answer: the result, or NotApplicable / RunError raised."""
    if "na" in ans:
        raise NotApplicable(ans["na"])
    if "error" in ans:
        raise RunError(f"{ans['error']} | {err}")
    return ans


@dataclass
class Ctx:
    """Where and how measurements run."""

    netns: str | None = None  # None: the current namespace (the guest)
    seconds: float = 0.3  # aimed-for length of one measured loop
    quick: bool = False
    verbose: bool = False
    serve: bool = False  # one long-lived worker per Python contender (the guest)
    timeout: float = 120.0
    facts: dict[str, Any] = field(default_factory=dict)  # namespace sizes, proto, n/a
    pycache: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="nlfast-bench-pyc-"))
    procs: list[subprocess.Popen[str]] = field(default_factory=list)
    servers: dict[str, Server] = field(default_factory=dict)

    def py(self, *args: str) -> list[str]:
        return self.wrap([sys.executable, "-m", "benchmarks.harness", *args])

    def wrap(self, argv: list[str]) -> list[str]:
        return argv if self.netns is None else ["ip", "netns", "exec", self.netns, *argv]

    def nlceil(self, mode: str, **opts: Any) -> list[str]:
        if not NLCEIL.exists():
            raise RunError(f"{NLCEIL} is not built (make -C benchmarks/c)")
        return self.wrap([str(NLCEIL), mode, *[x for k, v in opts.items() for x in (f"--{k}", str(v))]])

    def start(self, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        if self.verbose:
            print("  $ " + " ".join(argv), file=sys.stderr)
        env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
        p = subprocess.Popen(argv, cwd=ROOT, env=env, text=True, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.procs.append(p)
        return p

    def finish(self, p: subprocess.Popen[str]) -> dict[str, Any]:
        """Waits for p; returns the JSON object it printed last."""
        try:
            out, err = p.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self.kill(p)
            raise RunError(f"timed out: {tail(p.communicate()[1])}") from None
        finally:
            if p in self.procs:
                self.procs.remove(p)
        lines = [x for x in out.splitlines() if x.startswith("{")]
        if p.returncode or not lines:
            raise RunError(f"exit {p.returncode}: {tail(err or out)}")
        return answer(json.loads(lines[-1]), tail(err))

    def run(self, argv: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
        return self.finish(self.start(argv, env))

    def call(self, kind: str, contender: str, params: dict[str, Any]) -> dict[str, Any]:
        """One measurement of a Python contender."""
        if not self.serve:
            return self.run(self.py(json.dumps([kind, contender, params])))
        srv = self.servers.get(contender)
        if srv is None or srv.proc.poll() is not None:
            srv = self.servers[contender] = Server(self.py("--serve"))
        return srv.call([kind, contender, params], self.timeout)

    def peak_rss(self, argv: list[str]) -> tuple[dict[str, Any], int]:
        """Runs argv under GNU time: its JSON and its peak RSS in KiB (GNU
        time is small, so what it reports is the command's own)."""
        if not Path(TIME).exists():
            raise RunError(f"{TIME} (GNU time) is not installed: apt-get install time")
        with tempfile.NamedTemporaryFile("r", prefix="nlfast-bench-rss-") as f:
            res = self.run([TIME, "-f", "%M", "-o", f.name, *argv])
            text = f.read().split()
        if not text or not text[-1].isdigit():
            raise RunError(f"GNU time printed no peak RSS: {text!r}")
        return res, int(text[-1])

    def wait_ready(self, p: subprocess.Popen[str], timeout: float = 30.0) -> int:
        """Reads p's stderr up to its ``READY <portid>`` line."""
        assert p.stderr is not None
        deadline = time.monotonic() + timeout
        seen = ""
        while time.monotonic() < deadline:
            if select.select([p.stderr], [], [], 0.5)[0]:
                line = p.stderr.readline()
                if line.startswith("READY "):
                    return int(line.split()[1])
                seen += line
                if not line:  # it exited
                    break
        self.kill(p)
        raise RunError(f"receiver never got ready: {tail(seen + p.communicate()[1])}")

    def kill(self, p: subprocess.Popen[Any]) -> None:
        with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
            p.kill()
            p.wait(5)

    def kill_all(self) -> None:
        for p in self.procs:
            self.kill(p)
        self.procs.clear()

    def close(self) -> None:
        self.kill_all()
        for srv in self.servers.values():
            srv.close()
        shutil.rmtree(self.pycache, ignore_errors=True)


class Server:
    """A ``harness --serve`` process: one JSON line in, one JSON line out."""

    def __init__(self, argv: list[str]) -> None:
        self.err = tempfile.TemporaryFile()  # noqa: SIM115 (closed with the process)
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err)

    def call(self, request: list[Any], timeout: float) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.err.seek(0)
        self.err.truncate()
        with contextlib.suppress(OSError):
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
        ready = select.select([self.proc.stdout], [], [], timeout)[0]
        line = self.proc.stdout.readline() if ready else b""
        self.err.seek(0)
        why = tail(self.err.read().decode(errors="replace"))
        if not line:
            self.close()
            raise RunError(f"worker {'timed out' if not ready else 'died'}: {why}")
        return answer(json.loads(line), why)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.stdin.close()  # type: ignore[union-attr]
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.err.close()


def check_c(res: dict[str, Any]) -> dict[str, Any]:
    """nlceil reports what went wrong in counters rather than failing."""
    bad = {k: res.get(k) for k in ("errors", "malformed", "truncated", "unexpected", "missing",
                                   "bad_replies", "lost", "timeouts", "out_of_order",
                                   "size_mismatch") if res.get(k)}
    if bad:
        raise RunError(f"nlceil counted {bad} {res.get('first_error', '')}".strip())
    return res


def send_end(ctx: Ctx, portid: int) -> None:
    """Unicasts END to a receiver in ctx's namespace.  Unicast between user
    sockets waits for room, so END lands after every message its queue took;
    a receiver that stopped reading is given up on after 10 s."""
    import socket

    import nlfast

    with contextlib.suppress(OSError), \
            nlfast.Socket(nlfast.NETLINK_USERSOCK, netns=ctx.netns) as ns, \
            socket.socket(fileno=os.dup(ns.fileno())) as s:
        s.settimeout(10.0)
        s.sendto(NLMSGHDR.pack(16, END_TYPE, 0, 0, 0), (portid, 0))  # refused: it went


def measure(wl: Workload, ctx: Ctx, c: str, units: int) -> dict[str, Any]:
    """One run of contender ``c`` doing ``units`` of workload ``wl``."""
    if c in wl.na:
        raise NotApplicable(wl.na[c])
    params = dict(wl.params, count=units, **({"proto": ctx.facts["proto"]} if wl.tier == "guest"
                                             else {}))
    mode, copts = wl.c.get(c, ("", {}))
    copts = {"repeat" if wl.per_unit else "count": units, **copts}
    if wl.tier == "guest":
        copts.update(proto=params["proto"], size=16)
    group = wl.params.get("group", 0)
    if wl.kind == "import":
        code = ("import time, json; t0 = time.perf_counter(); " + wl.params[c]
                + "; t1 = time.perf_counter(); print(json.dumps({'seconds': t1 - t0}))")
        res = ctx.run([sys.executable, "-c", code], env={"PYTHONPYCACHEPREFIX": ctx.pycache,
                                                          "PYTHONDONTWRITEBYTECODE": ""})
        res["value"] = res["seconds"] * 1000
    elif wl.kind == "rss":
        res, peak = ctx.peak_rss(ctx.nlceil(mode, **copts) if mode
                                 else ctx.py(json.dumps(["dump", c, params])))
        if mode:
            check_c(res)
        if wl.tier == "guest" and res.get("count") != units:
            raise RunError(f"the dump brought {res.get('count')} of {units} entries")
        res.update(value=peak / 1024, dump_entries=res["count"], dump_rate=res["rate"])
        if "rss_before_kib" in res:
            res["growth_mib"] = (res["rss_after_kib"] - res["rss_before_kib"]) / 1024
    elif wl.kind == "recv" and "flood" not in wl.params:  # nlceil sends to the contender
        rx = ctx.start(ctx.nlceil(mode, **copts) if mode else ctx.py(json.dumps(["recv", c, params])))
        port = ctx.wait_ready(rx)
        tx = ctx.run(ctx.nlceil("usersock-mcast-send" if group else "usersock-send", count=units,
                                batch=1024, **({"group": group} if group else {"dest": port})))
        if group:
            send_end(ctx, port)
        res = ctx.finish(rx)
        if not wl.lossy and (check_c(res) if mode else res).get("lost"):
            raise RunError(f"{res['lost']} of {units} messages lost on unicast")
        res.update(units=res["count"], sender_rate=tx["rate"])
    elif wl.kind == "send" and wl.tier == "host":  # nlceil receives
        rx = ctx.start(ctx.nlceil("usersock-recv", count=units, timeout=10))
        port = ctx.wait_ready(rx)
        res = (ctx.run(ctx.nlceil(mode, count=units, dest=port, batch=1024)) if mode
               else ctx.call("send", c, dict(params, dest=port)))
        got = check_c(ctx.finish(rx))
        if got["count"] != units:
            raise RunError(f"the receiver got {got['count']} of {units}")
        res.update(units=units, receiver_rate=got["rate"])
    elif mode:
        res = ctx.run(ctx.nlceil(mode, **copts))
        check_c(dict(res, lost=0, timeouts=0) if wl.lossy else res)
        res["units"] = res.get("repeat", units) if wl.per_unit else units
    else:
        res = ctx.call(wl.kind, c, params)
    if wl.lossy:
        res.update(units=units, loss_pct=100.0 * float(res.get("lost", 0)) / units,
                   overrun_events=int(res.get("enobufs", 0) or res.get("overruns", 0)))
    return res


def work(line: str) -> dict[str, Any]:
    """The worker side: one measurement, its result or why there is none."""
    try:
        kind, contender, params = json.loads(line)
        if (kind, contender) not in CONTENDERS:
            raise RunError(f"no contender {contender!r} for workloads of kind {kind!r}")
        gc.collect()
        res = CONTENDERS[(kind, contender)](**params)
    except NotApplicable as e:
        return {"na": str(e)}
    except Exception as e:
        traceback.print_exc()
        return {"error": f"{type(e).__name__}: {e}"}
    res["rate"] = res["count"] / res["seconds"] if res["seconds"] > 0 else 0.0
    res["maxrss_kib"] = maxrss()
    return res


def main(argv: list[str]) -> int:
    if argv == ["--serve"]:
        out, sys.stdout = sys.stdout, sys.stderr  # what a contender prints stays apart
        for line in sys.stdin:
            out.write(json.dumps(work(line)) + "\n")
            out.flush()
    elif len(argv) == 1:
        print(json.dumps(work(argv[0])), flush=True)
    else:
        print("usage: python -m benchmarks.harness '[KIND, CONTENDER, {PARAMS}]' | --serve",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
