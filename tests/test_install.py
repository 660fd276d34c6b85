"""`pip install .` in a fresh venv builds the shim and installs every module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]


def test_pip_install_in_a_fresh_venv(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", str(TOP)], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    code = (
        "import nlfast, nlfast.cli, nlfast.family as F\n"
        "assert '/site-packages/' in nlfast.__file__, nlfast.__file__\n"
        "with nlfast.Socket(nlfast.NETLINK_ROUTE) as s:\n"
        "    assert list(s.dump_messages(nlfast.Message(18, header=bytes(16))))\n"
        "print(F.NLFAM_MSG_ECHO)\n"
    )
    r = subprocess.run([str(py), "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "18"
    r = subprocess.run([str(venv / "bin" / "nlfast"), "load", "--help"], capture_output=True,
                       text=True, cwd=tmp_path)
    assert r.returncode == 0 and "usage" in r.stdout
