"""The parser tests and the receive-path state machine again, under an
AddressSanitizer build of the shim.

ASan sees an overread only past memory it tracks: the parser tests hand it
exact-size malloc'd copies and run with PYTHONMALLOC=malloc.  The harness is
proven by a deliberate one-byte overread that it must catch.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.asan

TOP = Path(__file__).resolve().parents[1]
BUILD = TOP / "build" / "asan"


def libasan() -> str:
    out = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True,
                         text=True, check=True).stdout.strip()
    path = os.path.realpath(out)
    assert os.path.exists(path), "libasan is not installed (Debian package libasan8)"
    return path


@pytest.fixture(scope="module")
def asan_env() -> dict[str, str]:
    """Builds nlfast with -fsanitize=address into build/asan/."""
    if BUILD.exists():
        shutil.rmtree(BUILD)
    pkg = BUILD / "nlfast"
    shutil.copytree(TOP / "nlfast", pkg, ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    env = dict(os.environ, NLFAST_ASAN="1")
    code = (
        "import sys; sys.path.insert(0, 'csrc'); import build_ffi, os; "
        f"build_ffi.make_ffi(absolute=True).compile(tmpdir={str(BUILD)!r})"
    )
    subprocess.run([sys.executable, "-c", code], cwd=TOP, env=env, check=True,
                   capture_output=True)
    assert list(pkg.glob("_nlfast_cffi*.so"))
    return dict(
        os.environ,
        PYTHONPATH=f"{BUILD}:{TOP}",
        NLFAST_EXPECT_ASAN="1",
        LD_PRELOAD=libasan(),
        PYTHONMALLOC="malloc",
        ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:exitcode=66",
    )


def test_harness_catches_a_one_byte_overread(asan_env: dict[str, str]) -> None:
    code = (
        "import nlfast, sys; from nlfast._shim import ffi, lib\n"
        "assert 'asan' in nlfast._shim.__file__, nlfast._shim.__file__\n"
        "from tests.conftest import heap_copy\n"
        "p = heap_copy(b'0123456789abcdef')\n"
        "lib.nlf_test_peek(p, 15)\n"
        "print('in bounds ok', flush=True)\n"
        "lib.nlf_test_peek(p, 16)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=BUILD, env=asan_env,
                       capture_output=True, text=True)
    assert "in bounds ok" in r.stdout
    assert r.returncode == 66, r.stderr[-2000:]
    assert "heap-buffer-overflow" in r.stderr
    assert "READ of size 1" in r.stderr


def test_parsers_clean_under_asan(asan_env: dict[str, str]) -> None:
    r = subprocess.run(
        # cwd and PYTHONPATH put the ASan build first; append mode keeps
        # pytest from putting the source tree ahead of it
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--import-mode=append", f"--rootdir={TOP}",
         str(TOP / "tests" / "test_parse_fuzz.py"), str(TOP / "tests" / "test_framing.py"),
         str(TOP / "tests" / "test_receive_state.py"),
         str(TOP / "tests" / "test_spec_props.py"), str(TOP / "tests" / "test_spec_cdecode.py"),
         str(TOP / "tests" / "test_spec_do.py"),
         str(TOP / "tests" / "test_receive_path.py") + "::test_view_kept_past_close_and_gc_reads_its_own_bytes"],
        cwd=BUILD, env=asan_env, capture_output=True, text=True,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "AddressSanitizer" not in r.stderr
    assert " passed" in r.stdout
