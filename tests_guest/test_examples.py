"""The examples/ scripts, run the way a newcomer would."""

from __future__ import annotations

import subprocess
import sys

from nlfast import family as F

from .conftest import TOP


def run(name: str) -> str:
    r = subprocess.run([sys.executable, str(TOP / "examples" / name)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_hello_example() -> None:
    out = run("hello.py")
    assert f"received: {F.NLFAM_HELLO_REPLY}" in out


def test_group_multicast_example() -> None:
    out = run("group_multicast.py")
    assert f"group 2 received: {F.NLFAM_HELLO_MCAST}" in out
