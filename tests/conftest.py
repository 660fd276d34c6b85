"""Host tier fixtures: real kernel families in private network namespaces."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

import nlfast._shim
from nlfast._shim import ffi

# CI (CI=true) runs every hypothesis test on its fixed, derived examples, so a
# landing is judged on a known set; local runs explore new ones each time.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

if os.environ.get("NLFAST_EXPECT_ASAN") == "1":
    # the ASan tier must not silently test the ordinary build
    assert "/build/asan/" in nlfast._shim.__file__, nlfast._shim.__file__

if os.environ.get("NLFAST_MUTATION") == "1":
    # mutmut forks each mutant's test run from the process that ran the whole
    # selection once, recording which tests call which function.  Without
    # these, the test modules' constants and nlfast.spec's cache of compiled
    # spec files would come from that first, unmutated run, and a spec
    # compiled by an earlier test would not count as used by a later one: no
    # mutant of spec compilation could be caught.
    def pytest_sessionstart(session: pytest.Session) -> None:
        for name in [m for m in sys.modules if m.startswith("tests.test_")]:
            del sys.modules[name]

    @pytest.fixture(autouse=True)
    def _compile_specs_again() -> None:
        import nlfast.spec

        nlfast.spec._loaded.clear()


N_LINK_PAIRS = 500  # 1000 links (veth pairs), plus lo
N_ADDRS = 1000


def run(*cmd: str, input: str | None = None) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, input=input).stdout


class Netns:
    def __init__(self, name: str) -> None:
        self.name = name
        self.path = f"/run/netns/{name}"

    def ip(self, *args: str) -> str:
        return run("ip", "-n", self.name, *args)

    def ip_json(self, *args: str) -> Any:
        return json.loads(self.ip("-j", *args))

    def batch(self, lines: list[str]) -> None:
        run("ip", "-n", self.name, "-batch", "-", input="\n".join(lines) + "\n")


@pytest.fixture
def netns() -> Iterator[Netns]:
    """An empty private network namespace (only lo)."""
    name = f"nlfast-{uuid.uuid4().hex[:8]}"
    run("ip", "netns", "add", name)
    try:
        yield Netns(name)
    finally:
        run("ip", "netns", "del", name)


@pytest.fixture(scope="module")
def big_netns() -> Iterator[Netns]:
    """A namespace with 1000 veth links and 1000 IPv4 addresses on them."""
    name = f"nlfast-big-{uuid.uuid4().hex[:8]}"
    run("ip", "netns", "add", name)
    ns = Netns(name)
    try:
        ns.batch([f"link add va{i} type veth peer name vb{i}" for i in range(N_LINK_PAIRS)])
        ns.batch(
            [f"addr add 10.{i // 250}.{i % 250}.1/24 dev va{i % N_LINK_PAIRS}" for i in range(N_ADDRS)]
        )
        ns.ip("link", "set", "lo", "up")
        yield ns
    finally:
        run("ip", "netns", "del", name)


_libc = ctypes.CDLL(None)  # malloc/free as the process sees them (ASan's, under ASan)
_libc.malloc.restype = ctypes.c_void_p
_libc.malloc.argtypes = [ctypes.c_size_t]
_libc.free.restype = None
_libc.free.argtypes = [ctypes.c_void_p]


def _free(p: Any) -> None:
    _libc.free(int(ffi.cast("uintptr_t", p)))


def heap_copy(data: bytes) -> Any:
    """An exact-size malloc'd copy of data: under ASan, one byte past it faults.

    malloc and free come through ctypes, so the production extension need
    not export them."""
    n = len(data)
    addr = _libc.malloc(max(n, 1))
    if not addr:
        raise MemoryError
    p = ffi.cast("unsigned char *", addr)
    ffi.memmove(p, data, n)
    return ffi.gc(p, _free)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return Path(__file__).parent / "data"


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def kernel_tree() -> Path:
    """The kernel tree of $NLFAST_KERNEL_TREE (its root: the specs are in
    Documentation/netlink/specs; make test-host sets it from
    tools/kernel-tree.sh).  Not set: a skip that says so locally, a failure in
    CI (CI set), where these tests must run."""
    d = os.environ.get("NLFAST_KERNEL_TREE")
    if not d:
        why = ("NLFAST_KERNEL_TREE is not set: give the root of a kernel tree "
               "(tools/kernel-tree.sh unpacks one; make test-host sets it) to load "
               "and run the kernel's own netlink specs")
        if os.environ.get("CI"):
            pytest.fail(why + " (CI: required)", pytrace=False)
        pytest.skip(why)
    specs = Path(d) / "Documentation" / "netlink" / "specs"
    if not specs.is_dir():
        pytest.fail(f"NLFAST_KERNEL_TREE={d} has no Documentation/netlink/specs", pytrace=False)
    return Path(d)


@pytest.fixture(scope="session")
def kernel_specs() -> Path:
    """Documentation/netlink/specs of $NLFAST_KERNEL_TREE (see kernel_tree)."""
    return kernel_tree() / "Documentation" / "netlink" / "specs"
