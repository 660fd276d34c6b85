"""The harness: where processes run, how one measurement is taken, and
what a workload is.

A :class:`Workload` knows its contenders and how to run one measurement of
one contender (:meth:`Workload.measure`), which returns the worker's (or
nlceil's) JSON with ``count``, ``seconds``, ``rate`` and ``units``.  The
runner (benchmarks.run) interleaves contenders and repeats.
"""

# Workload classes carry their settings as class attributes.
# ruff: noqa: RUF012

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NLCEIL = ROOT / "benchmarks" / "c" / "nlceil"
TIME = "/usr/bin/time"

# Display names, in table order.
NAMES = {
    "c": "C ceiling (nlceil)",
    "nlfast": "nlfast batch",
    "nlfast-request_many": "nlfast request_many",
    "nlfast-send_batch": "nlfast send_batch",
    "nlfast-simple": "nlfast simple",
    "stdlib": "stdlib batched",
    "stdlib-simple": "stdlib simple",
    "pyroute2": "pyroute2",
}
PURE_PYTHON = ("stdlib", "stdlib-simple", "pyroute2")
NLFAST = ("nlfast", "nlfast-request_many", "nlfast-send_batch", "nlfast-simple")


class RunError(RuntimeError):
    """One measurement failed; the message says why (the run goes on)."""


class NotApplicable(RuntimeError):
    """This contender cannot do this workload (the table says n/a and why)."""


@dataclass
class Ctx:
    """Where and how measurements run."""

    netns: str | None = None  # None: the current namespace (the guest)
    python: str = sys.executable
    nlceil: Path = NLCEIL
    seconds: float = 0.3  # aimed-for length of one measured loop
    quick: bool = False
    verbose: bool = False
    timeout: float = 120.0
    procs: list[subprocess.Popen[str]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # e.g. ifindex, namespace sizes
    pycache: str | None = None  # a private PYTHONPYCACHEPREFIX for the import timings
    # Python contenders measured by one long-lived worker each (worker --serve)
    # instead of a process per measurement: the guest, where an interpreter
    # takes ~2.5 s to start and pyroute2 ~15 s to import under TCG.
    serve: bool = False
    servers: dict[str, Server] = field(default_factory=dict)

    # -- command lines --------------------------------------------------------

    def wrap(self, argv: list[str]) -> list[str]:
        if self.netns is None:
            return argv
        return ["ip", "netns", "exec", self.netns, *argv]

    def worker(self, workload: str, contender: str, **params: Any) -> list[str]:
        kv = [f"{k}={v}" for k, v in params.items()]
        return self.wrap([self.python, "-m", "benchmarks.worker", workload, contender, *kv])

    def c(self, workload: str, **opts: Any) -> list[str]:
        if not self.nlceil.exists():
            raise RunError(f"{self.nlceil} is not built (make -C benchmarks/c)")
        args = [str(self.nlceil), workload]
        for k, v in opts.items():
            args += [f"--{k.replace('_', '-')}", str(v)]
        return self.wrap(args)

    # -- processes ---------------------------------------------------------------

    def env(self, extra: dict[str, str | None] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        for k, v in (extra or {}).items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def start(self, argv: list[str],
              env: dict[str, str | None] | None = None) -> subprocess.Popen[str]:
        if self.verbose:
            print("  $ " + " ".join(argv), file=sys.stderr)
        p = subprocess.Popen(argv, cwd=ROOT, env=self.env(env), text=True,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        self.procs.append(p)
        return p

    def finish(self, p: subprocess.Popen[str], timeout: float | None = None) -> dict[str, Any]:
        """Waits for p and returns the JSON object it printed last."""
        try:
            out, err = p.communicate(timeout=self.timeout if timeout is None else timeout)
        except subprocess.TimeoutExpired:
            self.kill(p)
            out, err = p.communicate()
            raise RunError(f"timed out: {tail(err)}") from None
        finally:
            if p in self.procs:
                self.procs.remove(p)
        return parse_json(p.returncode, out, err)

    def call(self, workload: str, contender: str, timeout: float | None = None,
             **params: Any) -> dict[str, Any]:
        """One measurement of a Python contender: in a process of its own, or
        (``serve``) by the contender's long-lived worker."""
        if not self.serve:
            return self.run(self.worker(workload, contender, **params), timeout)
        srv = self.servers.get(contender)
        if srv is None or srv.proc.poll() is not None:
            argv = self.wrap([self.python, "-m", "benchmarks.worker", "--serve"])
            if self.verbose:
                print(f"  $ {' '.join(argv)}   # {contender}", file=sys.stderr)
            srv = self.servers[contender] = Server(argv, self.env())
        if self.verbose:
            print(f"  > {contender}: {workload} {params}", file=sys.stderr)
        try:
            return srv.call(workload, contender, params,
                            self.timeout if timeout is None else timeout)
        except RunError:
            if srv.proc.poll() is not None or srv.dead:
                self.servers.pop(contender, None)
            raise

    def close_servers(self) -> None:
        for srv in self.servers.values():
            srv.close()
        self.servers.clear()

    def run(self, argv: list[str], timeout: float | None = None,
            env: dict[str, str | None] | None = None) -> dict[str, Any]:
        return self.finish(self.start(argv, env), timeout)

    def run_peak_rss(self, argv: list[str]) -> tuple[dict[str, Any], int]:
        """Runs argv under GNU time; returns its JSON and its peak RSS in KiB.

        Not wait4() on our own child: a child forked (or vforked) from this
        process starts its high-water mark at this process's RSS, and exec
        keeps it; GNU time is small, so what it reports is the command's own.
        """
        if not Path(TIME).exists():
            raise RunError(f"{TIME} (GNU time) is not installed: apt-get install time")
        fd, path = tempfile.mkstemp(prefix="nlfast-bench-rss-")
        os.close(fd)
        try:
            res = self.run([TIME, "-f", "%M", "-o", path, *argv])
            text = Path(path).read_text().strip().splitlines()
        finally:
            os.unlink(path)
        try:
            return res, int(text[-1])
        except (IndexError, ValueError):
            raise RunError(f"GNU time printed no peak RSS: {text!r}") from None

    def wait_ready(self, p: subprocess.Popen[str], timeout: float = 30.0) -> int:
        """Reads p's stderr up to its ``READY <portid>`` line."""
        assert p.stderr is not None
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or (p.poll() is not None and not select.select([p.stderr], [], [], 0)[0]):
                self.kill(p)
                _, err = p.communicate()
                raise RunError(f"receiver never got ready: {tail(''.join(seen) + err)}")
            if select.select([p.stderr], [], [], min(left, 0.5))[0]:
                line = p.stderr.readline()
                if line.startswith("READY "):
                    return int(line.split()[1])
                seen.append(line)

    def kill(self, p: subprocess.Popen[str]) -> None:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(5)

    def kill_all(self) -> None:
        for p in list(self.procs):
            self.kill(p)
        self.procs.clear()


class Server:
    """A ``python -m benchmarks.worker --serve`` process: requests as JSON
    lines on its stdin, one JSON answer line each on its stdout."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.err = tempfile.TemporaryFile(prefix="nlfast-bench-serve-")  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err, bufsize=0)
        self.buf = b""
        self.dead = False

    def stderr_tail(self) -> str:
        self.err.seek(0)
        return tail(self.err.read().decode(errors="replace"))

    def call(self, workload: str, contender: str, params: dict[str, Any],
             timeout: float) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.err.seek(0)
        self.err.truncate()
        try:
            self.proc.stdin.write((json.dumps([workload, contender, params]) + "\n").encode())
        except OSError:
            self.kill()
            raise RunError(f"worker gone (exit {self.proc.returncode}): "
                           f"{self.stderr_tail()}") from None
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise RunError(f"timed out after {timeout:.0f} s: {self.stderr_tail()}")
            if select.select([fd], [], [], min(left, 1.0))[0]:
                chunk = os.read(fd, 65536)
                if not chunk:
                    self.kill()
                    raise RunError(f"worker died (exit {self.proc.returncode}): "
                                   f"{self.stderr_tail()}")
                self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        try:
            ans: dict[str, Any] = json.loads(line)
        except json.JSONDecodeError as e:
            self.kill()
            raise RunError(f"bad JSON ({e}): {line[:200]!r}") from None
        if "na" in ans:
            raise NotApplicable(ans["na"])
        if "error" in ans:
            text = self.stderr_tail()  # the traceback's last lines
            raise RunError(ans["error"] if text == "(no output)" else text)
        return ans

    def kill(self) -> None:
        self.dead = True
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)

    def close(self) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.kill()
        self.err.close()


def tail(text: str, n: int = 3) -> str:
    lines = [x for x in text.strip().splitlines() if x.strip()]
    return " | ".join(lines[-n:]) if lines else "(no output)"


def parse_json(rc: int | None, out: str, err: str) -> dict[str, Any]:
    if rc != 0:
        text = tail(err)
        if "n/a:" in text:
            raise NotApplicable(text[text.index("n/a:") + 4 :].strip())
        raise RunError(f"exit {rc}: {text}")
    for line in reversed(out.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                res: dict[str, Any] = json.loads(line)
            except json.JSONDecodeError as e:
                raise RunError(f"bad JSON ({e}): {line[:200]}") from None
            return res
    raise RunError(f"printed no JSON: {tail(out + err)}")


@dataclass
class Target:
    """What nlfast (its batch path) should reach in a workload."""

    vs_c: float | None = None  # at least this fraction of the C ceiling
    vs_pyroute2: float | None = 100.0  # at least this many times pyroute2

    def text(self) -> str:
        parts = []
        if self.vs_c is not None:
            parts.append(f">={self.vs_c:g}x C")
        if self.vs_pyroute2 is not None:
            parts.append(f">={self.vs_pyroute2:g}x pyroute2")
        return ", ".join(parts)


class Workload:
    """One rate workload: the same work per message for every contender."""

    name = ""
    title = ""
    unit = "msgs/s"
    tier = "host"  # or "guest"
    kind = "rate"  # or "footprint"
    contenders: tuple[str, ...] = ("c", "nlfast", "nlfast-simple", "stdlib", "stdlib-simple",
                                   "pyroute2")
    # A rough rate (units per second) per contender, to size the first run.
    expected: dict[str, float] = {}
    calibrate = True  # later runs are sized from the first one's rate
    warmup = True  # an uncounted first round (sizes the runs, warms caches)
    max_repeat: int | None = None  # at most this many counted rounds
    min_units = 1
    max_units = 1 << 31
    target: Target | None = None
    notes = ""
    na: dict[str, str] = {}  # contender -> why it cannot take part
    names: dict[str, str] = {}  # display names other than core.NAMES
    row_notes: dict[str, str] = {}  # contender -> a remark for its row
    lossy = False  # losses are part of the result (multicast)

    def describe(self) -> str:
        return self.title

    def first_units(self, contender: str, ctx: Ctx) -> int:
        rate = self.expected.get(contender, 1e5)
        return self.clamp(rate * ctx.seconds * 0.3)

    def next_units(self, res: dict[str, Any], ctx: Ctx) -> int:
        if res["seconds"] <= 0:
            return self.clamp(res["units"] * 2)
        return self.clamp(res["units"] * ctx.seconds / res["seconds"])

    def clamp(self, units: float) -> int:
        return int(max(self.min_units, min(self.max_units, round(units))))

    def measure(self, ctx: Ctx, contender: str, units: int) -> dict[str, Any]:
        raise NotImplementedError


class WorkerWorkload(Workload):
    """A workload whose Python contenders are benchmarks.worker functions and
    whose C contender is one nlceil command."""

    params: dict[str, Any] = {}

    def c_command(self, ctx: Ctx, units: int) -> list[str]:
        raise NotImplementedError

    def c_units(self, res: dict[str, Any]) -> int:
        return int(res["count"])

    def measure(self, ctx: Ctx, contender: str, units: int) -> dict[str, Any]:
        if contender in self.na:
            raise NotApplicable(self.na[contender])
        if contender == "c":
            res = ctx.run(self.c_command(ctx, units))
            check_c(res)
            res["units"] = self.c_units(res)
            return res
        return ctx.run(ctx.worker(self.name, contender, count=units, **self.params))


def check_c(res: dict[str, Any]) -> None:
    """nlceil reports what went wrong in counters rather than failing."""
    bad = {k: res.get(k, 0) for k in ("errors", "malformed", "truncated", "unexpected",
                                      "missing", "bad_replies", "lost", "timeouts")}
    bad = {k: v for k, v in bad.items() if v}
    if bad:
        raise RunError(f"nlceil counted {bad} {res.get('first_error', '')}".strip())
