"""Re-judges named mutants of a finished mutmut run with other tests, without
a new run: ``recheck.py --run build/mutation/spec --tests tests/test_x.py
NAME...`` copies the run's mutated nlfast/ beside this tree's tests into a
scratch directory and runs the tests once per mutant with
``MUTANT_UNDER_TEST`` set (what mutmut's trampolines read).  Prints KILLED or
SURVIVED for each, after checking that the tests pass with no mutant.

Run it with the mutation venv (build/mutation/venv/bin/python): the mutated
modules import mutmut.

``--in-process`` imports the mutated package once and runs pytest in one
process per call, switching ``MUTANT_UNDER_TEST`` between runs (the
trampolines read it at each call): much faster where importing the mutated
modules is slow (nlfast.spec takes seconds), but only right for mutants of
code the tests call (not of what runs at import time).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, required=True, help="the --work directory of a mutmut run")
    ap.add_argument("--tests", action="append", required=True, help="a test file (repeat it)")
    ap.add_argument("--in-process", action="store_true",
                    help="one process for all mutants (see the module's docstring)")
    ap.add_argument("names", nargs="+")
    a = ap.parse_args()
    mutated = a.run.resolve() / "mutants" / "nlfast"
    if not mutated.is_dir():
        raise SystemExit(f"{mutated}: no mutated package (has the run generated its mutants?)")
    with tempfile.TemporaryDirectory(prefix="recheck-") as tmp:
        t = Path(tmp)
        shutil.copytree(mutated, t / "nlfast", ignore=shutil.ignore_patterns("__pycache__"))
        for d in ("tests", "kernel/uapi", "csrc", "examples"):
            shutil.copytree(TOP / d, t / d, ignore=shutil.ignore_patterns("__pycache__", "mutation"))
        shutil.copy(TOP / "pyproject.toml", t / "pyproject.toml")
        for so in (TOP / "nlfast").glob("_nlfast_cffi*.so"):
            shutil.copy(so, t / "nlfast" / so.name)
        cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *a.tests]
        env = dict(os.environ, NLFAST_MUTATION="1", MUTANT_UNDER_TEST="")
        if a.in_process:
            cmd = [sys.executable, "-c", _IN_PROCESS, *a.tests, "--", *a.names]
            raise SystemExit(subprocess.run(cmd, cwd=t, env=env, check=False).returncode)
        if subprocess.run(cmd, cwd=t, env=env, capture_output=True, check=False).returncode:
            raise SystemExit("the tests fail with no mutant: fix them first")
        for name in a.names:
            env["MUTANT_UNDER_TEST"] = name
            try:
                rc = subprocess.run(cmd, cwd=t, env=env, capture_output=True, check=False,
                                    timeout=120).returncode
            except subprocess.TimeoutExpired:
                rc = -1
            print(("KILLED  " if rc else "SURVIVED"), name, flush=True)


_IN_PROCESS = """
import contextlib, io, os, sys
import pytest
i = sys.argv.index("--")
tests, names = sys.argv[1:i], sys.argv[i + 1:]
args = ["-x", "-q", "-p", "no:cacheprovider", *tests]
import nlfast.spec  # noqa: the slow import, once
def run(name):
    os.environ["MUTANT_UNDER_TEST"] = name
    with contextlib.redirect_stdout(io.StringIO()):
        return pytest.main(args)
if run(""):
    raise SystemExit("the tests fail with no mutant: fix them first")
for name in names:
    print(("KILLED  " if run(name) else "SURVIVED"), name, flush=True)
"""


if __name__ == "__main__":
    main()
