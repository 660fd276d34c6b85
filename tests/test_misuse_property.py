"""Random arguments, right and wrong, through every public function and
class of nlfast.message, nlfast.attrs, nlfast.rtnl and nlfast.errors: each
call gives a result or a clear error (an NlfastError, or TypeError /
ValueError for a wrong type or value), never a hang, a crash or another
exception type (AttributeError, OverflowError, struct.error, ...)."""

from __future__ import annotations

import faulthandler
import inspect
import os
import pickle
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlfast import attrs, errors, message, rtnl
from nlfast.attrs import Attr, AttrSet
from nlfast.errors import NlfastError
from nlfast.message import Message, MessageView

MODULES = (message, attrs, rtnl, errors)
ALLOWED: tuple[type[BaseException], ...] = (NlfastError, TypeError, ValueError)
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]
# NLFAST_PROPERTY_EXAMPLES=300 hunts longer; the host tier runs the default
_N = int(os.environ.get("NLFAST_PROPERTY_EXAMPLES", "30"))
PER_CALLABLE = settings(max_examples=_N, deadline=None, suppress_health_check=_SLOW_OK)
SETTINGS = settings(max_examples=7 * _N, deadline=None, suppress_health_check=_SLOW_OK)


def _public(mod: ModuleType) -> list[tuple[str, Any]]:
    return sorted(
        (name, obj) for name, obj in vars(mod).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and getattr(obj, "__module__", None) == mod.__name__
    )


PUBLIC = [(f"{m.__name__}.{n}", o) for m in MODULES for n, o in _public(m)]


def test_the_public_surface_is_covered() -> None:
    names = {n for n, _ in PUBLIC}
    for must in ("nlfast.message.Message", "nlfast.message.MessageView",
                 "nlfast.message.extack_error", "nlfast.attrs.u32", "nlfast.attrs.be64",
                 "nlfast.attrs.Attr", "nlfast.attrs.AttrSet", "nlfast.attrs.put",
                 "nlfast.rtnl.ifinfomsg", "nlfast.rtnl.ifinfo_index", "nlfast.rtnl.header_len",
                 "nlfast.errors.NetlinkError", "nlfast.errors.OverrunError"):
        assert must in names


# -- values: right and wrong types, out-of-range ints, huge sizes, random bytes

_ints = st.one_of(
    st.integers(min_value=-5, max_value=70),
    st.sampled_from([0, 1, 16, 20, 255, 256, 0xFFFF, 0x10000, 2**31, 2**32 - 1, 2**32,
                     2**63, 2**64, -1, -(2**31) - 1, -(2**63), 1 << 24, (1 << 24) + 1]),
    st.integers(),
)
_bytes = st.one_of(
    st.binary(max_size=120),
    st.binary(max_size=64).map(bytearray),
    st.binary(max_size=64).map(memoryview),
    st.sampled_from([b"", b"\0" * 16, b"\xff" * 40, b"x" * 70000]),
)


def _valid_attr() -> st.SearchStrategy[Attr]:
    leaf = st.one_of(
        st.builds(attrs.u8, st.integers(0, 9), st.integers(0, 255)),
        st.builds(attrs.u32, st.integers(0, 9), st.integers(0, 2**32 - 1)),
        st.builds(attrs.s16, st.integers(0, 9), st.integers(-(2**15), 2**15 - 1)),
        st.builds(attrs.be32, st.integers(0, 9), st.integers(0, 2**32 - 1)),
        st.builds(attrs.string, st.integers(0, 9), st.text(max_size=10).filter(lambda s: "\0" not in s)),
        st.builds(attrs.binary, st.integers(0, 9), st.binary(max_size=20)),
        st.builds(attrs.flag, st.integers(0, 9)),
    )
    return st.recursive(leaf, lambda kids: st.builds(attrs.nested, st.integers(0, 9),
                                                     st.lists(kids, max_size=3)), max_leaves=8)


_attr_lists = st.lists(_valid_attr(), max_size=4)
_messages = st.builds(Message, st.integers(0, 0xFFFF), st.integers(0, 0xFFFF),
                      st.binary(max_size=20), _attr_lists, st.integers(0, 2**32 - 1))


@st.composite
def _framed(draw: st.DrawFn) -> bytes:
    raw = draw(_messages).encode(seq=draw(st.integers(0, 2**32 - 1)))
    cut = draw(st.one_of(st.none(), st.integers(0, len(raw))))
    return raw if cut is None else raw[:cut]


_values = st.one_of(
    st.none(), st.booleans(), _ints, st.floats(), st.text(max_size=12), _bytes,
    _attr_lists, _valid_attr(), _framed(), st.lists(_ints, max_size=3),
    st.sampled_from([1j, ..., (), {}, [None], "u32", "nested", "str"]),
)


@contextmanager
def _no_hang(seconds: int = 120) -> Iterator[None]:
    """A hang (Python or C) ends the run with every thread's traceback."""
    faulthandler.dump_traceback_later(seconds, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


def _call(fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any],
          allowed: tuple[type[BaseException], ...] = ALLOWED) -> Any:
    try:
        return fn(*args, **kwargs)
    except allowed:
        return None
    except BaseException as e:  # anything else is the failure this test looks for
        pytest.fail(f"{getattr(fn, '__qualname__', fn)}(*{args!r:.300}, **{kwargs!r:.300}) "
                    f"raised {type(e).__name__}: {e}")


def _kwargs(fn: Callable[..., Any]) -> st.SearchStrategy[dict[str, Any]]:
    try:
        names = [p.name for p in inspect.signature(fn).parameters.values()
                 if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    except (TypeError, ValueError):
        names = []
    if not names:
        return st.just({})
    return st.dictionaries(st.sampled_from(names), _values, max_size=2)


def _exercise(obj: Any) -> None:
    """Whatever a call returned: its text, and for exceptions a pickle."""
    if isinstance(obj, BaseException):
        str(obj)
        repr(obj)
        try:
            blob = pickle.dumps(obj)
        except (TypeError, pickle.PicklingError):
            return  # built from an unpicklable argument (a memoryview, ...)
        again = pickle.loads(blob)  # an nlfast error crosses processes whole
        assert type(again) is type(obj) and str(again) == str(obj)
    elif isinstance(obj, (Message, Attr, MessageView)):
        repr(obj)


@pytest.mark.parametrize(("name", "fn"), PUBLIC, ids=[n for n, _ in PUBLIC])
@PER_CALLABLE
@given(data=st.data())
def test_public_callable_with_random_arguments(name: str, fn: Any, data: st.DataObject) -> None:
    args = data.draw(st.lists(_values, max_size=5), label="args")
    kwargs = data.draw(_kwargs(fn), label="kwargs")
    with _no_hang():
        out = _call(fn, args, kwargs)
        if out is not None:
            _call(_exercise, [out], {}, allowed=())


# -- methods of the classes on real instances

@st.composite
def _instances(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["message", "view", "attrset", "attr"]))
    if kind == "message":
        return draw(_messages)
    if kind == "attr":
        return draw(_valid_attr())
    raw = draw(_messages).encode()
    tail = draw(st.binary(max_size=24))  # junk after the attributes, or not
    if tail:
        raw = struct.pack("=I", len(raw) + len(tail)) + raw[4:] + tail
    protocol = draw(st.sampled_from([None, 0, 2, 30]))
    v = MessageView.from_bytes(raw, protocol=protocol)
    if kind == "view":
        return v
    return AttrSet(memoryview(raw)[draw(st.integers(0, len(raw))):])


def _members(obj: Any) -> list[str]:
    return sorted(n for n in dir(type(obj)) if not n.startswith("_"))


@SETTINGS
@given(obj=_instances(), data=st.data())
def test_public_methods_with_random_arguments(obj: Any, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(_members(obj)), label="member")
    allowed = ALLOWED + ((KeyError,) if isinstance(obj, AttrSet) else ())  # absent attribute
    with _no_hang():
        member = getattr(type(obj), name)
        if isinstance(member, property):
            _call(getattr, [obj, name], {}, allowed=allowed)
            return
        bound = getattr(obj, name)
        if not callable(bound):
            return
        args = data.draw(st.lists(_values, max_size=4), label="args")
        kwargs = data.draw(_kwargs(bound), label="kwargs")
        out = _call(bound, args, kwargs, allowed=allowed)
        if isinstance(out, Iterator):
            _call(list, [out], {}, allowed=allowed)


@SETTINGS
@given(obj=_instances())
def test_decoding_a_view_never_fails_otherwise(obj: Any) -> None:
    """Every reader of a well-typed view of random-length bytes."""
    if not isinstance(obj, (MessageView, AttrSet)):
        return
    allowed = (*ALLOWED, KeyError)
    with _no_hang():
        if isinstance(obj, MessageView):
            for n in ("type", "flags", "seq", "portid", "header", "payload", "error",
                      "protocol"):
                _call(getattr, [obj, n], {})
            for fn in (obj.data, obj.hdrlen, obj.copy, obj.to_error, obj.attrs):
                _call(fn, [], {})
            for hl in (0, 3, 4, 16, 1 << 20):
                a = _call(obj.attrs, [hl], {})
                if a is not None:
                    _call(lambda a=a: list(a), [], {})
                    _call(a.to_dict, [], {})
        else:
            _call(lambda: list(obj), [], {})
            for t in (0, 1, 5, 0xFFFF):
                for g in ("u8", "u16", "u32", "u64", "s8", "s16", "s32", "s64",
                          "be16", "be32", "be64", "str", "bytes", "flag", "nested", "get"):
                    _call(getattr(obj, g), [t], {}, allowed=allowed)
