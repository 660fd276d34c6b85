"""nlfast beside the alternatives, in one run, on one kernel.

    python -m benchmarks.run                 # every host workload (make bench)
    python -m benchmarks.run --list          # the workloads, host and guest
    python -m benchmarks.run -w linkdump,getlink --repeat 3
    python -m benchmarks.run --quick         # a short smoke run
    python -m benchmarks.run --guest         # the nlfast family workloads,
                                             # inside the QEMU guest (module loaded)
    python3 guest/vm.py --module kernel/nlfast_family.ko -- \
        $PWD/.venv/bin/python -m benchmarks.run --guest   # what make bench runs

Each contender runs in a process of its own, once per round, the rounds
interleaved (A B C D, A B C D, ...) after one sizing round that is not
counted (with --guest each Python contender keeps one worker process for
all its measurements: starting an interpreter takes seconds under TCG).  The table gives the median with min and max, and ratios to the
C ceiling (benchmarks/c/nlceil), to the best pure-Python contender and to
pyroute2; results/ gets bench.json, bench.md, bench.txt and bench.png
(bench-guest.* for --guest, whose plot ``python -m benchmarks.report
results/bench-guest.json`` draws afterwards on the host).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.core import NAMES, ROOT, Ctx, NotApplicable, RunError, Workload


def workloads(guest: bool) -> list[Workload]:
    if guest:
        from benchmarks.family import GUEST_WORKLOADS

        return GUEST_WORKLOADS
    from benchmarks.host import HOST_WORKLOADS

    return HOST_WORKLOADS


def positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {v}")
    return v


def nonneg_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, not {v}")
    return v


def positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {v}")
    return v


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Benchmark nlfast against the stdlib socket module, pyroute2 and a C "
                    "ceiling client, interleaved, and write results/.",
        epilog="Needs root on the host (it makes a network namespace). "
               "--list names the workloads and contenders.")
    p.add_argument("-w", "--workloads", metavar="A,B",
                   help="comma-separated workloads to run (default: all of the tier)")
    p.add_argument("-c", "--contenders", metavar="A,B",
                   help="comma-separated contenders (default: all); names as in --list")
    p.add_argument("-r", "--repeat", type=positive_int, default=None,
                   help="counted rounds per workload (default 5; 3 with --quick)")
    p.add_argument("-s", "--seconds", type=positive_float, default=None,
                   help="aimed-for length of one measured loop (default 0.3; 0.1 with --quick)")
    p.add_argument("-q", "--quick", action="store_true",
                   help="a short run: fewer rounds, shorter loops, a smaller namespace")
    p.add_argument("-o", "--out", type=Path, default=ROOT / "results",
                   help="where to write the results (default: results/)")
    p.add_argument("--links", type=nonneg_int, default=None,
                   help="veth pairs in the namespace (default 2000; 500 with --quick)")
    p.add_argument("--addrs", type=nonneg_int, default=None,
                   help="IPv4 addresses in the namespace (default 10000; 2000 with --quick)")
    p.add_argument("--guest", action="store_true",
                   help="run the nlfast family workloads (inside the QEMU guest, module "
                        "loaded); exits 1 if any contender's measurement failed")
    p.add_argument("--proto", type=nonneg_int, default=None,
                   help="--guest: the family's netlink protocol (default: NLFAM_PROTO_DEFAULT)")
    p.add_argument("--standin", action="store_true",
                   help="--guest on a host without the module: point the family workloads at "
                        "a slow userspace stand-in on NETLINK_USERSOCK (checks the plumbing; "
                        "its numbers mean nothing)")
    p.add_argument("--plot", action=argparse.BooleanOptionalAction, default=None,
                   help="draw results/*.png (default: yes, but not with --guest, where "
                        "importing matplotlib takes a minute; python -m benchmarks.report "
                        "results/bench-guest.json draws it afterwards)")
    p.add_argument("--list", action="store_true", help="list the workloads and contenders, then exit")
    p.add_argument("-v", "--verbose", action="store_true", help="print every command run")
    return p


def list_workloads() -> str:
    lines = []
    for guest in (False, True):
        lines.append("guest workloads (--guest; nlfast family module, emulated timing):"
                     if guest else "host workloads (default):")
        for wl in workloads(guest):
            lines.append(f"  {wl.name:15s} {wl.describe()}")
            lines.append(f"  {'':15s} contenders: {', '.join(wl.contenders)}")
    lines.append("")
    lines.append("contenders:")
    for k, v in NAMES.items():
        lines.append(f"  {k:20s} {v}")
    return "\n".join(lines)


def select(args: argparse.Namespace, p: argparse.ArgumentParser) -> list[Workload]:
    tier = workloads(args.guest)
    if not args.workloads:
        return tier
    by_name = {w.name: w for w in tier}
    chosen = []
    for name in (n.strip() for n in args.workloads.split(",")):
        if not name:
            continue
        if name not in by_name:
            other = {w.name for w in workloads(not args.guest)}
            hint = (" (a guest workload: add --guest)" if name in other and not args.guest
                    else " (a host workload: drop --guest)" if name in other else "")
            p.error(f"unknown workload {name!r}{hint}; choose from: {', '.join(by_name)}")
        chosen.append(by_name[name])
    if not chosen:
        p.error("--workloads names no workload")
    return chosen


def meta_info(args: argparse.Namespace) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "kernel": platform.release(),
        "cpu": f"{cpu}, {os.cpu_count()} CPUs",
        "python": platform.python_version(),
        "tier": "guest" if args.guest else "host",
        "args": " ".join(sys.argv[1:]),
    }
    for mod in ("nlfast", "pyroute2"):
        try:
            from importlib.metadata import version

            info[mod] = version(mod)
        except Exception:
            info[mod] = "not installed"
    return info


def build_nlceil(ctx: Ctx) -> str | None:
    """Builds benchmarks/c/nlceil (make is a no-op when it is fresh)."""
    if shutil.which("make") is None or (shutil.which("gcc") is None and not ctx.nlceil.exists()):
        return None if ctx.nlceil.exists() else "make/gcc not found"
    p = subprocess.run(["make", "-s", "-C", str(ctx.nlceil.parent)], capture_output=True,
                       text=True)
    if p.returncode and not ctx.nlceil.exists():
        return "build failed: " + report_tail(p.stderr)
    return None


def report_tail(text: str) -> str:
    lines = [x for x in text.strip().splitlines() if x.strip()]
    return " | ".join(lines[-2:])


def have(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def run_workload(wl: Workload, ctx: Ctx, repeat: int, contenders: list[str],
                 na_global: dict[str, str]) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {c: [] for c in contenders}
    errors: dict[str, str] = {}
    na: dict[str, str] = {c: why for c, why in na_global.items() if c in contenders}
    units = {c: wl.first_units(c, ctx) for c in contenders}

    def one(c: str, counted: bool) -> None:
        if c in na or c in errors:
            return
        try:
            res = wl.measure(ctx, c, units[c])
        except NotApplicable as e:
            na[c] = str(e)
            return
        except RunError as e:
            errors[c] = str(e)
            ctx.kill_all()
            return
        if counted:
            runs[c].append(res)
        if wl.calibrate:
            units[c] = wl.next_units(res, ctx)

    if wl.max_repeat:
        repeat = min(repeat, wl.max_repeat)
    # the first round sizes the runs, uncounted
    rounds = [False] * wl.warmup + [True] * repeat
    for i, counted in enumerate(rounds, start=int(not wl.warmup)):
        label = "sizing" if not counted else f"round {i}/{repeat}"
        t0 = time.monotonic()
        for c in contenders:
            one(c, counted)
        if counted:
            key = "rate" if wl.kind == "rate" else "value"
            cells = [f"{c} {report.si(runs[c][-1][key]) if runs[c] else '-'}" for c in contenders]
            progress(f"  [{wl.name}] {label} ({time.monotonic() - t0:.1f} s): " + "  ".join(cells))
    for c in list(errors):
        if runs[c]:  # it worked in some rounds: keep those, note the failure
            errors[c] = f"{len(runs[c])} runs kept; one failed: {errors[c]}"
    return report.summarize(wl, runs, errors, na)


def progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.list:
        print(list_workloads())
        return 0
    chosen = select(args, p)
    repeat = args.repeat or (3 if args.quick else 5)
    seconds = args.seconds or (0.1 if args.quick else 0.3)
    all_contenders = list(NAMES)
    if args.contenders:
        want = [c.strip() for c in args.contenders.split(",") if c.strip()]
        bad = [c for c in want if c not in NAMES]
        if bad:
            p.error(f"unknown contender(s) {', '.join(bad)}; choose from: {', '.join(NAMES)}")
        all_contenders = want
    if args.proto is not None and not args.guest:
        p.error("--proto only applies with --guest")
    if args.standin and not args.guest:
        p.error("--standin only applies with --guest")
    if args.standin and args.proto is not None:
        p.error("--standin picks the protocol itself (NETLINK_USERSOCK): drop --proto")
    if not args.guest or args.standin:
        if os.geteuid() != 0:
            p.error("the host workloads need root (they make a network namespace): "
                    "run as root, e.g. sudo make bench")
        if shutil.which("ip") is None:
            p.error("the `ip` command (iproute2) is not installed")
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        p.error(f"cannot create --out {args.out}: {e.strerror}")
    if not os.access(args.out, os.W_OK):
        p.error(f"--out {args.out} is not writable")

    t_start = time.monotonic()
    ctx = Ctx(seconds=seconds, quick=args.quick, verbose=args.verbose,
              pycache=tempfile.mkdtemp(prefix="nlfast-bench-pycache-"), serve=args.guest)
    meta = meta_info(args)
    meta.update(repeat=repeat, seconds_per_run=seconds)
    if ctx.serve:
        meta["workers"] = ("one long-lived worker process per Python contender, reused "
                           "across rounds and workloads (only the measured loop is timed); "
                           "fam-dump-rss uses a fresh process per run")
    na_global: dict[str, str] = {}
    why = build_nlceil(ctx)
    if why or not ctx.nlceil.exists():
        na_global["c"] = f"nlceil unavailable ({why or 'not built'})"
    if not have("pyroute2"):
        na_global["pyroute2"] = "pyroute2 is not installed (pip install -e '.[bench]')"
    if not have("nlfast"):
        p.error("nlfast is not importable: install it (pip install -e .)")

    summaries: list[dict[str, Any]] = []
    interrupted = False
    try:
        if args.guest and args.standin:
            from benchmarks.netns import bench_netns

            with bench_netns(0, 0) as ns:
                ctx.netns = ns["netns"]
                peer = ctx.start(ctx.wrap([ctx.python, "-m", "benchmarks.standin"]))
                ctx.facts.update(proto=2, peer=ctx.wait_ready(peer))
                ctx.procs.remove(peer)  # kept alive across the runs' kill_all
                meta["tier"] = "guest"
                meta["warning"] = ("STAND-IN RUN: the family is a userspace stand-in on "
                                   "NETLINK_USERSOCK; these numbers mean nothing")
                progress(meta["warning"])
                try:
                    for wl in chosen:
                        progress(f"{wl.name}: {wl.describe()}")
                        cs = [c for c in wl.contenders if c in all_contenders]
                        summaries.append(run_workload(wl, ctx, repeat, cs, na_global))
                finally:
                    ctx.kill(peer)
        elif args.guest:
            from benchmarks.family import guest_setup

            meta.update(guest_setup(ctx, args.proto))
            meta["warning"] = report.GUEST_WARNING
            progress(report.GUEST_WARNING)
            for wl in chosen:
                progress(f"{wl.name}: {wl.describe()}")
                cs = [c for c in wl.contenders if c in all_contenders]
                summaries.append(run_workload(wl, ctx, repeat, cs, na_global))
        else:
            from benchmarks.netns import bench_netns

            pairs = args.links if args.links is not None else (500 if args.quick else 2000)
            addrs = args.addrs if args.addrs is not None else (2000 if args.quick else 10000)
            if addrs and not pairs:
                p.error("--addrs needs --links > 0")
            progress(f"making namespace: {pairs} veth pairs, {addrs} addresses ...")
            with bench_netns(pairs, addrs) as ns:
                ctx.netns = ns["netns"]
                ctx.facts.update(ns)
                meta["namespace"] = (f"{ns['links']} links, {ns['addresses']} IPv4 "
                                     f"addresses (made in {ns['setup_seconds']} s)")
                for wl in chosen:
                    progress(f"{wl.name}: {wl.describe()}")
                    cs = [c for c in wl.contenders if c in all_contenders]
                    summaries.append(run_workload(wl, ctx, repeat, cs, na_global))
                ctx.kill_all()
    except KeyboardInterrupt:
        ctx.kill_all()
        interrupted = True
        progress("interrupted: the namespace is deleted; "
                 + ("the workloads that finished follow" if summaries
                    else "no workload had finished: nothing written"))
    finally:
        ctx.kill_all()
        ctx.close_servers()
        shutil.rmtree(ctx.pycache, ignore_errors=True)
    meta["wall_seconds"] = round(time.monotonic() - t_start, 1)
    if not summaries:
        return 130
    draw = args.plot if args.plot is not None else not (args.guest and not args.standin)
    paths = report.write(summaries, meta, args.out, draw=draw)
    print(report.text_table(summaries, meta))
    if "plot" in meta:
        progress(meta["plot"])
    progress("wrote " + ", ".join(str(x) for x in paths))
    if interrupted:
        return 130
    failed = [f"{s['name']}/{r['contender']}" for s in summaries for r in s["rows"]
              if "error" in r]
    if failed and args.guest:
        # the guest run checks the module's workloads end to end: a failure is one
        progress(f"FAILED: {len(failed)} measurement(s) failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
