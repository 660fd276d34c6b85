"""The kernel module as source: builds with W=1 without a warning against the
guest kernel's headers, is checkpatch --strict clean, and builds through DKMS.
(Loading it is the guest tier's job: this machine's kernel cannot.)"""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[1]
KERNEL = TOP / "kernel"
BUILD = TOP / "build"


def guest_kver() -> str:
    """The newest kernel with both an image and headers (what the guest boots)."""
    vers = sorted(
        (p.name.removeprefix("linux-headers-") for p in Path("/usr/src").glob("linux-headers-*-amd64")
         if Path(f"/boot/vmlinuz-{p.name.removeprefix('linux-headers-')}").exists()),
        key=lambda v: [int(x) if x.isdigit() else x for x in re.split(r"[.-]", v)],
    )
    assert vers, "no kernel with both /boot/vmlinuz and linux-headers (make deps installs them)"
    return vers[-1]


def test_module_builds_with_w1_without_warnings(tmp_path: Path) -> None:
    src = tmp_path / "kernel"
    shutil.copytree(KERNEL, src, ignore=shutil.ignore_patterns("*.o", "*.ko", "*.mod*", ".*"))
    r = subprocess.run(["make", "-C", str(src), f"KDIR=/usr/src/linux-headers-{guest_kver()}",
                        "W=1"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout + r.stderr
    assert "warning:" not in out, out
    assert (src / "nlfast_family.ko").exists()


@pytest.fixture(scope="module")
def checkpatch() -> Path:
    """scripts/checkpatch.pl from Debian's linux-source-6.1, extracted once."""
    dest = BUILD / "checkpatch"
    script = dest / "scripts" / "checkpatch.pl"
    if script.exists():
        return script
    tarballs = sorted(Path("/usr/src").glob("linux-source-*.tar.xz"))
    assert tarballs, "linux-source-6.1 is not installed (make deps installs it)"
    want = ("scripts/checkpatch.pl", "scripts/spelling.txt", "scripts/const_structs.checkpatch")
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarballs[-1]) as tf:
        for m in tf:
            rel = m.name.split("/", 1)[-1]
            if rel in want:
                m.name = rel
                tf.extract(m, dest)
    assert script.exists()
    return script


def test_checkpatch_strict_clean(checkpatch: Path) -> None:
    # the sources git tracks, not what a build generated (*.mod.c)
    files = subprocess.run(["git", "ls-files", "*.c", "*.h"], cwd=KERNEL, capture_output=True,
                           text=True, check=True).stdout.split()
    assert "nlfast_family_main.c" in files and "uapi/nlfast_family.h" in files
    files = [str(KERNEL / f) for f in files]
    r = subprocess.run(["perl", str(checkpatch), "--strict", "--no-tree", "--terse",
                        "--show-types", "-f", *files], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ERROR" not in r.stdout and "WARNING" not in r.stdout and "CHECK" not in r.stdout


def test_dkms_build() -> None:
    r = subprocess.run(["bash", str(KERNEL / "dkms-check.sh"), guest_kver()],
                       capture_output=True, text=True, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                                                            "KDIR": f"/usr/src/linux-headers-{guest_kver()}"})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
