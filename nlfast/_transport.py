"""The transport: one netlink file descriptor and the shim's syscalls.

Opening (in any network namespace), binding, options, framing and sending
(sendmmsg), receiving (recvmmsg) into a pool of slabs that are reused only
when nothing points into them, and a wake-up descriptor that lets ``close()``
from another thread end a blocked receive.  No routing here: that is the
engine's (nlfast._engine).
"""

from __future__ import annotations

import errno
import os
import time
from typing import Any, NoReturn

from nlfast._shim import ffi, lib, oserror
from nlfast.batch import Batch, Slab, slab_idle
from nlfast.errors import ClosedError, MessageTooLargeError, OverrunError, TruncatedError
from nlfast.message import Origin

SOL_NETLINK: int = lib.SOL_NETLINK
SOL_SOCKET: int = lib.SOL_SOCKET
POOL_MAX = 4  # idle slabs kept for reuse


def timeout_ms(timeout: float | None) -> int:
    """Milliseconds for the shim (-1: for ever).  :raises ValueError: < 0."""
    if timeout is None:
        return -1
    if timeout < 0:
        raise ValueError(f"timeout must be >= 0 or None, not {timeout}")
    return min(int(timeout * 1000 + 0.999), 2**31 - 1)


def repeat_failed(err: int, done: int) -> NoReturn:
    """Raises what a failed nlf_sock_send_repeat means (after EINTR/EAGAIN are
    handled by the caller); an OSError carries how many went in ``sent``."""
    if err == errno.EINVAL:
        raise ValueError("send_repeat needs one whole framed message")
    if err == errno.EMSGSIZE:
        raise MessageTooLargeError("message larger than the send arena (tx_size)")
    e = oserror("sendmmsg", err)
    e.sent = done  # type: ignore[attr-defined]
    raise e


class Transport:
    """A netlink socket's descriptor, send arena and receive slabs."""

    def __init__(self, protocol: int, netns: str | int | None, rx_buffers: int,
                 rx_bufsize: int, tx_size: int, dgram_size: int, overrun_raise: bool) -> None:
        self.fd = -1
        self.wake = -1
        self.port = 0  # bound port id (bind())
        self.rx = ffi.gc(lib.nlf_rx_new(rx_buffers, rx_bufsize), lib.nlf_rx_free)
        self.tx = ffi.gc(lib.nlf_tx_new(tx_size, dgram_size), lib.nlf_tx_free)
        if self.rx == ffi.NULL or self.tx == ffi.NULL:
            raise MemoryError("cannot allocate nlfast socket buffers")
        self.arena_len = rx_buffers * rx_bufsize
        self.origin = Origin(protocol)
        self.rx_buffers = rx_buffers
        self.pool: list[Slab] = []
        self.overrun_raise = overrun_raise
        self.overruns = 0
        self.truncated = 0
        self.sent = ffi.new("uint64_t *")
        self.fd = self._open(protocol, netns)
        self.wake = int(lib.nlf_wake_new())
        if self.wake < 0:
            err = ffi.errno
            os.close(self.fd)
            self.fd = -1
            raise oserror("eventfd", err)

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

    def close(self) -> None:
        """Closes both descriptors (once)."""
        fd, wake, self.fd, self.wake = self.fd, self.wake, -1, -1
        if fd >= 0:
            os.close(fd)
        if wake >= 0:
            os.close(wake)

    def interrupt(self) -> None:
        """Wakes a receive blocked in another thread (it raises ClosedError)."""
        if self.wake >= 0:
            lib.nlf_wake_signal(self.wake)

    # -- options --------------------------------------------------------------

    def setopt(self, level: int, opt: int, value: int) -> int:
        """0, or -1 with ffi.errno."""
        return int(lib.nlf_sock_setopt(self.fd, level, opt, value))

    def getopt(self, level: int, opt: int) -> int:
        v = ffi.new("int *")
        if lib.nlf_sock_getopt(self.fd, level, opt, v) < 0:
            raise oserror(f"getsockopt({level}, {opt})")
        return int(v[0])

    def bind(self, portid: int) -> int:
        if lib.nlf_sock_bind(self.fd, portid, 0) < 0:
            raise oserror(f"bind(portid={portid})")
        p = ffi.new("uint32_t *")
        if lib.nlf_sock_portid(self.fd, p) < 0:
            raise oserror("getsockname")
        self.port = int(p[0])
        return self.port

    def drops(self) -> int:
        info = ffi.new("uint32_t[]", lib.SK_MEMINFO_VARS)
        if lib.nlf_sock_meminfo(self.fd, info, lib.SK_MEMINFO_VARS) < 0:
            raise oserror("getsockopt(SO_MEMINFO)")
        return int(info[lib.SK_MEMINFO_DROPS])

    # -- send -------------------------------------------------------------------

    def send_template(self, t: tuple[Any, int, Any], dest: int, groups: int) -> int:
        """Sends one framed message (a Message template); returns its seq."""
        while True:
            seq = lib.nlf_sock_send_one(self.fd, self.tx, t[0], t[1], dest, groups)
            if seq >= 0:
                return int(seq)
            self.send_failed(ffi.errno)

    @staticmethod
    def send_failed(err: int) -> None:
        """Raises what a failed send of one message means; returns for
        EINTR (nothing went: send it again)."""
        if err == errno.ENOSPC:
            raise MessageTooLargeError("message larger than the send arena (tx_size)")
        if err != errno.EINTR:
            raise oserror("sendmmsg", err)

    def recv_failed(self, err: int) -> bool:
        """Raises what a failed receive means; returns True to receive again
        (EINTR, or an overrun only counted)."""
        if err == errno.ECANCELED or err == errno.EBADF or self.fd < 0:
            raise ClosedError("the socket was closed while receiving")
        if err == errno.EAGAIN:
            raise TimeoutError(errno.ETIMEDOUT, "no netlink message in time")
        if err == errno.ENOBUFS:
            self.overruns += 1
            if self.overrun_raise:
                raise OverrunError(self.drops(), self.overruns)
            return True
        if err == errno.EINTR:
            return True
        raise oserror("recvmmsg", err)

    def _flush(self, dest: int, groups: int) -> None:
        while lib.nlf_sock_flush(self.fd, self.tx, dest, groups) < 0:
            err = ffi.errno
            if err != errno.EINTR:
                lib.nlf_tx_reset(self.tx)
                raise oserror("sendmmsg", err)

    def send_many(self, templates: list[tuple[Any, int, Any]], dest: int,
                  groups: int) -> list[int]:
        """Sends framed templates back to back (many per datagram, many
        datagrams per sendmmsg), numbered in C from the sequence counter;
        returns their seqs.  One join and one C call, whatever their number.

        :raises OSError: a datagram was refused; ``.sent`` (an attribute of
            the exception) says how many messages went before it.
        """
        if not templates:
            return []
        raw = b"".join([t[2] for t in templates])
        first = int(self.tx.seq)
        sent = self.sent
        while lib.nlf_sock_send_stream(self.fd, self.tx, raw, len(raw), dest, groups,
                                       sent) < 0:
            err = ffi.errno
            done = int(sent[0])
            if err == errno.EINTR and done == 0:
                self.tx.seq = first  # nothing went: number them again
                continue
            if err == errno.EMSGSIZE:
                raise MessageTooLargeError("message larger than the send arena (tx_size)")
            e = oserror("sendmmsg", err)
            e.sent = done  # type: ignore[attr-defined]
            raise e
        n = len(templates)
        if first + n <= 1 << 32:
            return list(range(first, first + n))
        return [(first + i) & 0xFFFFFFFF for i in range(n)]

    def send_repeat(self, tmpl: bytes, count: int, dest: int, groups: int) -> int:
        done = 0
        ptr = ffi.from_buffer(tmpl)
        sent = self.sent
        first = int(self.tx.seq)
        while done < count:
            r = lib.nlf_sock_send_repeat(self.fd, self.tx, ptr, len(tmpl), count - done,
                                         dest, groups, sent)
            done += int(sent[0])
            if r < 0:
                err = ffi.errno
                if err == errno.EINTR:
                    # the framed ones that did not go: number them again
                    self.tx.seq = (first + done) & 0xFFFFFFFF
                    continue
                repeat_failed(err, done)
        return done

    # -- receive ------------------------------------------------------------------

    def slab(self) -> Slab:
        for s in self.pool:
            if slab_idle(s):
                return s
        s = Slab(self.arena_len, self.arena_len // 16, self.rx_buffers, self.origin)
        if len(self.pool) < POOL_MAX:
            self.pool.append(s)
        return s

    def recv(self, ms: int) -> Batch:
        """One recvmmsg into an idle slab, waiting up to ``ms`` (-1: for
        ever) for the first datagram; every message parsed in C.

        :raises TimeoutError: nothing came in time.
        :raises ClosedError: closed, or closed from another thread meanwhile.
        :raises OverrunError: ENOBUFS (unless counting: then an empty batch).
        :raises TruncatedError: a datagram was cut (its batch attached).
        """
        slab = self.slab()
        n = lib.nlf_sock_recv(self.fd, self.wake, self.rx, slab.b, ms)
        if n < 0:
            n = self._recv_failed(slab, ms)
        batch = Batch(slab, 0, n, slab.view())
        if slab.b.tab.n_trunc:
            self.truncated += int(slab.b.tab.n_trunc)
            raise TruncatedError(batch, int(slab.b.tab.n_trunc))
        return batch

    def _recv_failed(self, slab: Slab, ms: int) -> int:
        """The slow path of recv: EINTR, early wake-ups and counted overruns
        (retried or an empty receive), timeout, close, errors.  Returns the
        rows of a retry."""
        deadline = None if ms < 0 else time.monotonic() + ms / 1000
        while True:
            err = ffi.errno
            if err == errno.EAGAIN and (deadline is None or time.monotonic() < deadline):
                pass  # woken early: wait again for what is left
            elif self.recv_failed(err) and err == errno.ENOBUFS:
                return 0  # counted: an empty receive
            if deadline is not None:
                ms = max(0, int((deadline - time.monotonic()) * 1000 + 0.999))
            n = int(lib.nlf_sock_recv(self.fd, self.wake, self.rx, slab.b, ms))
            if n >= 0:
                return n
