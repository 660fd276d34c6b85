"""The netlink socket: batched send and receive, requests, dumps, multicast."""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Iterable, Iterator
from typing import Any

from nlfast._shim import ffi, lib, oserror
from nlfast.errors import (
    ClosedError,
    DumpInterruptedError,
    MessageTooLargeError,
    NetlinkError,
    OverrunError,
    TruncatedError,
)
from nlfast.message import Message, MessageView, extack_error

NLMSG_ERROR: int = lib.NLMSG_ERROR
NLMSG_DONE: int = lib.NLMSG_DONE
NLM_F_REQUEST: int = lib.NLM_F_REQUEST
NLM_F_ACK: int = lib.NLM_F_ACK
NLM_F_DUMP: int = lib.NLM_F_DUMP
SOL_NETLINK: int = lib.SOL_NETLINK
SOL_SOCKET: int = lib.SOL_SOCKET


_view = MessageView._at


def _ms(timeout: float | None) -> int:
    if timeout is None:
        return -1
    if timeout < 0:
        raise ValueError(f"timeout must be >= 0 or None, not {timeout}")
    return min(int(timeout * 1000 + 0.999), 2**31 - 1)


class Batch:
    """The messages one receive brought, as columns and lazy views.

    ``len(batch)``, ``batch[i]`` (a :class:`MessageView`) and iteration give
    messages; ``types``, ``flags``, ``seqs``, ``portids``, ``errors``,
    ``offsets`` and ``lengths`` are memoryviews over the parsed columns (no
    copy); ``attr_uint``/``attr_column``/``attr_bytes`` pull one attribute out
    of every message in one C call.

    Valid until the next receive on the same socket: the buffers are reused.
    Copy what you keep (``MessageView.copy()``, ``bytes(...)``).
    """

    __slots__ = ("_sock", "start", "stop")

    def __init__(self, sock: Socket, start: int, stop: int) -> None:
        self._sock = sock
        self.start = start
        self.stop = stop

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, i: int) -> MessageView:
        n = self.stop - self.start
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("batch index out of range")
        s = self._sock
        j = self.start + i
        return _view(s._arena, s._arena_ptr, s._col_off[j], s._col_len[j], s)

    def __iter__(self) -> Iterator[MessageView]:
        s = self._sock
        arena, ptr, offs, lens = s._arena, s._arena_ptr, s._col_off, s._col_len
        for j in range(self.start, self.stop):
            yield _view(arena, ptr, offs[j], lens[j], s)

    def _col(self, name: str) -> memoryview:
        col: memoryview = getattr(self._sock, name)
        return col[self.start : self.stop]

    @property
    def types(self) -> memoryview:
        return self._col("_col_type")

    @property
    def flags(self) -> memoryview:
        return self._col("_col_flags")

    @property
    def seqs(self) -> memoryview:
        return self._col("_col_seq")

    @property
    def portids(self) -> memoryview:
        return self._col("_col_portid")

    @property
    def errors(self) -> memoryview:
        """Positive errno of NLMSG_ERROR / NLMSG_DONE rows, 0 elsewhere."""
        return self._col("_col_error")

    @property
    def offsets(self) -> memoryview:
        """Offsets of the messages in the socket's receive arena."""
        return self._col("_col_off")

    @property
    def lengths(self) -> memoryview:
        return self._col("_col_len")

    @property
    def buffer(self) -> memoryview:
        """The receive memory that ``offsets`` index into."""
        return self._sock._arena

    def attr_uint(self, attrtype: int, hdrlen: int = 0, default: int = 0) -> memoryview:
        """One unsigned attribute (1, 2, 4 or 8 bytes) of every message, as a
        memoryview of uint64 (``default`` where absent), decoded in C."""
        n = len(self)
        out = ffi.new("uint64_t[]", max(n, 1))
        s = self._sock
        lib.nlf_table_attr_uint(s._arena_ptr, s._tab, self.start, n, hdrlen, attrtype,
                                default, out)
        return memoryview(ffi.buffer(out, n * 8)).cast("Q")

    def attr_column(self, attrtype: int, hdrlen: int = 0) -> tuple[memoryview, memoryview]:
        """(offsets, lengths) of one attribute's payload in every message, as
        memoryviews of uint32 into the receive arena (offset 0: absent)."""
        n = len(self)
        offs = ffi.new("uint32_t[]", max(n, 1))
        lens = ffi.new("uint32_t[]", max(n, 1))
        s = self._sock
        lib.nlf_table_attr_column(s._arena_ptr, s._tab, self.start, n, hdrlen, attrtype,
                                  offs, lens)
        return (
            memoryview(ffi.buffer(offs, n * 4)).cast("I"),
            memoryview(ffi.buffer(lens, n * 4)).cast("I"),
        )

    def attr_bytes(self, attrtype: int, hdrlen: int = 0) -> list[bytes | None]:
        """One attribute's payload of every message as bytes (None: absent)."""
        offs, lens = self.attr_column(attrtype, hdrlen)
        buf = self._sock._buf
        return [buf[o : o + n] if o else None for o, n in zip(offs, lens)]

    def attr_str(self, attrtype: int, hdrlen: int = 0) -> list[str | None]:
        """One string attribute of every message, up to its NUL (None: absent),
        gathered in C into one buffer and split once."""
        n = len(self)
        if not n:
            return []
        s = self._sock
        if s._scratch is None:
            s._scratch = ffi.new("unsigned char[]", s._scratch_len)
            s._scratch_buf = ffi.buffer(s._scratch, s._scratch_len)
        present = ffi.new("uint8_t[]", n)
        used = lib.nlf_table_attr_strs(s._arena_ptr, s._tab, self.start, n, hdrlen, attrtype,
                                       s._scratch, s._scratch_len, present)
        if used < 0:
            raise oserror("attr_str")
        strs = s._scratch_buf[:used].decode(errors="replace").split("\0", n - 1)
        strs[-1] = strs[-1][:-1]  # the last string's own NUL
        out: list[str | None] = strs
        flags = ffi.buffer(present, n)[:]
        if b"\0" in flags:
            out = [v if flags[i] else None for i, v in enumerate(out)]
        return out

    def seq_gaps(self, msgtype: int, expect: int) -> tuple[int, int]:
        """Sequence numbers missing among the rows of ``msgtype``, in C.

        :returns: (gaps, next expected seq).
        """
        s = self._sock
        if self.start != 0 or self.stop != s._tab.count:
            raise ValueError("seq_gaps works on a whole batch as received")
        e = s._u32
        e[0] = expect & 0xFFFFFFFF
        gaps = lib.nlf_table_seq_gaps(s._tab, msgtype, e)
        return int(gaps), int(e[0])

    def attr_gaps(self, attrtype: int, expect: int, hdrlen: int = 0) -> tuple[int, int, int]:
        """Values skipped in one unsigned attribute that should count up by one
        from ``expect`` (a dump's index, a flood's counter), checked in C.

        :returns: (gaps, next expected value, rows without the attribute).
        """
        s = self._sock
        e, absent = s._u64, s._u32
        e[0] = expect
        absent[0] = 0
        gaps = lib.nlf_table_attr_gaps(s._arena_ptr, s._tab, self.start, len(self), hdrlen,
                                       attrtype, e, absent)
        return int(gaps), int(e[0]), int(absent[0])

    def sender(self, i: int) -> int:
        """The port id that sent message i's datagram (0: the kernel), from
        the socket address: unlike ``nlmsg_pid`` the sender cannot forge it."""
        s = self._sock
        return int(s._dg_pid[s._col_dgram[self.start + i]])

    def group(self, i: int) -> int:
        """The multicast group mask message i's datagram was sent to (0: unicast)."""
        s = self._sock
        return int(s._dg_groups[s._col_dgram[self.start + i]])

    def count(self, msgtype: int) -> int:
        """How many rows have this type (counted in C)."""
        return int(lib.nlf_table_count_type(self._sock._tab, self.start, len(self), msgtype))

    @property
    def datagrams(self) -> int:
        return int(self._sock._rx.ndgrams)

    @property
    def overruns(self) -> int:
        """NLMSG_OVERRUN rows in the receive."""
        return int(self._sock._tab.n_overrun)

    @property
    def interrupted(self) -> bool:
        """A row carries NLM_F_DUMP_INTR."""
        return bool(self._sock._tab.n_intr)


class Socket:
    """A netlink socket of any protocol, batched in C.

    :param protocol: NETLINK_ROUTE, NETLINK_GENERIC, NETLINK_USERSOCK or any
        number below MAX_LINKS (such as the nlfast family's 30).
    :param groups: multicast groups to join (any group number).
    :param portid: the port id to bind (0: the kernel picks one).
    :param netns: a network namespace to open the socket in: a name under
        /run/netns, a path, or an open fd.
    :param rcvbuf: receive buffer bytes (SO_RCVBUFFORCE when privileged,
        else SO_RCVBUF, which the kernel caps at net.core.rmem_max); None
        keeps the system default.  Pipelined requests and dumps need room
        for the replies in flight, hence 4 MiB.
    :param sndbuf: send buffer bytes.
    :param rx_buffers: datagrams one receive can bring (recvmmsg vlen).
    :param rx_bufsize: bytes per receive buffer; 32 KiB holds a dump skb.
    :param tx_size: bytes of the send arena: how much one flush sends.
    :param dgram_size: bytes per datagram before a new one is started.
    :param overrun: "raise" (default): ENOBUFS raises OverrunError; "count":
        it only counts (``overruns``, ``drops()``).
    :raises ValueError: a bad argument.
    :raises OSError: the kernel refused (EPROTONOSUPPORT: unknown protocol).

    A Socket is not thread-safe: share one between threads only under a lock
    (or give each thread its own; the shim releases the GIL while it waits).
    """

    def __init__(
        self,
        protocol: int,
        *,
        groups: Iterable[int] = (),
        portid: int = 0,
        netns: str | int | None = None,
        rcvbuf: int | None = 1 << 22,
        sndbuf: int | None = None,
        rx_buffers: int = 16,
        rx_bufsize: int = 32768,
        tx_size: int = 1 << 20,
        dgram_size: int = 32768,
        ext_ack: bool = True,
        cap_ack: bool = True,
        strict_check: bool = False,
        overrun: str = "raise",
    ) -> None:
        self._fd = -1
        if not isinstance(protocol, int) or isinstance(protocol, bool):
            raise TypeError(f"protocol must be an int, not {protocol!r}")
        if not 0 <= protocol < lib.MAX_LINKS:
            raise ValueError(f"protocol {protocol} is out of range 0..{lib.MAX_LINKS - 1}")
        if overrun not in ("raise", "count"):
            raise ValueError(f"overrun must be 'raise' or 'count', not {overrun!r}")
        if not 1 <= rx_buffers <= 1024:
            raise ValueError(f"rx_buffers must be 1..1024, not {rx_buffers}")
        if rx_bufsize < 16 or rx_bufsize % 4 or rx_buffers * rx_bufsize > 1 << 30:
            raise ValueError(f"rx_bufsize must be a multiple of 4, >= 16, not {rx_bufsize}")
        if not 16 <= tx_size <= 1 << 30 or dgram_size < 16:
            raise ValueError("tx_size must be 16..1 GiB and dgram_size >= 16")
        self.protocol = protocol
        self._overrun_raise = overrun == "raise"
        self.overruns = 0
        self.truncated = 0
        self._rx = ffi.gc(lib.nlf_rx_new(rx_buffers, rx_bufsize), lib.nlf_rx_free)
        self._tx = ffi.gc(lib.nlf_tx_new(tx_size, dgram_size), lib.nlf_tx_free)
        if self._rx == ffi.NULL or self._tx == ffi.NULL:
            raise MemoryError("cannot allocate nlfast socket buffers")
        self._map_columns()
        self._fd = self._open(protocol, netns)
        try:
            self._setup(groups, portid, rcvbuf, sndbuf, ext_ack, cap_ack, strict_check)
        except BaseException:
            self.close()
            raise

    # -- setup ------------------------------------------------------------

    @staticmethod
    def _open(protocol: int, netns: str | int | None) -> int:
        if netns is None:
            fd = lib.nlf_sock_open(protocol, -1)
        else:
            nsfd = netns if isinstance(netns, int) else -1
            if isinstance(netns, str):
                path = netns if "/" in netns else f"/run/netns/{netns}"
                nsfd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                fd = lib.nlf_sock_open(protocol, nsfd)
            finally:
                if isinstance(netns, str):
                    os.close(nsfd)
        if fd < 0:
            err = ffi.errno
            if err == errno.EPROTONOSUPPORT:
                raise OSError(err, f"netlink protocol {protocol} is not available "
                                   "(no kernel family registered it)")
            raise oserror(f"socket(AF_NETLINK, {protocol})", err)
        return int(fd)

    def _setup(self, groups: Iterable[int], portid: int, rcvbuf: int | None,
               sndbuf: int | None, ext_ack: bool, cap_ack: bool, strict: bool) -> None:
        if rcvbuf is not None:
            self._setbuf(lib.SO_RCVBUFFORCE, lib.SO_RCVBUF, rcvbuf)
        if sndbuf is not None:
            self._setbuf(lib.SO_SNDBUFFORCE, lib.SO_SNDBUF, sndbuf)
        if lib.nlf_sock_bind(self._fd, portid, 0) < 0:
            raise oserror(f"bind(portid={portid})")
        for opt, on in ((lib.NETLINK_EXT_ACK, ext_ack), (lib.NETLINK_CAP_ACK, cap_ack),
                        (lib.NETLINK_GET_STRICT_CHK, strict)):
            if on:
                # Best effort: a protocol or kernel without it still works.
                lib.nlf_sock_setopt(self._fd, SOL_NETLINK, opt, 1)
        self.subscribe(*groups)
        p = ffi.new("uint32_t *")
        if lib.nlf_sock_portid(self._fd, p) < 0:
            raise oserror("getsockname")
        self.portid: int = int(p[0])

    def _setbuf(self, force: int, plain: int, size: int) -> None:
        if lib.nlf_sock_setopt(self._fd, SOL_SOCKET, force, size) == 0:
            return
        if lib.nlf_sock_setopt(self._fd, SOL_SOCKET, plain, size) < 0:
            raise oserror("setsockopt(buffer size)")

    def _map_columns(self) -> None:
        rx = self._rx
        tab = ffi.addressof(rx[0], "tab")
        cap = tab.cap
        self._tab = tab
        size = rx.nbufs * rx.bufsize
        self._arena_ptr = rx.arena
        self._arena = memoryview(ffi.buffer(rx.arena, size))
        self._buf = ffi.buffer(rx.arena, size)  # slicing it makes bytes in one step
        # room for every string of a batch, NUL-separated (attr_str)
        self._u64 = ffi.new("uint64_t *")  # out-parameters of the C calls
        self._u32 = ffi.new("uint32_t *")
        self._scratch_len = size + cap
        self._scratch: Any = None  # allocated by the first attr_str
        self._scratch_buf: Any = None

        def col(ptr: Any, width: int, code: Any) -> memoryview:
            mv: memoryview = memoryview(ffi.buffer(ptr, cap * width)).cast(code)
            return mv

        self._col_off = col(tab.off, 4, "I")
        self._col_len = col(tab.len, 4, "I")
        self._col_type = col(tab.type, 2, "H")
        self._col_flags = col(tab.flags, 2, "H")
        self._col_seq = col(tab.seq, 4, "I")
        self._col_portid = col(tab.portid, 4, "I")
        self._col_error = col(tab.error, 4, "i")
        self._col_dgram = col(tab.dgram, 4, "I")
        nb = rx.nbufs
        self._dg_pid = memoryview(ffi.buffer(rx.dg_pid, nb * 4)).cast("I")
        self._dg_groups = memoryview(ffi.buffer(rx.dg_groups, nb * 4)).cast("I")

    def _check(self) -> int:
        if self._fd < 0:
            raise ClosedError("the socket is closed")
        return self._fd

    # -- plumbing -----------------------------------------------------------

    def fileno(self) -> int:
        """:raises ClosedError: closed."""
        return self._check()

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def close(self) -> None:
        """Closes the socket; a second close does nothing."""
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def __enter__(self) -> Socket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._fd < 0 else f"fd={self._fd} portid={self.portid}"
        return f"<nlfast.Socket protocol={self.protocol} {state}>"

    def setsockopt(self, level: int, opt: int, value: int) -> None:
        """An int option at any level (SOL_NETLINK, SOL_SOCKET).

        :raises OSError: the kernel refused it.
        """
        if lib.nlf_sock_setopt(self._check(), level, opt, value) < 0:
            raise oserror(f"setsockopt({level}, {opt})")

    def getsockopt(self, level: int, opt: int) -> int:
        """:raises OSError: the kernel refused it."""
        v = ffi.new("int *")
        if lib.nlf_sock_getopt(self._check(), level, opt, v) < 0:
            raise oserror(f"getsockopt({level}, {opt})")
        return int(v[0])

    def subscribe(self, *groups: int) -> None:
        """Joins multicast groups (NETLINK_ADD_MEMBERSHIP; any group number).

        :raises OSError: EINVAL for a group the family does not have, EPERM
            when it is not open to unprivileged receivers.
        """
        for g in groups:
            if not isinstance(g, int) or g <= 0:
                raise ValueError(f"multicast group must be an int >= 1, not {g!r}")
            self.setsockopt(SOL_NETLINK, lib.NETLINK_ADD_MEMBERSHIP, g)

    def unsubscribe(self, *groups: int) -> None:
        """Leaves multicast groups.  :raises OSError: the kernel refused."""
        for g in groups:
            self.setsockopt(SOL_NETLINK, lib.NETLINK_DROP_MEMBERSHIP, g)

    def drops(self) -> int:
        """Messages the kernel dropped for this socket so far (SO_MEMINFO)."""
        info = ffi.new("uint32_t[]", lib.SK_MEMINFO_VARS)
        if lib.nlf_sock_meminfo(self._check(), info, lib.SK_MEMINFO_VARS) < 0:
            raise oserror("getsockopt(SO_MEMINFO)")
        return int(info[lib.SK_MEMINFO_DROPS])

    # -- send ---------------------------------------------------------------

    def _flush(self, dest: int, groups: int) -> None:
        while lib.nlf_sock_flush(self._fd, self._tx, dest, groups) < 0:
            err = ffi.errno
            if err != errno.EINTR:
                lib.nlf_tx_reset(self._tx)
                raise oserror("sendmmsg", err)

    def send(self, msg: Message, *, dest: int = 0, groups: int = 0) -> int:
        """Sends one message to port id ``dest`` (0: the kernel) and group mask
        ``groups``.  Returns its sequence number.

        :raises ClosedError: closed.
        :raises MessageTooLargeError: it does not fit the send arena.
        :raises OSError: the kernel refused it (ECONNREFUSED: nobody at dest).
        """
        fd = self._check()
        if not isinstance(msg, Message):
            raise TypeError(f"send takes a Message, not {msg!r}")
        t = msg._template()
        seq = lib.nlf_sock_send_one(fd, self._tx, t[0], t[1], dest, groups)
        if seq < 0:
            err = ffi.errno
            if err == errno.ENOSPC:
                raise MessageTooLargeError("message larger than the send arena (tx_size)")
            if err == errno.EINTR:  # nothing went: send it again
                return self.send(msg, dest=dest, groups=groups)
            raise oserror("sendmmsg", err)
        return int(seq)

    def send_batch(self, msgs: Iterable[Message], *, dest: int = 0,
                   groups: int = 0) -> list[int]:
        """Frames many messages back to back, many per datagram and many
        datagrams per sendmmsg, and sends them.  Returns their seqs in order.

        :raises ClosedError: closed.
        :raises TypeError: an item is not a Message.
        :raises MessageTooLargeError: one message does not fit the send arena.
        :raises OSError: the kernel refused a datagram; the ones before it went.
        """
        self._check()
        tx = self._tx
        seqs: list[int] = []
        for m in msgs:
            if not isinstance(m, Message):
                raise TypeError(f"send_batch takes Message objects, not {m!r}")
            seq = m.frame(tx)
            if seq < 0:
                if ffi.errno != errno.ENOSPC:
                    raise oserror("framing")
                if tx.pos == 0:
                    raise MessageTooLargeError("message larger than the send arena (tx_size)")
                self._flush(dest, groups)
                seq = m.frame(tx)
                if seq < 0:
                    raise MessageTooLargeError("message larger than the send arena (tx_size)")
            seqs.append(seq)
        if tx.pos:
            self._flush(dest, groups)
        return seqs

    def send_repeat(self, msg: Message | bytes, count: int, *, dest: int = 0,
                    groups: int = 0) -> int:
        """Sends one message ``count`` times, each with its own seq, framed and
        sent in C (load generation: no Python work per message).

        :returns: the number sent (``count``).
        :raises OSError: a send failed; ``.sent`` (an attribute of the
            exception) says how many went before it.
        """
        self._check()
        tmpl = msg._template()[2] if isinstance(msg, Message) else bytes(msg)
        if count < 0:
            raise ValueError(f"count must be >= 0, not {count}")
        sent = self._u64
        done = 0
        while done < count:
            r = lib.nlf_sock_send_repeat(self._fd, self._tx, ffi.from_buffer(tmpl), len(tmpl),
                                         count - done, dest, groups, sent)
            done += int(sent[0])
            if r < 0:
                err = ffi.errno
                if err == errno.EINTR:
                    continue
                if err == errno.EINVAL:
                    raise ValueError("send_repeat needs one whole framed message")
                if err == errno.EMSGSIZE:
                    raise MessageTooLargeError("message larger than the send arena (tx_size)")
                e = oserror("sendmmsg", err)
                e.sent = done  # type: ignore[attr-defined]
                raise e
        return done

    @property
    def next_seq(self) -> int:
        """The sequence number the next framed message gets."""
        return int(self._tx.seq)

    @next_seq.setter
    def next_seq(self, value: int) -> None:
        self._tx.seq = value & 0xFFFFFFFF

    # -- receive --------------------------------------------------------------

    def recv(self, timeout: float | None = None) -> Batch:
        """Receives every queued datagram (up to ``rx_buffers``), waiting up to
        ``timeout`` seconds for the first (None: for ever; 0: not at all), and
        parses all their messages in C.

        :raises TimeoutError: nothing came in time.
        :raises OverrunError: ENOBUFS: the receive queue overflowed and
            messages were lost (with ``overrun="count"`` it is counted and an
            empty batch returned).
        :raises TruncatedError: a datagram was larger than ``rx_bufsize``.
        :raises ClosedError: closed.
        """
        fd = self._check()
        ms = -1 if timeout is None else _ms(timeout)
        n = lib.nlf_sock_recv(fd, self._rx, ms)
        if n < 0:
            return self._recv_failed(fd, ms)
        return self._batch(n)

    def _recv_failed(self, fd: int, ms: int) -> Batch:
        """The slow path of recv: EINTR (retried), timeout, overrun, errors."""
        deadline = None if ms < 0 else time.monotonic() + ms / 1000
        while True:
            err = ffi.errno
            if err == errno.EINTR:
                if deadline is not None:
                    ms = max(0, int((deadline - time.monotonic()) * 1000))
                n = lib.nlf_sock_recv(fd, self._rx, ms)
                if n >= 0:
                    return self._batch(n)
                continue
            if err == errno.EAGAIN:
                raise TimeoutError(errno.ETIMEDOUT, "no netlink message in time")
            if err == errno.ENOBUFS:
                self.overruns += 1
                if self._overrun_raise:
                    raise OverrunError(self.drops(), self.overruns)
                return Batch(self, 0, 0)
            raise oserror("recvmmsg", err)

    def _batch(self, n: int) -> Batch:
        batch = Batch(self, 0, n)
        if self._tab.n_trunc:
            self.truncated += int(self._tab.n_trunc)
            raise TruncatedError(batch, int(self._tab.n_trunc))
        return batch

    def _raise_errors(self, batch: Batch, seqs: Any = None) -> None:
        """Raises the first NLMSG_ERROR with a nonzero code in the batch."""
        for i, e in enumerate(batch.errors):
            if e and (seqs is None or batch.seqs[i] in seqs):
                m = batch[i]
                if m.type == NLMSG_ERROR or m.type == NLMSG_DONE:
                    raise m.to_error()

    # -- request / response ----------------------------------------------------

    def request(self, msg: Message, *, timeout: float | None = 5.0,
                ack: bool = True) -> list[MessageView]:
        """Sends one request and collects its replies (copies), matched by seq,
        until the ACK, NLMSG_DONE or an error.  NLM_F_ACK is added when ``ack``.

        :raises NetlinkError: the kernel answered with an error (extended ack
            decoded).
        :raises TimeoutError: no answer in time.
        """
        if ack and not msg.flags & NLM_F_ACK:
            msg = msg.with_flags(msg.flags | NLM_F_ACK)
        seq = self.send(msg)
        want_ack = bool(msg.flags & NLM_F_ACK)
        is_dump = (msg.flags & NLM_F_DUMP) == NLM_F_DUMP
        out: list[MessageView] = []
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            batch = self.recv(left)
            for m in batch:
                if m.seq != seq:
                    continue
                t = m.type
                if t == NLMSG_ERROR:
                    if m.error:
                        raise m.to_error()
                    return out
                if t == NLMSG_DONE:
                    if m.error:
                        raise m.to_error()
                    if not want_ack or is_dump:
                        return out
                    continue
                out.append(m.copy())
                if not want_ack and not is_dump and not (m.flags & lib.NLM_F_MULTI):
                    return out

    def request_many(self, msgs: Iterable[Message], *, timeout: float | None = 5.0,
                     window: int = 64, ack: bool = True,
                     ) -> list[list[MessageView] | NetlinkError]:
        """Pipelines requests (``window`` in flight) and returns, in request
        order, each one's replies (copies) or its NetlinkError.  With ``ack``
        (the default) NLM_F_ACK is added and a request is done at its ACK;
        without, at its first reply that is not NLM_F_MULTI, its NLMSG_DONE
        or its error.  Keep ``window`` times the reply size under the receive
        buffer, or the kernel drops replies (raised as OverrunError).

        :raises TimeoutError: answers stopped coming for ``timeout`` seconds.
        """
        pending = [m.with_flags(m.flags | NLM_F_ACK) if ack and not m.flags & NLM_F_ACK else m
                   for m in msgs]
        results: dict[int, list[MessageView] | NetlinkError] = {}
        order: list[int] = []
        inflight: dict[int, list[MessageView]] = {}
        multi = lib.NLM_F_MULTI
        i = 0
        while i < len(pending) or inflight:
            if i < len(pending) and len(inflight) < window:
                chunk = pending[i : i + window - len(inflight)]
                seqs = self.send_batch(chunk)
                for s in seqs:
                    inflight[s] = []
                order.extend(seqs)
                i += len(chunk)
            batch = self.recv(timeout)
            for m in batch:
                seq = m.seq
                acc = inflight.get(seq)
                if acc is None:
                    continue
                t = m.type
                if t == NLMSG_ERROR or (t == NLMSG_DONE and (m.error or not ack)):
                    results[seq] = m.to_error() if m.error else acc
                    del inflight[seq]
                elif t != NLMSG_DONE:
                    acc.append(m.copy())
                    if not ack and not m.flags & multi:
                        results[seq] = acc
                        del inflight[seq]
        return [results[s] for s in order]

    def dump(self, msg: Message, *, timeout: float | None = 5.0,
             allow_interrupted: bool = False) -> Iterator[Batch]:
        """Streams a dump: sends ``msg`` with NLM_F_DUMP and yields one Batch
        per receive, NLMSG_DONE left out, until the dump ends.  Memory stays
        bounded by the receive buffers however large the dump is; each batch
        is valid until the next one is asked for.

        :raises NetlinkError: the kernel failed the dump.
        :raises DumpInterruptedError: at the end, when a message carried
            NLM_F_DUMP_INTR (the state changed under the dump), unless
            ``allow_interrupted``.
        :raises TimeoutError: the dump stalled for ``timeout`` seconds.
        """
        flags = msg.flags | NLM_F_DUMP | NLM_F_REQUEST
        seq = self.send(msg.with_flags(flags))
        interrupted = False
        while True:
            batch = self.recv(timeout)
            tab = self._tab
            if tab.n_intr:
                interrupted = True
            if tab.n_error:
                self._raise_errors(batch, (seq,))
            if tab.n_done:
                stop = batch.types.tolist().index(NLMSG_DONE)
                if stop:
                    yield Batch(self, 0, stop)
                break
            yield batch
        if interrupted and not allow_interrupted:
            raise DumpInterruptedError("NLM_F_DUMP_INTR: the state changed during the dump")

    def dump_messages(self, msg: Message, **kw: Any) -> Iterator[MessageView]:
        """Like :meth:`dump`, one MessageView at a time (valid until the next)."""
        for batch in self.dump(msg, **kw):
            yield from batch


__all__ = ["Batch", "Socket", "extack_error"]
