"""The nlfast kernel family's numbers, read from kernel/uapi/nlfast_family.h.

The header is the one place they live: the shim's build turns every
``#define NLFAM_*`` and enum member into a constant, and this module hands
them out by name (``family.NLFAM_MSG_ECHO``), strings as ``str``.
"""

from __future__ import annotations

from typing import Any

from nlfast._shim import ffi, lib


def __getattr__(name: str) -> Any:
    if not name.startswith("NLFAM_"):
        raise AttributeError(f"module 'nlfast.family' has no attribute {name!r}")
    try:
        value = getattr(lib, name)
    except AttributeError:
        raise AttributeError(f"the family header defines no {name}") from None
    if isinstance(value, ffi.CData):
        return ffi.string(value).decode()
    return value


def names() -> list[str]:
    """Every NLFAM_* name the header defines."""
    return sorted(n for n in dir(lib) if n.startswith("NLFAM_"))


PROTO_DEFAULT: int = lib.NLFAM_PROTO_DEFAULT

# Plain module globals, so a loop that reads them pays no __getattr__ call.
globals().update({n: __getattr__(n) for n in names()})
