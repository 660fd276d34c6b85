"""Builds nlfast._nlfast_cffi: cffi out-of-line API mode, driven by setuptools.

The cdef is csrc/nlf_cdef.h and csrc/rtnl_cdef.h (values left to the C
compiler as "..."), the prototypes of csrc/nlf.h, plus every #define and
enum member of the family's ABI header kernel/uapi/nlfast_family.h, plus the RTM_* and RTNLGRP_* names of
<linux/rtnetlink.h> and the CTRL_* names, GENL_ID_CTRL and GENL_HDRLEN of
<linux/genetlink.h> as the C compiler finds them, so no number is copied by hand.
Set NLFAST_ASAN=1 to build with AddressSanitizer.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sysconfig
from collections.abc import Iterable
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
TOP = HERE.parent
FAMILY_H = TOP / "kernel" / "uapi" / "nlfast_family.h"
SOURCES = ["nlf_parse.c", "nlf_tx.c", "nlf_sock.c", "nlf_batch.c", "nlf_spec.c",
           "nlf_specdict.c"]
PROTO_HEADERS = ["nlf.h", "nlf_spec.h"]  # prototypes between cdef markers
CDEFS = ["nlf_cdef.h", "rtnl_cdef.h"]
# test-only code, compiled into the NLFAST_ASAN=1 build and nowhere else
ASAN_SOURCES = ["test/nlf_asan_probe.c"]
ASAN_CDEF = "int nlf_test_peek(const unsigned char *buf, size_t idx);\n"
# (system header, name prefixes, single names): their integer constants go
# into the cdef, values left to the compiler
SYSTEM_NAMES = [
    ("linux/rtnetlink.h", ("RTM_", "RTNLGRP_", "RTA_", "RTN_", "RTPROT_", "RT_SCOPE_",
                           "RT_TABLE_"), ()),
    ("linux/if_link.h", ("IFLA_INFO_",), ()),
    ("linux/neighbour.h", ("NDA_", "NUD_"), ()),
    ("linux/genetlink.h", ("CTRL_CMD_", "CTRL_ATTR_"),
     ("GENL_ID_CTRL", "GENL_HDRLEN", "GENL_NAMSIZ", "GENL_ADMIN_PERM", "GENL_CMD_CAP_DO",
      "GENL_CMD_CAP_DUMP", "GENL_CMD_CAP_HASPOL", "GENL_UNS_ADMIN_PERM")),
]


def package_version() -> str:
    text = (TOP / "nlfast" / "_version.py").read_text()
    m = re.search(r'__version__\s*=\s*"([^"]+)"', text)
    if not m:
        raise RuntimeError("nlfast/_version.py has no __version__")
    return m.group(1)


def shim_prototypes(header: Path) -> str:
    """The structs, constants and prototypes of nlf.h, between its cdef markers."""
    m = re.search(r"cffi cdef begin.*?\*/(.*?)/\* cffi cdef end \*/", header.read_text(), re.S)
    if not m:
        raise RuntimeError(f"{header} has no cffi cdef markers")
    return re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)


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


def compiler_include_dirs() -> list[Path]:
    """The C compiler's ``#include <...>`` search list, in order (empty if
    the compiler cannot be asked)."""
    cc = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
    try:
        r = subprocess.run([*cc, "-xc", "-E", "-v", os.devnull], capture_output=True,
                           text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    dirs: list[Path] = []
    inside = False
    for line in r.stderr.splitlines():
        if line.startswith("#include <...> search starts here"):
            inside = True
        elif line.startswith("End of search list"):
            break
        elif inside and line.startswith(" "):
            dirs.append(Path(line.strip().split(" (")[0]))  # clang: "dir (framework directory)"
    return dirs


def system_header(name: str) -> Path:
    """The file ``#include <name>`` reads: first in the compiler's search list."""
    dirs = compiler_include_dirs()
    for d in [*dirs, Path("/usr/include")]:
        if (d / name).is_file():
            return d / name
    where = ", ".join(str(d) for d in dirs) or "the compiler could not be asked; /usr/include"
    raise RuntimeError(
        f"nlfast build: <{name}> is not in the C compiler's include path ({where}): "
        "install the Linux UAPI headers (Debian/Ubuntu: linux-libc-dev, "
        "Fedora: kernel-headers)"
    )


def declared_names(cdef_text: str) -> set[str]:
    """The constants a hand-written cdef already declares."""
    return set(re.findall(r"^\s*#\s*define\s+(\w+)", cdef_text, re.M))


def header_constants(header: Path, prefixes: tuple[str, ...], names: Iterable[str] = ()
                     ) -> list[str]:
    """The integer constants of a system header whose names start with one of
    ``prefixes`` (or are in ``names``): enum members and object-like #defines,
    in the header's order. Names with a leading underscore, function-like
    macros and macros that are no integer constant expression are left out."""
    text = re.sub(r"/\*.*?\*/", " ", header.read_text(), flags=re.S)
    text = re.sub(r"//[^\n]*", "", text).replace("\\\n", " ")
    wanted = set(names)

    def ok(name: str) -> bool:
        return name in wanted or name.startswith(prefixes)

    found: dict[str, None] = {}
    for body in re.findall(r"\benum\b[^{;]*\{(.*?)\}", text, re.S):
        for name in re.findall(r"^\s*([A-Za-z]\w*)\s*[,=]?", body, re.M):
            if ok(name):
                found[name] = None
    # "#define NAME value" with a space, not "NAME(", after the name
    for name, value in re.findall(r"^\s*#\s*define\s+([A-Za-z]\w*)[ \t]+(.*?)\s*$", text, re.M):
        if ok(name) and value and not re.search(r"[\"'{};\[]|\*\s*\)|\d\.", value):
            found[name] = None
    return list(found)


def system_cdef(skip: set[str]) -> str:
    """cdef lines for the SYSTEM_NAMES constants not in ``skip``."""
    lines = []
    for header, prefixes, names in SYSTEM_NAMES:
        for name in header_constants(system_header(header), prefixes, names):
            if name not in skip:
                skip.add(name)
                lines.append(f"#define {name} ...")
    return "\n".join(lines) + "\n"


def make_ffi(absolute: bool = False) -> FFI:
    """The builder; paths relative to the top (setuptools) unless ``absolute``."""
    ffi = FFI()
    declared: set[str] = set()
    for name in CDEFS:
        text = (HERE / name).read_text()
        ffi.cdef(text)
        declared |= declared_names(text)
    for name in PROTO_HEADERS:
        ffi.cdef(shim_prototypes(HERE / name))
    ffi.cdef(family_cdef(FAMILY_H))
    ffi.cdef(system_cdef(declared))
    extra_compile = ["-O2", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    extra_link: list[str] = []
    sources = list(SOURCES)
    if os.environ.get("NLFAST_ASAN") == "1":
        extra_compile += ["-fsanitize=address", "-fno-omit-frame-pointer", "-O1", "-g"]
        extra_link += ["-fsanitize=address"]
        sources += ASAN_SOURCES
        ffi.cdef(ASAN_CDEF)
    version = package_version()

    def rel(p: Path) -> str:
        return str(p if absolute else p.relative_to(TOP))

    ffi.set_source(
        "nlfast._nlfast_cffi",
        f"""
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/genetlink.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/fib_rules.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include "nlf.h"
#include "nlf_spec.h"
#include "nlfast_family.h"
const char *nlf_version(void) {{ return "{version}"; }}
""",
        sources=[rel(HERE / s) for s in sources],
        include_dirs=[rel(HERE), rel(FAMILY_H.parent)],
        extra_compile_args=extra_compile,
        extra_link_args=extra_link,
    )
    return ffi


ffibuilder = make_ffi()

if __name__ == "__main__":
    os.chdir(TOP)
    ffibuilder.compile(tmpdir=".", verbose=False)
