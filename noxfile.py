"""nox sessions: the host tier on every supported CPython.

``nox -s tests`` builds nlfast into a fresh venv for each of CPython 3.9 to
3.13 and runs the host tier (``tests/``) against it.  The interpreters are
pyenv's (``$(pyenv root)/versions/3.X.*``); a supported one that is missing
fails the run rather than being skipped.  The 3.13 run turns every
DeprecationWarning into an error, in pytest and in the processes it starts.

Left out of the per-Python runs: the tests that do not exercise the
interpreter at all (the kernel module's build and checkpatch, the QEMU
guest harness) and the wheel test (it installs the one abi3 wheel on the
oldest and the newest Python itself); ``make test-host`` runs
them once.  The two slow builders
(``pip install`` into a fresh venv, the AddressSanitizer build) run on the
oldest and the newest Python only.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import nox

TOP = Path(__file__).resolve().parent

# The supported interpreters: keep in step with requires-python and the
# classifiers in pyproject.toml (tests/test_wheel.py checks that they agree).
PYTHONS = ["3.9", "3.10", "3.11", "3.12", "3.13"]
OLDEST, NEWEST = PYTHONS[0], PYTHONS[-1]

# Host-tier files run once, by make test-host: those that do not depend on the
# interpreter, and the wheel test, which installs its one abi3 wheel on the
# oldest and the newest Python by itself.
RUN_ONCE = ["tests/test_kernel_build.py", "tests/test_guest_harness.py", "tests/test_wheel.py"]
# The slow builders (a fresh venv with pip install, an ASan build of the shim):
# run on the oldest and the newest Python only, to keep CI's time in check.
EDGES_ONLY = ["tests/test_install.py", "tests/test_asan.py"]

nox.options.sessions = ["tests"]
nox.options.error_on_missing_interpreters = True
nox.options.download_python = "never"  # pyenv's builds, never a downloaded one
nox.options.default_venv_backend = "venv"


def _pyenv_root() -> Path:
    root = os.environ.get("PYENV_ROOT")
    if root:
        return Path(root)
    try:
        out = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True)
        return Path(out.stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        return Path.home() / ".pyenv"


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", path.name))


def _put_pyenv_pythons_on_path() -> None:
    """Puts the newest pyenv build of each supported version first on PATH.

    nox finds ``python3.X`` on PATH; pyenv's shims would answer for a version
    that is not selected with an error, so the real bin directories go first.
    """
    versions = _pyenv_root() / "versions"
    dirs = []
    for minor in PYTHONS:
        builds = sorted(
            (p for p in versions.glob(f"{minor}.*")
             if re.fullmatch(rf"{re.escape(minor)}\.\d+", p.name)
             and (p / "bin" / f"python{minor}").exists()),
            key=_version_key,
        )
        if builds:
            dirs.append(str(builds[-1] / "bin"))
    os.environ["PATH"] = os.pathsep.join([*dirs, os.environ.get("PATH", "")])


_put_pyenv_pythons_on_path()


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The host tier against nlfast built for this interpreter."""
    session.install(".[test]")
    args = ["-q", "-p", "no:cacheprovider", "--import-mode=append"]
    skip = RUN_ONCE
    if session.python not in (OLDEST, NEWEST):
        skip = skip + EDGES_ONLY
    args += [f"--ignore={TOP / f}" for f in skip]
    py_flags: list[str] = []
    # the receive-path state machine runs its full length in make test-host
    # (and under ASan); here a shorter walk per interpreter
    # (session.run adds these to the outer environment, which it passes on:
    # CI and NLFAST_KERNEL_TREE reach the tests as make test-pythons sets them)
    env = {"NLFAST_STATE_EXAMPLES": "8"}
    if session.python == NEWEST:
        # No deprecation warnings on the newest Python: in pytest and in the
        # interpreters the tests start (CLI runs, peers, fresh venvs).
        py_flags = ["-W", "error::DeprecationWarning"]
        args += ["-W", "error::DeprecationWarning"]
        # One exception, outside nlfast: the pip that a fresh 3.13.0 venv
        # bundles (test_install) trips importlib.metadata's own deprecation.
        env["PYTHONWARNINGS"] = (
            "error::DeprecationWarning,"
            "ignore::DeprecationWarning:pip._internal.metadata.importlib._dists"
        )
    # The tests must see the package installed in this venv, never the source
    # tree: run from an empty directory (python -m puts the cwd on sys.path)
    # and let pytest append, not prepend, the checkout it finds above tests/.
    session.chdir(session.create_tmp())
    where = "import nlfast; print(nlfast.__file__); assert '/site-packages/' in nlfast.__file__"
    session.run("python", "-c", where)
    session.run("python", *py_flags, "-m", "pytest", *args, *session.posargs,
                str(TOP / "tests"), env=env)
