"""The README's python code blocks run as written, each in a fresh private
network namespace (its own interpreter), and print what the README says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Netns

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"^```(?:python|python3|py)[ \t]*\n(.*?)^```", README.read_text(), re.S | re.M)


def test_readme_has_python_blocks() -> None:
    assert BLOCKS
    # a block the pattern above would miss (another tag spelling) is an error
    tags = set(re.findall(r"^```(\w+)", README.read_text(), re.M))
    assert tags <= {"python", "sh"}, tags


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_python_block_runs(code: str, netns: Netns) -> None:
    r = subprocess.run(["ip", "netns", "exec", netns.name, sys.executable, "-c", code],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    # a print() with a comment promises that line of output
    for line in code.splitlines():
        m = re.search(r"^\s*print\(.*\)\s+#\s*(.+)$", line)
        if m:
            assert m.group(1).strip() in r.stdout.splitlines(), (m.group(1), r.stdout)
    if "RTM_GETLINK" in code and "dump(" in code:
        assert "[('lo', 65536)]" in r.stdout.splitlines(), r.stdout  # a fresh namespace: lo
