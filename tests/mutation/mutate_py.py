"""Mutation testing of nlfast/ (``make mutation``): mutmut, run in a private
copy of the tree (build/mutation/py) so the worktree stays clean, each mutant
judged by the fast host test files that exercise the Python package.

Prints mutmut's verdicts, the score (killed / (killed + survived)) and the
surviving mutants' names; ``mutmut show NAME`` in build/mutation/py shows one.
``--only GLOB`` restricts the run (e.g. "nlfast.attrs*"; several globs,
separated by spaces: "nlfast.message* nlfast.rtnl*").
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
WORK = TOP / "build" / "mutation" / "py"
# The host test files that drive the package against real kernel families;
# mutmut 3 runs, for each mutant, only the tests that cover its function.
# Left out: the hypothesis state machine (test_receive_state.py) and the
# random-argument property test (test_misuse_property.py), for time;
# test_readme.py (it reads README.md, which the private copy does not hold).
# The spec tests that read the kernel's own specs need $NLFAST_KERNEL_TREE
# (make mutation sets it, as make test does).  Run it on CPython
# 3.12 or later (make mutation does): on 3.11 mutmut's trampolines set a
# ContextVar on every call, a collection inside that set runs nlfast's
# finalizers, which set it again, and CPython 3.11's HAMT frees a node still
# in use (python/cpython#148891): the interpreter crashes (test_aio.py's
# model test met it first).
TESTS = ["tests/test_framing.py", "tests/test_parse_fuzz.py", "tests/test_shim_kernel.py",
         "tests/test_errors.py", "tests/test_captured.py", "tests/test_rtnl.py",
         "tests/test_receive_path.py", "tests/test_misuse.py", "tests/test_genl.py",
         "tests/test_usersock.py", "tests/test_byteorder.py", "tests/test_spec_kernel.py",
         "tests/test_spec_examples.py", "tests/test_message.py",
         "tests/test_error_types.py", "tests/test_rtnl_headers.py", "tests/test_batch.py",
         "tests/test_aio.py", "tests/test_genl_edges.py", "tests/test_socket_edges.py",
         "tests/test_engine_edges.py", "tests/test_transport_edges.py", "tests/test_aio_edges.py",
         "tests/test_spec.py", "tests/test_spec_props.py", "tests/test_spec_cdecode.py",
         "tests/test_spec_do.py", "tests/test_spec_kernel_tree.py",
         "tests/test_spec_compile_edges.py", "tests/test_spec_family_edges.py",
         "tests/test_spec_codec_edges.py", "tests/test_spec_do_edges.py"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="mutant name globs for mutmut run (space separated)")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--work", type=Path, default=WORK,
                    help=f"the private copy to run in (default {WORK.relative_to(TOP)}): "
                    "one per concurrent run")
    a = ap.parse_args()
    if sys.version_info < (3, 12):
        raise SystemExit("run it on CPython 3.12 or later (make mutation does): see TESTS above")
    work = a.work.resolve()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for d in ("nlfast", "tests", "kernel/uapi", "csrc", "examples"):
        shutil.copytree(TOP / d, work / d, ignore=shutil.ignore_patterns(
            "__pycache__", "mutation"))
    shutil.copy(TOP / "pyproject.toml", work / "pyproject.toml")
    so = sorted((TOP / "nlfast").glob("_nlfast_cffi*.so"))
    if not so:
        raise SystemExit("build the extension first (make venv)")
    tests = "\n    ".join(TESTS)
    (work / "setup.cfg").write_text(
        "[mutmut]\n"
        "source_paths = nlfast/\n"
        f"also_copy =\n    {so[0].relative_to(TOP)}\n    nlfast/py.typed\n"
        "    kernel/\n    csrc/\n    examples/\n"
        f"pytest_add_cli_args_test_selection =\n    {tests}\n"
        "pytest_add_cli_args = -p no:cacheprovider\n"
        "mutate_only_covered_lines = true\n"
        "do_not_mutate =\n    nlfast/_version.py\n    nlfast/cli/*\n    nlfast/__main__.py\n"
    )
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    env = dict(os.environ, NLFAST_MUTATION="1")
    cmd = [mutmut, "run", "--max-children", str(a.jobs)]
    cmd += a.only.split()
    r = subprocess.run(cmd, cwd=work, env=env, check=False)
    res = subprocess.run([mutmut, "results", "--all", "true"], cwd=work, env=env,
                         capture_output=True, text=True, check=False).stdout
    counts: dict[str, int] = {}
    survivors = []
    for name, status in re.findall(r"^\s*(\S+): (.+)$", res, re.M):
        counts[status] = counts.get(status, 0) + 1
        if status == "survived":
            survivors.append(name)
    killed, surv = counts.get("killed", 0), counts.get("survived", 0)
    print(f"mutmut: {counts}")
    print(f"score {killed / max(1, killed + surv):.1%} ({killed} killed, {surv} survived)")
    for s in survivors:
        print("SURVIVED", s)
    sys.exit(r.returncode if r.returncode not in (0, 1) else 0)


if __name__ == "__main__":
    main()
