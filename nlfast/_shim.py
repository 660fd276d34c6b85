"""The thin private tier: the cffi module, its version check, errno to exception."""

from __future__ import annotations

import os
from typing import Any

from nlfast._version import __version__

try:
    from nlfast._nlfast_cffi import ffi, lib
except ImportError as exc:  # pragma: no cover - only without a build
    raise ImportError(
        "nlfast's C shim is not built: install the package (pip install .) "
        f"rather than importing it from the source tree ({exc})"
    ) from exc

_built = ffi.string(lib.nlf_version()).decode()
if _built != __version__:  # pragma: no cover - only with a stale build
    raise ImportError(
        f"nlfast's C shim was built for version {_built}, the package is "
        f"{__version__}: rebuild it (pip install .)"
    )

__all__ = ["address", "ffi", "lib", "oserror"]


def oserror(what: str, err: int | None = None) -> OSError:
    """An OSError for the errno the last shim call left (or ``err``)."""
    code = ffi.errno if err is None else err
    return OSError(code, f"{what}: {os.strerror(code)}")


def as_buffer(data: Any) -> Any:
    """A cdata view of a bytes-like object, without a copy."""
    return ffi.from_buffer(data)


def address(data: Any) -> Any:
    """A plain ``unsigned char *`` to the bytes of a bytes-like object, that
    holds no buffer export: valid while ``data`` lives (the caller keeps it).

    Never keep ``ffi.from_buffer(memoryview)`` in an object: a garbage
    collection that finds it in a reference cycle with the memoryview clears
    the memoryview while it is exported, and the interpreter crashes.
    """
    held = ffi.from_buffer(data)
    return ffi.cast("unsigned char *", held)
