"""One measurement in a process of its own.

    python -m benchmarks.worker WORKLOAD CONTENDER [key=value ...]

runs the contender's function for the workload and prints one JSON object
on stdout: at least ``count`` (entries/messages handled), ``units`` (how
many of what ``count=`` asked for were done: dumps or messages),
``seconds`` (of the measured loop only: no interpreter start, import or
socket setup) and ``rate``, plus ``maxrss_kib`` of the process.  Receivers
print ``READY <portid>`` on stderr once bound, as nlceil does.

    python -m benchmarks.worker --serve

keeps one interpreter for many measurements (the guest, where starting
Python costs seconds and importing pyroute2 ~15 s under TCG): it reads one
request per line on stdin, a JSON list ``[WORKLOAD, CONTENDER, {params}]``,
and answers each with one JSON line on stdout: the result as above, or
``{"na": why}`` or ``{"error": why}``.  Only the measured loop is timed,
so what the interpreter did before does not count; a full collection runs
between measurements, outside them.
"""

from __future__ import annotations

import gc
import importlib
import json
import resource
import sys
import traceback
from typing import Any, Callable

MODULES = ("benchmarks.rtnl", "benchmarks.usersock", "benchmarks.family")

Worker = Callable[..., dict]


def registry() -> dict[tuple[str, str], Worker]:
    out: dict[tuple[str, str], Worker] = {}
    for name in MODULES:
        out.update(importlib.import_module(name).WORKERS)
    return out


def parse_value(v: str) -> Any:
    for conv in (int, float):
        try:
            return conv(v)
        except ValueError:
            pass
    return v


def finish(res: dict[str, Any], workload: str, contender: str) -> dict[str, Any]:
    res.setdefault("units", res["count"])
    res["rate"] = res["count"] / res["seconds"] if res["seconds"] > 0 else 0.0
    res["workload"] = workload
    res["contender"] = contender
    res["maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return res


def serve() -> int:
    """Measurements on request, one per stdin line, until EOF."""
    from benchmarks.core import NotApplicable

    workers = registry()
    out = sys.stdout
    sys.stdout = sys.stderr  # what a worker prints must not mix with the answers
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            workload, contender, params = json.loads(line)
            fn = workers.get((workload, contender))
            if fn is None:
                ans: dict[str, Any] = {"error": f"no contender {contender!r} for workload "
                                                f"{workload!r}"}
            else:
                gc.collect()
                ans = finish(fn(**params), workload, contender)
        except NotApplicable as e:
            ans = {"na": str(e)}
        except Exception as e:
            traceback.print_exc(file=sys.stderr)
            ans = {"error": f"{type(e).__name__}: {e}"}
        out.write(json.dumps(ans) + "\n")
        out.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--serve"]:
        return serve()
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    workload, contender, *rest = argv
    fn = registry().get((workload, contender))
    if fn is None:
        print(f"worker: no contender {contender!r} for workload {workload!r}", file=sys.stderr)
        return 2
    params: dict[str, Any] = {}
    for item in rest:
        key, sep, value = item.partition("=")
        if not sep:
            print(f"worker: expected key=value, got {item!r}", file=sys.stderr)
            return 2
        params[key] = parse_value(value)
    from benchmarks.core import NotApplicable

    try:
        res = fn(**params)
    except NotApplicable as e:
        print(f"n/a: {e}", file=sys.stderr)
        return 3
    print(json.dumps(finish(res, workload, contender)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
