"""The built shim: imports, is the package's version, and its numbers come from
the system headers and the family header, not from copies."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import nlfast
from nlfast import family
from nlfast._shim import ffi, lib

HEADER = Path(__file__).resolve().parents[1] / "kernel" / "uapi" / "nlfast_family.h"


def test_shim_version_matches_package() -> None:
    assert ffi.string(lib.nlf_version()).decode() == nlfast.__version__


def test_netlink_constants_from_system_headers() -> None:
    assert lib.NLMSG_HDRLEN == 16
    assert lib.NLA_HDRLEN == 4
    assert lib.NLMSG_ERROR == 2 and lib.NLMSG_DONE == 3
    assert lib.NETLINK_ROUTE == socket.NETLINK_ROUTE
    assert lib.NETLINK_USERSOCK == socket.NETLINK_USERSOCK
    assert lib.NLM_F_DUMP == lib.NLM_F_ROOT | lib.NLM_F_MATCH
    assert ffi.sizeof("struct ifinfomsg") == 16


def _header_values() -> dict[str, int | str]:
    text = re.sub(r"/\*.*?\*/", "", HEADER.read_text(), flags=re.S)
    out: dict[str, int | str] = {}
    for name, value in re.findall(r"^#define\s+(NLFAM_\w+)\s+(\".*?\"|\S+)", text, re.M):
        if value.startswith('"'):
            out[name] = value.strip('"')
    for body in re.findall(r"enum\s+\w+\s*\{(.*?)\}", text, re.S):
        nxt = 0
        for name, val in re.findall(r"^\s*(NLFAM_\w+|__NLFAM_\w+)\s*(?:=\s*(\w+))?\s*,", body, re.M):
            nxt = int(val, 0) if val else nxt
            out[name] = nxt
            nxt += 1
    return out


def test_family_numbers_are_the_headers() -> None:
    values = _header_values()
    assert values["NLFAM_MSG_HELLO"] == 0x10
    for name, value in values.items():
        if name.startswith("__"):
            continue
        assert getattr(family, name) == value, name
    assert family.NLFAM_HELLO_REPLY == "HELLO USER UNICAST FROM KERNEL"
    assert family.PROTO_DEFAULT == 30
    assert set(family.names()) >= {n for n in values if not n.startswith("__")}


def test_import_stays_light() -> None:
    import subprocess
    import sys

    code = "import sys, nlfast; print(' '.join(sorted(sys.modules)))"
    mods = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                          text=True).stdout.split()
    for heavy in ("asyncio", "json", "multiprocessing", "pyroute2", "ctypes"):
        assert heavy not in mods


def test_no_debugging_aids_in_the_production_extension() -> None:
    # the deliberate overread lives in csrc/test/, built only into the ASan
    # tier's extension; malloc/free are the tests' business (ctypes)
    for name in ("nlf_test_peek", "nlf_debug_peek", "malloc", "free"):
        assert not hasattr(lib, name), name
    import nlfast._nlfast_cffi as ext

    so = Path(ext.__file__ or "").read_bytes()
    assert b"nlf_test_peek" not in so and b"nlf_debug_peek" not in so
