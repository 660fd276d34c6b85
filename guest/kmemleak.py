#!/usr/bin/env python3
"""kmemleak in the debug tier's guest (run inside it, as root).

    guest/kmemleak.py clear   forget what is reported so far (boot-time objects)
    guest/kmemleak.py check   scan twice, print the report, fail (exit 1) on any
                              object allocated by nlfast_family: a frame in
                              nlfam_*/nlfast_* code, or, once the module is
                              gone, an unresolved module-space address.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

DEBUGFS = "/sys/kernel/debug"
KMEMLEAK = DEBUGFS + "/kmemleak"
# a frame of a module that is no longer loaded: "[<ffffffffc0a01234>] 0xffffffffc0a01234"
UNRESOLVED_MODULE_FRAME = re.compile(r"\[<ffffffff[c-f][0-9a-f]{7}>\]\s+0x[0-9a-f]+\s*$", re.M)
OURS = re.compile(r"\b(nlfam_|nlfast)")


def ensure_debugfs() -> None:
    if not os.path.exists(KMEMLEAK):
        subprocess.run(["mount", "-t", "debugfs", "debugfs", DEBUGFS], check=False)
    if not os.path.exists(KMEMLEAK):
        sys.exit(f"kmemleak.py: {KMEMLEAK} missing: kernel without CONFIG_DEBUG_KMEMLEAK?")


def command(cmd: str) -> None:
    with open(KMEMLEAK, "w") as f:
        f.write(cmd)


def entries(text: str) -> list[str]:
    parts = re.split(r"(?m)^(?=unreferenced object )", text)
    return [p for p in parts if p.startswith("unreferenced object ")]


def ours(entry: str) -> bool:
    return bool(OURS.search(entry) or UNRESOLVED_MODULE_FRAME.search(entry))


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in ("clear", "check"):
        sys.exit(__doc__)
    ensure_debugfs()
    if argv[1] == "clear":
        command("clear")
        return 0
    # an object is reported only when it is older than 5 s and unchanged
    # between two scans
    time.sleep(5)
    command("scan")
    command("scan")
    with open(KMEMLEAK) as f:
        report = f.read()
    found = entries(report)
    bad = [e for e in found if ours(e)]
    print(f"kmemleak: {len(found)} unreferenced object(s) since clear, "
          f"{len(bad)} from nlfast_family")
    for e in found:
        if e not in bad:
            print("  (other) " + e.splitlines()[0])
    for e in bad:
        print(e, end="")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
