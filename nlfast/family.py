"""The nlfast kernel family's numbers, read from kernel/uapi/nlfast_family.h.

The header is the one place they live: the shim's build turns every
``#define NLFAM_*`` and enum member into a constant, and this module hands
them out by name (``family.NLFAM_MSG_ECHO``), strings as ``str``:
message types ``NLFAM_MSG_*``, attributes ``NLFAM_A_*``, multicast groups
and the reply texts.  :func:`names` lists them; an ``NLFAM_`` name the
header does not define raises ``AttributeError`` naming it.
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
    """Every ``NLFAM_*`` name the header defines, sorted.

    :returns: the names, each readable as ``getattr(nlfast.family, name)``.
    """
    return sorted(n for n in dir(lib) if n.startswith("NLFAM_"))


#: The netlink protocol number the module registers unless loaded with ``proto=N``.
PROTO_DEFAULT: int = lib.NLFAM_PROTO_DEFAULT

# Plain module globals, so a loop that reads them pays no __getattr__ call.
globals().update({n: __getattr__(n) for n in names()})
