"""nlfast's benchmark suite: nlfast beside the alternatives, on one kernel.

``python -m benchmarks.run`` (``make bench``) measures every workload with
every contender, interleaved, and writes results/ (JSON, markdown, PNG).
``python -m benchmarks.run --list`` names the workloads.

Each measurement runs in its own process (``python -m benchmarks.worker``
or the C ceiling client ``benchmarks/c/nlceil``) that prints one JSON
object, so contenders never share an interpreter, a socket or a heap.  In
the QEMU guest (``--guest``), where an interpreter takes seconds to start,
each Python contender keeps one worker process for all its measurements
(``worker --serve``); contenders still never share one.

This package imports nothing outside the standard library at import time:
a worker imports nlfast or pyroute2 only for the contender it runs.
"""
