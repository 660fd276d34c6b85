"""nlfast's benchmark suite: nlfast beside the stdlib, pyroute2 and a C client.

``python -m benchmarks.run`` (``make bench``) runs it; ``--list`` names the
workloads.  A workload is a declaration (workloads.py), a contender a
function over it (contenders.py; the C one is c/nlceil.c), each run in a
process of its own (harness.py), summed up by report.py.  Nothing outside
the standard library is imported at import time.
"""
