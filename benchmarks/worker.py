"""One measurement in a process of its own.

    python -m benchmarks.worker WORKLOAD CONTENDER [key=value ...]

runs the contender's function for the workload and prints one JSON object
on stdout: at least ``count`` (entries/messages handled), ``units`` (how
many of what ``count=`` asked for were done: dumps or messages),
``seconds`` (of the measured loop only: no interpreter start, import or
socket setup) and ``rate``, plus ``maxrss_kib`` of the process.  Receivers
print ``READY <portid>`` on stderr once bound, as nlceil does.
"""

from __future__ import annotations

import importlib
import json
import resource
import sys
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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
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
    res.setdefault("units", res["count"])
    res["rate"] = res["count"] / res["seconds"] if res["seconds"] > 0 else 0.0
    res["workload"] = workload
    res["contender"] = contender
    res["maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
