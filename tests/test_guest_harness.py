"""The guest tier's judge is shown to work: guest/vm.py fails a run whose
kernel WARNs or whose SLUB debugging catches a redzone overwrite (a test
module does both on purpose), passes a clean one, and returns the command's
own exit status."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]


def test_vm_harness_catches_kernel_problems() -> None:
    r = subprocess.run([sys.executable, str(TOP / "guest" / "selftest.py"), "--quick"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    for case in ("canned-warn", "canned-slub", "true", "exit3", "warn", "slub-redzone"):
        assert f"PASS {case}" in r.stdout, r.stdout
    assert "all passed" in r.stdout
