"""Builds nlfast._nlfast_cffi: cffi out-of-line API mode, driven by setuptools.

The cdef is csrc/nlf_cdef.h and csrc/rtnl_cdef.h (values left to the C
compiler as "..."), plus every #define and enum member of the family's ABI
header kernel/uapi/nlfast_family.h, so no number is copied by hand.
Set NLFAST_ASAN=1 to build with AddressSanitizer.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
TOP = HERE.parent
FAMILY_H = TOP / "kernel" / "uapi" / "nlfast_family.h"
SOURCES = ["nlf_parse.c", "nlf_tx.c", "nlf_sock.c"]


def package_version() -> str:
    text = (TOP / "nlfast" / "_version.py").read_text()
    m = re.search(r'__version__\s*=\s*"([^"]+)"', text)
    if not m:
        raise RuntimeError("nlfast/_version.py has no __version__")
    return m.group(1)


def family_cdef(header: Path) -> str:
    """cdef lines for the family header's numbers and strings."""
    text = re.sub(r"/\*.*?\*/", "", header.read_text(), flags=re.S)
    lines = []
    for name, value in re.findall(r"^#define\s+(NLFAM_\w+)\s+(.+?)\s*$", text, re.M):
        if value.startswith('"'):
            lines.append(f"static char *const {name};")
        else:
            lines.append(f"#define {name} ...")
    for body in re.findall(r"enum\s+\w+\s*\{(.*?)\}", text, re.S):
        for name in re.findall(r"^\s*(NLFAM_\w+)\b", body, re.M):
            lines.append(f"#define {name} ...")
    return "\n".join(lines) + "\n"


def make_ffi(absolute: bool = False) -> FFI:
    """The builder; paths relative to the top (setuptools) unless ``absolute``."""
    ffi = FFI()
    ffi.cdef((HERE / "nlf_cdef.h").read_text())
    ffi.cdef((HERE / "rtnl_cdef.h").read_text())
    ffi.cdef(family_cdef(FAMILY_H))
    extra_compile = ["-O2", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    extra_link: list[str] = []
    if os.environ.get("NLFAST_ASAN") == "1":
        extra_compile += ["-fsanitize=address", "-fno-omit-frame-pointer", "-O1", "-g"]
        extra_link += ["-fsanitize=address"]
    version = package_version()

    def rel(p: Path) -> str:
        return str(p if absolute else p.relative_to(TOP))

    ffi.set_source(
        "nlfast._nlfast_cffi",
        f"""
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include "nlf.h"
#include "nlfast_family.h"
const char *nlf_version(void) {{ return "{version}"; }}
""",
        sources=[rel(HERE / s) for s in SOURCES],
        include_dirs=[rel(HERE), rel(FAMILY_H.parent)],
        extra_compile_args=extra_compile,
        extra_link_args=extra_link,
    )
    return ffi


ffibuilder = make_ffi()

if __name__ == "__main__":
    os.chdir(TOP)
    ffibuilder.compile(tmpdir=".", verbose=False)
