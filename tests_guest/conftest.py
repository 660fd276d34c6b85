"""Guest tier: the nlfast_family module loaded in a real kernel (QEMU guest).

Run with `make test-guest` (guest/vm.py boots Debian's kernel with the module
and runs pytest on this folder).  On a machine where the module is not loaded
these tests fail, loudly: they are never skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import nlfast
from nlfast import Message
from nlfast import family as F

TOP = Path(__file__).resolve().parents[1]
KO = Path(os.environ.get("NLFAST_KO", TOP / "kernel" / "nlfast_family.ko"))
PROTO: int = F.PROTO_DEFAULT
NLF = nlfast.NLM_F_REQUEST


def pytest_sessionstart(session: pytest.Session) -> None:
    if not Path("/sys/module/nlfast_family").exists():
        raise pytest.UsageError(
            "the nlfast_family module is not loaded: these tests run in the guest "
            "tier (make test-guest), never on the host"
        )


def fam(**kw: Any) -> nlfast.Socket:
    return nlfast.Socket(PROTO, **kw)


@pytest.fixture
def sock() -> Iterator[nlfast.Socket]:
    with fam() as s:
        yield s


def msg(type: int, attrs: list[nlfast.Attr] | None = None, flags: int = NLF) -> Message:
    return Message(type, flags, attrs=attrs or [])


def stats(s: nlfast.Socket) -> dict[str, int]:
    (reply,) = s.request(msg(F.NLFAM_MSG_STATS))
    a = reply.attrs().nested(F.NLFAM_A_STATS)
    names = ["MSGS", "BYTES", "REPLIES", "MCASTS", "DELIVERY_FAIL", "ERRORS", "SINK"]
    out = {n.lower(): a.u64(getattr(F, f"NLFAM_STAT_{n}")) for n in names}
    out["generation"] = reply.attrs().u32(F.NLFAM_A_GENERATION)
    return out


def kmsg_mark() -> int:
    """A mark in the kernel log: lines logged after it can be read with kmsg_since."""
    return len(subprocess.run(["dmesg"], capture_output=True, text=True).stdout.splitlines())


def kmsg_since(mark: int) -> str:
    lines = subprocess.run(["dmesg"], capture_output=True, text=True).stdout.splitlines()
    return "\n".join(lines[mark:])


# Enters a new user namespace and a network namespace it owns, mapping the
# caller's uid and gid to root there: what `unshare -Urn` does, but inside
# the running interpreter (the venv's python may live where uid 65534 cannot
# exec it again from inside the namespace).
USERNS_ENTER = """
import ctypes as _ct, os as _os
_libc = _ct.CDLL(None, use_errno=True)
_uid, _gid = _os.getuid(), _os.getgid()
if _libc.unshare(0x10000000 | 0x40000000) != 0:  # CLONE_NEWUSER | CLONE_NEWNET
    raise OSError(_ct.get_errno(), "unshare(CLONE_NEWUSER | CLONE_NEWNET)")
for _f, _v in (("setgroups", "deny"), ("uid_map", f"0 {_uid} 1"), ("gid_map", f"0 {_gid} 1")):
    with open(f"/proc/self/{_f}", "w") as _fh:
        _fh.write(_v)
"""


def run_py(code: str, *, unpriv: bool = False, netns: str | None = None, userns: bool = False,
           timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Runs Python code in a real second process (optionally as nobody, with
    no capabilities, or inside a named network namespace).  ``userns``: in a
    new user and network namespace of its own, as its root (with ``unpriv``,
    what any user on the machine can do)."""
    cmd = [sys.executable, "-c", USERNS_ENTER + code if userns else code]
    if unpriv:
        cmd = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
               "--inh-caps=-all", "--bounding-set=-all", *cmd]
    if netns:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=TOP,
                          env=env)


@pytest.fixture
def netns_pair() -> Iterator[tuple[str, str]]:
    names = (f"nsa-{uuid.uuid4().hex[:6]}", f"nsb-{uuid.uuid4().hex[:6]}")
    for n in names:
        subprocess.run(["ip", "netns", "add", n], check=True)
    try:
        yield names
    finally:
        for n in names:
            subprocess.run(["ip", "netns", "del", n], check=False)
