"""Batches: the messages one receive brought, as columns and lazy views.

Who owns received memory
------------------------
Every receive fills a *slab*: one block of memory owned by a Python object
(the datagrams, then the parsed columns).  A :class:`Batch`, each
:class:`~nlfast.MessageView` and :class:`~nlfast.AttrSet` taken from it, and
every memoryview they hand out (columns, payloads, attribute values) keep
that block alive: they stay valid, with the bytes they showed first, for as
long as you hold them, after the next receive, after ``close()``, after the
socket is gone.  The socket reuses a slab for a later receive only when
nothing points into it any more (a small pool; a slab something still
points into is left alone and a new one is taken), so holding views costs
memory, never correctness: drop them, or ``copy()`` the few you keep, and the
pool stays at two or three slabs.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Iterator
from typing import Any

from nlfast._shim import ffi, lib, oserror
from nlfast.message import MessageView, Origin

_view = MessageView._at
_alloc = ffi.new_allocator(should_clear_after_alloc=False)


class Slab:
    """One block of receive memory laid out by ``nlf_batch_init``: the
    datagram arena at offset 0, then the message table's columns.

    Internal to nlfast: :class:`Batch` reads it, the transport fills it.
    """

    __slots__ = ("addr", "arena", "arena_len", "b", "col", "mem", "origin", "rows", "scratch")

    def __init__(self, arena_len: int, rows: int, dgrams: int,
                 origin: Origin | None = None) -> None:
        size = int(lib.nlf_batch_size(arena_len, rows, dgrams))
        # 8-byte aligned and not cleared: pages the kernel never writes are
        # never touched, so a large slab costs only what a receive fills
        self.mem = _alloc("uint64_t[]", (size + 7) // 8)
        b = lib.nlf_batch_init(self.mem, size, arena_len, rows, dgrams)
        if b == ffi.NULL:
            raise oserror("nlf_batch_init")
        self.b = b
        self.arena = b.arena
        self.arena_len = arena_len
        self.rows = rows
        self.origin = origin  # the protocol, for views and their copies
        self.scratch: Any = None
        base = int(ffi.cast("uintptr_t", self.mem))
        self.addr = base  # where the block starts, as an int
        t = b.tab

        def at(p: Any) -> int:
            return int(ffi.cast("uintptr_t", p)) - base

        # byte offsets of the columns in the block, by name
        self.col = {
            "off": at(t.off), "len": at(t.len), "seq": at(t.seq), "portid": at(t.portid),
            "error": at(t.error), "dgram": at(t.dgram), "type": at(t.type),
            "flags": at(t.flags), "dg_pid": at(b.dg_pid), "dg_groups": at(b.dg_groups),
        }

    def view(self) -> memoryview:
        """A memoryview over the whole block; it keeps the block alive."""
        return memoryview(ffi.buffer(self.mem))


def _refs(slab: Slab) -> int:
    return sys.getrefcount(slab.mem)


# The count _refs gives for a slab nothing points into, measured once on
# this interpreter (so the pool never depends on how it counts references).
_IDLE = _refs(Slab(8, 1, 1))


def slab_idle(slab: Slab) -> bool:
    """True when no Batch, view or memoryview points into the slab."""
    return _refs(slab) == _IDLE


_U32 = struct.Struct("=I")


def split(raw: bytes, n: int, origin: Origin | None) -> list[MessageView]:
    """n messages framed back to back in raw, as MessageViews over it."""
    mv = memoryview(raw)
    if n == 1:
        return [_view(mv, None, 0, len(raw), origin)]
    out: list[MessageView] = []
    pos = 0
    for _ in range(n):
        ln = _U32.unpack_from(raw, pos)[0]
        out.append(_view(mv, None, pos, ln, origin))
        pos += (ln + 3) & ~3
    return out


def pack(runs: list[tuple[Batch, int, int]]) -> Batch:
    """A new Batch that owns a copy of the given row ranges (``(batch,
    start, stop)``, absolute rows), packed: what a queue keeps."""
    nbytes = rows = 0
    for b, start, stop in runs:
        nbytes += int(lib.nlf_batch_rows_bytes(b._slab.b, start, stop - start))  # same module
        rows += stop - start
    slab = Slab(max(nbytes, 8), max(rows, 1), max(rows, 1), runs[0][0]._slab.origin)
    for b, start, stop in runs:
        if lib.nlf_batch_append(slab.b, b._slab.b, start, stop - start) < 0:
            raise oserror("nlf_batch_append")
    return Batch(slab, 0, rows, slab.view())


class Batch:
    """The messages one receive brought (or a run of them), as columns and
    lazy views.

    ``len(batch)``, ``batch[i]`` (a :class:`~nlfast.MessageView`) and
    iteration give messages; ``types``, ``flags``, ``seqs``, ``portids``,
    ``errors``, ``offsets`` and ``lengths`` are memoryviews over the parsed
    columns (no copy); ``attr_uint``/``attr_column``/``attr_bytes``/
    ``attr_str`` pull one attribute out of every message in one C call.

    A batch, its views and the memoryviews they give keep the receive
    memory alive: valid for as long as you hold them (see
    :mod:`nlfast.batch`).
    """

    __slots__ = {
        "_mv": "A memoryview over the whole receive memory (it keeps it alive).",
        "_slab": "The receive memory and its table.",
        "start": "The first row of the receive in this batch.",
        "stop": "One past the last row of the receive in this batch.",
    }

    def __init__(self, slab: Slab, start: int, stop: int, mv: memoryview) -> None:
        self._slab = slab
        self._mv = mv
        self.start = start
        self.stop = stop

    @property
    def protocol(self) -> int | None:
        """The netlink protocol the batch came in on (None: not known)."""
        o = self._slab.origin
        return None if o is None else o.protocol

    @property
    def table(self) -> Any:
        """The C table of the receive (``struct nlf_table``), absolute rows:
        for nlfast's own modules."""
        return self._slab.b.tab

    def copy_row(self, i: int) -> MessageView:
        """Absolute row i as a MessageView over a copy of its bytes."""
        t = self._slab.b.tab
        o = t.off[i]
        return MessageView(memoryview(bytes(self._mv[o : o + t.len[i]])),
                           keep=self._slab.origin)

    def copy_rows(self, first: int, n: int) -> list[MessageView]:
        """Absolute rows [first, first+n) as MessageViews over one copy of
        their bytes (one copy per datagram they span)."""
        t = self._slab.b.tab
        mv = self._mv
        out: list[MessageView] = []
        i, end = first, first + n
        while i < end:
            d = t.dgram[i]
            j = i + 1
            while j < end and t.dgram[j] == d:
                j += 1
            base = t.off[i]
            raw = memoryview(bytes(mv[base : t.off[j - 1] + t.len[j - 1]]))
            o = self._slab.origin
            out += [_view(raw, None, t.off[k] - base, t.len[k], o) for k in range(i, j)]
            i = j
        return out

    def request_rows(self, seq: int, port: int, mode: int, out: Any) -> Any:
        """How the request ``seq`` sent to ``port`` fared in this whole
        receive (``nlf_batch_request`` into ``out``, a ``struct nlf_req *``)."""
        lib.nlf_batch_request(self._slab.b, seq, port, mode, out)
        return out

    def route(self, seqs: Any, ports: Any, echo: Any, nkeys: int, run_end: Any,
              run_dest: Any) -> int:
        """Splits these rows into runs by key (nlf_batch_route); returns the
        number of runs."""
        n = lib.nlf_batch_route(self._slab.b, self.start, self.stop - self.start, seqs, ports,
                                echo, nkeys, run_end, run_dest)
        if n < 0:
            raise oserror("nlf_batch_route")
        return int(n)

    def sub(self, start: int, stop: int) -> Batch:
        """Rows [start, stop) of the same receive (absolute row numbers)."""
        return Batch(self._slab, start, stop, self._mv)

    def __len__(self) -> int:
        return self.stop - self.start

    def __bool__(self) -> bool:
        return self.stop > self.start

    def __repr__(self) -> str:
        return f"<nlfast.Batch {len(self)} messages>"

    def __getitem__(self, i: int) -> MessageView:
        n = self.stop - self.start
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("batch index out of range")
        t = self._slab.b.tab
        j = self.start + i
        return _view(self._mv, self._slab.arena, t.off[j], t.len[j], self)

    def __iter__(self) -> Iterator[MessageView]:
        mv, arena = self._mv, self._slab.arena
        for o, n in zip(self.offsets, self.lengths):
            yield _view(mv, arena, o, n, self)

    def _col(self, name: str, width: int, code: Any) -> memoryview:
        o = self._slab.col[name]
        col: memoryview = self._mv[o + width * self.start : o + width * self.stop].cast(code)
        return col

    @property
    def buffer(self) -> memoryview:
        """The receive memory that ``offsets`` index into (read-only use)."""
        return self._mv[: self._slab.arena_len]

    @property
    def types(self) -> memoryview:
        """nlmsg_type of every message (uint16)."""
        return self._col("type", 2, "H")

    @property
    def flags(self) -> memoryview:
        """nlmsg_flags of every message (uint16)."""
        return self._col("flags", 2, "H")

    @property
    def seqs(self) -> memoryview:
        """nlmsg_seq of every message (uint32)."""
        return self._col("seq", 4, "I")

    @property
    def portids(self) -> memoryview:
        """nlmsg_pid of every message as its sender wrote it (uint32)."""
        return self._col("portid", 4, "I")

    @property
    def errors(self) -> memoryview:
        """Positive errno of NLMSG_ERROR / NLMSG_DONE rows, 0 elsewhere (int32)."""
        return self._col("error", 4, "i")

    @property
    def offsets(self) -> memoryview:
        """Offset of every message in :attr:`buffer` (uint32)."""
        return self._col("off", 4, "I")

    @property
    def lengths(self) -> memoryview:
        """nlmsg_len of every message (uint32)."""
        return self._col("len", 4, "I")

    def attr_uint(self, attrtype: int, hdrlen: int = 0, default: int = 0) -> memoryview:
        """One unsigned attribute (1, 2, 4 or 8 bytes) of every message, as a
        memoryview of uint64 (``default`` where absent), decoded in C."""
        n = self.stop - self.start
        out = ffi.new("uint64_t[]", max(n, 1))
        s = self._slab
        if lib.nlf_table_attr_uint(s.arena, ffi.addressof(s.b, "tab"), self.start, n, hdrlen,
                                   attrtype, default, out) < 0:
            raise oserror("attr_uint")
        return memoryview(ffi.buffer(out, n * 8)).cast("Q")

    def attr_column(self, attrtype: int, hdrlen: int = 0) -> tuple[memoryview, memoryview]:
        """(offsets, lengths) of one attribute's payload in every message, as
        memoryviews of uint32 into :attr:`buffer` (offset 0: absent)."""
        n = self.stop - self.start
        offs = ffi.new("uint32_t[]", max(n, 1))
        lens = ffi.new("uint32_t[]", max(n, 1))
        s = self._slab
        if lib.nlf_table_attr_column(s.arena, ffi.addressof(s.b, "tab"), self.start, n,
                                     hdrlen, attrtype, offs, lens) < 0:
            raise oserror("attr_column")
        return (
            memoryview(ffi.buffer(offs, n * 4)).cast("I"),
            memoryview(ffi.buffer(lens, n * 4)).cast("I"),
        )

    def attr_bytes(self, attrtype: int, hdrlen: int = 0) -> list[bytes | None]:
        """One attribute's payload of every message as bytes (None: absent)."""
        offs, lens = self.attr_column(attrtype, hdrlen)
        mv = self._mv
        return [bytes(mv[o : o + n]) if o else None for o, n in zip(offs, lens)]

    def attr_str(self, attrtype: int, hdrlen: int = 0) -> list[str | None]:
        """One string attribute of every message, up to its NUL (None: absent),
        gathered in C into one buffer and split once."""
        n = self.stop - self.start
        if not n:
            return []
        s = self._slab
        cap = s.arena_len + s.rows
        if s.scratch is None:
            s.scratch = ffi.new("unsigned char[]", cap)
        present = ffi.new("uint8_t[]", n)
        used = lib.nlf_table_attr_strs(s.arena, ffi.addressof(s.b, "tab"), self.start, n,
                                       hdrlen, attrtype, s.scratch, cap, present)
        if used < 0:
            raise oserror("attr_str")
        strs = ffi.buffer(s.scratch, used)[:].decode(errors="replace").split("\0", n - 1)
        strs[-1] = strs[-1][:-1]  # the last string's own NUL
        out: list[str | None] = strs
        flags = ffi.buffer(present, n)[:]
        if b"\0" in flags:
            out = [v if flags[i] else None for i, v in enumerate(out)]
        return out

    def seq_gaps(self, msgtype: int, expect: int) -> tuple[int, int]:
        """Sequence numbers missing among the rows of ``msgtype``, in C.

        :returns: (gaps, next expected seq).
        :raises ValueError: the batch is a part of a receive, not all of it.
        """
        s = self._slab
        if self.start != 0 or self.stop != s.b.tab.count:
            raise ValueError("seq_gaps works on a whole batch as received")
        e = ffi.new("uint32_t *", expect & 0xFFFFFFFF)
        gaps = lib.nlf_table_seq_gaps(ffi.addressof(s.b, "tab"), msgtype, e)
        return int(gaps), int(e[0])

    def attr_gaps(self, attrtype: int, expect: int, hdrlen: int = 0) -> tuple[int, int, int]:
        """Values skipped in one unsigned attribute that should count up by one
        from ``expect`` (a dump's index, a flood's counter), checked in C.

        :returns: (gaps, next expected value, rows without the attribute).
        """
        s = self._slab
        e = ffi.new("uint64_t *", expect)
        absent = ffi.new("uint32_t *")
        gaps = lib.nlf_table_attr_gaps(s.arena, ffi.addressof(s.b, "tab"), self.start,
                                       self.stop - self.start, hdrlen, attrtype, e, absent)
        if gaps < 0:
            raise oserror("attr_gaps")
        return int(gaps), int(e[0]), int(absent[0])

    def _dgram(self, i: int) -> int:
        n = self.stop - self.start
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("batch index out of range")
        return int(self._slab.b.tab.dgram[self.start + i])

    def sender(self, i: int) -> int:
        """The port id that sent message i's datagram (0: the kernel), from
        the socket address: unlike ``nlmsg_pid`` the sender cannot forge it."""
        return int(self._slab.b.dg_pid[self._dgram(i)])

    def group(self, i: int) -> int:
        """The multicast group mask message i's datagram was sent to (0: unicast)."""
        return int(self._slab.b.dg_groups[self._dgram(i)])

    def count(self, msgtype: int) -> int:
        """How many rows have this type (counted in C)."""
        return int(lib.nlf_table_count_type(ffi.addressof(self._slab.b, "tab"), self.start,
                                            self.stop - self.start, msgtype))

    def scan(self, out: Any = None) -> Any:
        """Errors, acks, DONEs, DUMP_INTR flags and the first row that ends a
        request (absolute, -1: none) of these rows, summed up in C, into
        ``out`` (a ``struct nlf_scan *``) or a new struct."""
        s = ffi.new("struct nlf_scan *") if out is None else out
        lib.nlf_batch_scan(self._slab.b, self.start, self.stop - self.start, s)
        return s

    @property
    def datagrams(self) -> int:
        """Datagrams the receive brought."""
        return int(self._slab.b.ndgrams)

    @property
    def overruns(self) -> int:
        """NLMSG_OVERRUN rows in the receive."""
        return int(self._slab.b.tab.n_overrun)

    @property
    def interrupted(self) -> bool:
        """A row carries NLM_F_DUMP_INTR."""
        return bool(self.scan().n_intr)

    @property
    def truncated(self) -> int:
        """Datagrams of the receive cut short (longer than ``rx_bufsize``)."""
        return int(self._slab.b.tab.n_trunc)


__all__ = ["Batch"]
