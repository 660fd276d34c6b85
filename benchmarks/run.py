"""nlfast beside the alternatives, in one run, on one kernel.

    python -m benchmarks.run                 # every host workload (make bench)
    python -m benchmarks.run --list          # the workloads, host and guest
    python -m benchmarks.run -w linkdump,getlink --repeat 3
    python -m benchmarks.run --quick         # a short check run
    python -m benchmarks.run --guest         # the family workloads (QEMU guest, module loaded)

Each contender runs in a process of its own, once per round, the rounds
interleaved (A B C, A B C, ...) after one sizing round that is not
counted.  results/ gets bench.json, bench.txt and bench.png
(bench-guest.* for --guest).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.util
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.contenders import NotApplicable
from benchmarks.harness import NLCEIL, ROOT, Ctx, RunError, measure
from benchmarks.workloads import GUEST, HOST, NAMES, Workload


def count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a whole number >= 0: {text!r}")
    return int(text)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0],
                                epilog="Needs root on the host (it makes a network namespace).")
    p.add_argument("-w", "--workloads", metavar="A,B", help="workloads to run (default: all of the tier)")
    p.add_argument("-c", "--contenders", metavar="A,B", help="contenders (default: all); see --list")
    p.add_argument("-r", "--repeat", type=count, help="counted rounds (default 5; 3 with --quick)")
    p.add_argument("-s", "--seconds", type=float, help="aimed-for length of one run (default 0.3; 0.1 with --quick)")
    p.add_argument("-q", "--quick", action="store_true", help="fewer rounds, shorter runs, a smaller namespace")
    p.add_argument("-o", "--out", type=Path, default=ROOT / "results", help="where results go (results/)")
    p.add_argument("--links", type=count, help="veth pairs in the namespace (2000; 500 with --quick)")
    p.add_argument("--addrs", type=count, help="IPv4 addresses in the namespace (10000; 2000 with --quick)")
    p.add_argument("--guest", action="store_true", help="the nlfast family workloads (module loaded); "
                   "exits 1 if a measurement failed")
    p.add_argument("--proto", type=count, help="--guest: the family's protocol (default NLFAM_PROTO_DEFAULT)")
    p.add_argument("--plot", action=argparse.BooleanOptionalAction, help="draw the PNG (default: "
                   "yes, but not with --guest: python -m benchmarks.report draws it afterwards)")
    p.add_argument("--list", action="store_true", help="list the workloads and contenders")
    p.add_argument("-v", "--verbose", action="store_true", help="print every command run")
    return p


def list_workloads() -> str:
    lines = []
    for tier, wls in (("host (default)", HOST), ("guest (--guest)", GUEST)):
        lines.append(f"{tier}:")
        for wl in wls:
            lines += [f"  {wl.name:15s} {wl.title}", f"  {'':15s} {', '.join(wl.contenders)}"]
    return "\n".join(lines + ["", "contenders:"] + [f"  {k:24s} {v}" for k, v in NAMES.items()])


def pick(p: argparse.ArgumentParser, text: str | None, names: Any, what: str) -> list[str]:
    """The names listed in ``text`` (comma-separated; all when None)."""
    want = [n.strip() for n in text.split(",") if n.strip()] if text else list(names)
    bad = [n for n in want if n not in names]
    if bad or not want:
        p.error(f"unknown {what}(s) {', '.join(bad)}; choose from: {', '.join(names)} (--list)")
    return want


def progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def next_units(wl: Workload, ctx: Ctx, res: dict[str, Any]) -> int:
    """The units of a run of about ctx.seconds at the rate ``res`` saw."""
    secs = res["seconds"]
    return max(wl.min_units, min(1 << 31, round(res["units"] * (ctx.seconds / secs if secs > 0 else 100))))


def run_workload(wl: Workload, ctx: Ctx, repeat: int, contenders: list[str]) -> dict[str, Any]:
    """Rounds of every contender in turn.  Fixed workloads do their units;
    the others start at min_units, the uncounted sizing round grows a run
    to about ctx.seconds, and each run sizes the next."""
    runs: dict[str, list[dict[str, Any]]] = {c: [] for c in contenders}
    errors: dict[str, str] = {}
    na: dict[str, str] = {c: why for c, why in ctx.facts["na"].items() if c in contenders}
    fixed = wl.quick if ctx.quick and wl.quick else wl.fixed
    units = {c: fixed.get(c, fixed.get("*", 1)) if fixed else wl.min_units for c in contenders}
    sized = not (fixed or wl.footprint)
    repeat = min(repeat, wl.max_repeat or repeat)
    for rnd in range(-int(wl.warmup), repeat):
        for c in contenders:
            if c in na or c in errors:
                continue
            try:
                res = measure(wl, ctx, c, units[c])
                for _ in range(4 if sized and rnd < 0 else 0):  # the sizing round
                    if res["seconds"] > ctx.seconds / 4:
                        break
                    units[c] = next_units(wl, ctx, res)
                    res = measure(wl, ctx, c, units[c])
            except (NotApplicable, RunError) as e:
                (na if isinstance(e, NotApplicable) else errors)[c] = str(e)
                ctx.kill_all()
                continue
            if rnd >= 0:
                runs[c].append(res)
            if sized:
                units[c] = next_units(wl, ctx, res)
    for c in list(errors):
        if runs[c]:  # it worked in some rounds: keep those, say what failed
            errors[c] = f"{len(runs[c])} runs kept; one failed: {errors[c]}"
    return report.summarize(wl, runs, errors, na)


def meta_info(args: argparse.Namespace) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    cpu = platform.machine()
    with open("/proc/cpuinfo") as f:
        cpu = next((x.split(":", 1)[1].strip() for x in f if x.startswith("model name")), cpu)
    info = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
            "kernel": platform.release(), "cpu": f"{cpu}, {os.cpu_count()} CPUs",
            "python": platform.python_version(), "tier": "guest" if args.guest else "host",
            "args": " ".join(sys.argv[1:])}
    for mod in ("nlfast", "pyroute2"):
        info[mod] = "not installed"
        with contextlib.suppress(PackageNotFoundError):
            info[mod] = version(mod)
    return info


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.list:
        print(list_workloads())
        return 0
    tier = {w.name: w for w in (GUEST if args.guest else HOST)}
    chosen = [tier[n] for n in pick(p, args.workloads, tier, "workload")]
    contenders = pick(p, args.contenders, NAMES, "contender")
    if args.proto is not None and not args.guest:
        p.error("--proto only applies with --guest")
    if not args.guest and os.geteuid() != 0:
        p.error("the host workloads need root (they make a network namespace): sudo make bench")
    args.out.mkdir(parents=True, exist_ok=True)
    repeat = args.repeat or (3 if args.quick else 5)
    ctx = Ctx(seconds=args.seconds or (0.1 if args.quick else 0.3), quick=args.quick,
              verbose=args.verbose, serve=args.guest)
    meta = dict(meta_info(args), repeat=repeat, seconds_per_run=ctx.seconds)
    build = subprocess.run(["make", "-s", "-C", str(NLCEIL.parent)], capture_output=True, text=True)
    why = "" if NLCEIL.exists() else f"nlceil unavailable: {build.stderr.strip()[-200:]}"
    ctx.facts["na"] = {c: why for c in ("c", "c-ack", "c-sync") if why}
    if importlib.util.find_spec("pyroute2") is None:
        ctx.facts["na"]["pyroute2"] = "pyroute2 is not installed (pip install -e '.[bench]')"
    t_start = time.monotonic()
    summaries: list[dict[str, Any]] = []
    interrupted = False
    try:
        from benchmarks.netns import bench_netns

        if args.guest:
            from nlfast import Socket, family

            proto = args.proto if args.proto is not None else family.NLFAM_PROTO_DEFAULT
            try:
                Socket(proto).close()
            except OSError as e:
                p.error(f"cannot open netlink protocol {proto}: {e.strerror}; load the module first")
            ctx.facts["proto"] = meta["family_proto"] = proto
            meta["warning"] = report.GUEST_WARNING
            env = None
        else:
            pairs = args.links if args.links is not None else (500 if args.quick else 2000)
            addrs = args.addrs if args.addrs is not None else (2000 if args.quick else 10000)
            if addrs and not pairs:
                p.error("--addrs needs --links > 0")
            progress(f"making a namespace: {pairs} veth pairs, {addrs} addresses ...")
            env = bench_netns(pairs, addrs)
        if "warning" in meta:
            progress(meta["warning"])
        with env or contextlib.nullcontext() as ns:
            if ns:
                ctx.netns = ns["netns"]
                ctx.facts.update(ns)
                meta["namespace"] = f"{ns['links']} links, {ns['addresses']} IPv4 addresses"
            for i, wl in enumerate(chosen, 1):
                t0 = time.monotonic()
                s = run_workload(wl, ctx, repeat, [c for c in wl.contenders if c in contenders])
                summaries.append(s)
                progress(f"[{i}/{len(chosen)}] {wl.name} ({time.monotonic() - t0:.0f} s): "
                         + report.one_line(s))
    except KeyboardInterrupt:
        interrupted = True
        progress("interrupted: " + ("the workloads that finished follow" if summaries
                                    else "no workload had finished: nothing written"))
    finally:
        ctx.close()
    meta["wall_seconds"] = round(time.monotonic() - t_start, 1)
    if not summaries:
        return 130
    draw = args.plot if args.plot is not None else not args.guest
    paths = report.write(summaries, meta, args.out, draw=draw)
    print(report.text_table(summaries, meta))
    progress("wrote " + ", ".join(str(x) for x in paths))
    progress(meta.get("plot", ""))
    failed = [f"{s['name']}/{r['contender']}" for s in summaries for r in s["rows"] if "error" in r]
    if failed and args.guest:
        progress(f"FAILED: {len(failed)} measurement(s) failed: {', '.join(failed)}")
        return 1
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
