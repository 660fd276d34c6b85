#!/usr/bin/env python3
"""Self-test for guest/vm.py: checks exit codes of the success and failure
paths (command status, insmod failure, WARN, SLUB redzone / use-after-free,
oops, timeout) plus the log scanner on canned logs.

    python3 guest/selftest.py [-k NAME] [--quick]

Builds guest/testmod/vmtest.c against /usr/src/linux-headers-<kver> into
build/guest/testmod/.  Takes ~1-2 minutes under TCG.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.dont_write_bytecode = True
sys.path.insert(0, str(HERE))
import vm  # noqa: E402

CANNED_WARN = """\
[   12.345678] ------------[ cut here ]------------
[   12.345679] WARNING: CPU: 0 PID: 99 at net/netlink/af_netlink.c:123 foo+0x1/0x2 [nlfast]
[   12.345680] Modules linked in: nlfast(OE)
[   12.345681] Call Trace:
[   12.345682]  <TASK>
[   12.345683]  dump_stack_lvl+0x44/0x5c
[   12.345684]  </TASK>
[   12.345685] ---[ end trace 0000000000000000 ]---
@@NLFAST:abc:TAINTED:12800
"""
CANNED_CLEAN = """\
[    0.000000] Linux version 6.1.0-56-amd64
[    3.100000] nlfast: loading out-of-tree module taints kernel.
[    3.100001] nlfast: module verification failed: signature and/or required key missing - tainting kernel
@@NLFAST:abc:TAINTED:12288
"""
CANNED_SLUB = """\
[    5.716250] =============================================================================
[    5.716250] BUG kmalloc-32 (Tainted: G           OE     ): Right Redzone overwritten
[    5.716250] -----------------------------------------------------------------------------
[    5.716250] Redzone  ffff888006c6f2c0: 5a cc cc cc cc cc cc cc                          Z.......
@@NLFAST:abc:TAINTED:12320
"""
CANNED_TAINT_ONLY = """\
[    1.0] all quiet
@@NLFAST:abc:TAINTED:512
"""


def run(argv: list[str], timeout: float = 300) -> tuple[int, str, float]:
    t = time.monotonic()
    p = subprocess.run([sys.executable, str(HERE / "vm.py"), *argv], capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr, time.monotonic() - t


def build_testmod(kver: str) -> Path:
    out = vm.checkout_dir() / "build" / "guest" / "testmod"
    out.mkdir(parents=True, exist_ok=True)
    for f in ("vmtest.c", "Kbuild"):
        src = HERE / "testmod" / f
        if not (out / f).exists() or (out / f).read_bytes() != src.read_bytes():
            shutil.copyfile(src, out / f)
    subprocess.run(["make", "-s", "-C", f"/usr/src/linux-headers-{kver}", f"M={out}", "modules"],
                   check=True, stdout=subprocess.DEVNULL)
    return out / "vmtest.ko"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", help="only run cases whose name contains this")
    ap.add_argument("--quick", action="store_true", help="skip the slower guest cases")
    a = ap.parse_args()

    kver = vm.find_kver()
    ko = str(build_testmod(kver))
    cases: list[tuple[str, list[str], int, str | None]] = [
        # name, vm.py args, expected exit code, text expected in the output
        ("true", ["--", "true"], 0, "kernel log clean"),
        ("exit3", ["--", "sh", "-c", "exit 3"], 3, None),
        ("env+cwd", ["--env", "FOO=a b", "--", "sh", "-c",
                     'test "$FOO" = "a b" && test "$PWD" = "$0" && test "$HOME" = /root',
                     str(vm.checkout_dir())], 0, None),
        ("setpriv", ["--", "setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                     "--inh-caps=-all", "id"], 0, "uid=65534"),
        ("netns", ["--", "sh", "-c", "ip netns add a && ip netns list && ip -n a link"], 0,
         "LOOPBACK"),
        ("module-ok", ["--module", ko, "--", "sh", "-c",
                       "grep -q '^vmtest ' /proc/modules"], 0, "taint 12288"),
        ("module-in-guest", ["--", "sh", "-c",
                             f"/sbin/insmod {ko} && /sbin/rmmod vmtest && busybox insmod {ko} "
                             "&& busybox rmmod vmtest"], 0, None),
        ("insmod-fails", ["--module", ko, "--module-args", "mode=fail", "--", "true"], 121,
         "insmod failed"),
        ("warn", ["--module", ko, "--module-args", "mode=warn", "--", "true"], 120, "WARNING:"),
        ("slub-redzone", ["--module", ko, "--module-args", "mode=redzone", "--", "true"], 120,
         "Redzone overwritten"),
        ("slub-uaf", ["--module", ko, "--module-args", "mode=uaf", "--", "true"], 120,
         "Poison overwritten"),
        ("oops", ["--module", ko, "--module-args", "mode=oops", "--", "true"], 120,
         "NULL pointer dereference"),
        ("timeout", ["--timeout", "12", "--", "sleep", "60"], 124, "TIMEOUT"),
    ]
    if a.quick:
        cases = [c for c in cases if c[0] in ("true", "exit3", "warn", "slub-redzone")]
    failures = 0

    # log scanner on canned logs (no guest needed)
    canned = [("canned-warn", CANNED_WARN, 120), ("canned-clean", CANNED_CLEAN, 0),
              ("canned-slub", CANNED_SLUB, 120), ("canned-taint-W", CANNED_TAINT_ONLY, 120)]
    with tempfile.TemporaryDirectory() as td:
        for name, text, want in canned:
            if a.k and a.k not in name:
                continue
            f = Path(td) / "log"
            f.write_text(text)
            rc, out, dt = run(["--scan-log", str(f)])
            ok = rc == want
            failures += not ok
            print(f"{'PASS' if ok else 'FAIL'} {name}: exit {rc} (want {want})")
            if not ok:
                print(out)

    for name, argv, want, text in cases:
        if a.k and a.k not in name:
            continue
        rc, out, dt = run(argv)
        ok = rc == want and (text is None or text in out)
        failures += not ok
        print(f"{'PASS' if ok else 'FAIL'} {name}: exit {rc} (want {want}), {dt:.1f}s")
        if not ok:
            print("    " + out.replace("\n", "\n    "))
    print("all passed" if not failures else f"{failures} FAILED")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
