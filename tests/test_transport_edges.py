"""The transport's edges against the real kernel: what each failed send
says, and a wake-up descriptor that happens to be fd 0.

Each test here kills mutants of nlfast/_transport.py that the rest of the
host tests let live (tests/mutation/SURVIVORS.md, "_engine, _transport").
"""

from __future__ import annotations

import errno
import os
import signal
import socket as pysocket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

import nlfast
from nlfast import Message, attrs, rtnl
from nlfast._transport import Transport

from .conftest import Netns

USERSOCK = nlfast.NETLINK_USERSOCK
NOBODY = 0x7FFFFFF0  # a USERSOCK port id no socket holds
TOO_LARGE = r"^message larger than the send arena \(tx_size\)$"


def test_a_message_larger_than_the_send_arena_is_named_exactly() -> None:
    with nlfast.Socket(USERSOCK, tx_size=4096) as s:
        big = Message(0x40, attrs=[attrs.binary(1, b"z" * 8000)])
        with pytest.raises(nlfast.MessageTooLargeError, match=TOO_LARGE):
            s.send(big, dest=s.portid)  # send_failed: ENOSPC
        with pytest.raises(nlfast.MessageTooLargeError, match=TOO_LARGE):
            s.send_repeat(big, 2, dest=s.portid)  # repeat_failed: EMSGSIZE
        with pytest.raises(nlfast.MessageTooLargeError, match=TOO_LARGE):
            s.send_batch([big], dest=s.portid)
        with pytest.raises(ValueError, match=r"^send_repeat needs one whole framed message$"):
            s.send_repeat(b"\x08\0\0\0\0\0\0\0", 1, dest=s.portid)  # nlmsg_len 8: EINVAL


def test_a_send_the_kernel_refuses_names_the_call_and_its_errno() -> None:
    refused = rf"^\[Errno {errno.ECONNREFUSED}\] sendmmsg: {os.strerror(errno.ECONNREFUSED)}$"
    with nlfast.Socket(USERSOCK) as s:
        with pytest.raises(ConnectionRefusedError, match=refused) as one:
            s.send(Message(0x40), dest=NOBODY)
        assert one.value.errno == errno.ECONNREFUSED
        with pytest.raises(ConnectionRefusedError, match=refused) as rep:
            s.send_repeat(Message(0x40), 3, dest=NOBODY)
        assert rep.value.errno == errno.ECONNREFUSED
        assert rep.value.sent == 0  # type: ignore[attr-defined]
        with pytest.raises(ConnectionRefusedError, match=refused) as req:
            s.request(Message(0x40), dest=NOBODY, timeout=1)  # nlf_sock_request's send
        assert req.value.errno == errno.ECONNREFUSED
        # nothing went, nothing is left behind: the socket carries on
        s.send(Message(0x41), dest=s.portid)
        assert s.recv(timeout=2).types.tolist() == [0x41]


def test_close_wakes_a_receive_when_the_wake_descriptor_is_fd_0() -> None:
    # A daemon runs with stdin closed: the lowest free descriptor is 0.  A
    # namespace given by path is opened first (fd 0), the socket gets the
    # next free one, the namespace fd is closed, and the eventfd gets 0.
    try:
        saved: int | None = os.dup(0)
    except OSError:  # already closed (a runner without stdin)
        saved = None
    else:
        os.close(0)
    try:
        with nlfast.Socket(USERSOCK) as s0:  # the socket itself is fd 0
            assert s0._t.fd == 0
            s0.send(Message(0x45), dest=s0.portid)
            assert s0.recv(timeout=2).types.tolist() == [0x45]
            with pytest.raises(TimeoutError) as te:  # a timeout, not "closed"
                s0.recv(timeout=0)
            assert te.value.errno == errno.ETIMEDOUT
            assert str(te.value) == f"[Errno {errno.ETIMEDOUT}] no netlink message in time"
        s = nlfast.Socket(USERSOCK, netns="/proc/self/ns/net")
        try:
            assert s._t.wake == 0 and s._t.fd > 0
            errors: list[BaseException] = []

            def blocked() -> None:
                try:
                    s.recv(timeout=5)
                except BaseException as e:
                    errors.append(e)

            th = threading.Thread(target=blocked)
            th.start()
            while not s._lock.locked():  # the receive holds the socket
                threading.Event().wait(0.005)
            threading.Event().wait(0.05)
            s.close()
            th.join(10)
            assert not th.is_alive()
            assert [type(e) for e in errors] == [nlfast.ClosedError]
        finally:
            s.close()
        # both descriptors closed, fd 0 included
        with pytest.raises(OSError, match="Bad file descriptor"):
            os.fstat(0)
    finally:
        if saved is not None:
            os.dup2(saved, 0)
            os.close(saved)


def test_sequence_number_0_is_a_message_sent() -> None:
    with nlfast.Socket(USERSOCK) as s:
        s.next_seq = 0xFFFFFFFF
        assert s.send(Message(0x40), dest=s.portid) == 0xFFFFFFFF
        assert s.send(Message(0x41), dest=s.portid) == 0  # the counter wrapped
        got = []
        for m in s.events(timeout=0.2):
            got.append((m.type, m.seq))
        assert got == [(0x40, 0xFFFFFFFF), (0x41, 0)]


# -- a signal while blocked: EINTR --------------------------------------------------------------


@pytest.fixture
def sigalrm() -> Iterator[None]:
    """A Python handler for SIGALRM (so a blocked call returns EINTR)."""
    old = signal.signal(signal.SIGALRM, lambda *_: None)
    yield
    signal.signal(signal.SIGALRM, old)


class Peer(threading.Thread):
    """A USERSOCK port with the smallest receive buffer that reads nothing
    until, ``after`` seconds in, it interrupts the main thread (blocked in a
    send or a receive) with SIGALRM; then, if ``send_to`` is set, it sends
    one message there, else it reads, until ``stop`` and nothing is left,
    the seqs of what ``src`` sent it."""

    def __init__(self, after: float = 0.2, send_to: int = 0) -> None:
        super().__init__(daemon=True)
        self.sock = pysocket.socket(pysocket.AF_NETLINK, pysocket.SOCK_RAW, USERSOCK)
        self.sock.setsockopt(pysocket.SOL_SOCKET, pysocket.SO_RCVBUF, 1)
        self.sock.bind((0, 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[0]
        self.after, self.send_to = after, send_to
        self.main = threading.main_thread().ident
        self.src = -1
        self.seqs: list[int] = []
        self.stop = threading.Event()

    def fill(self) -> None:
        """Fills its receive queue from another port."""
        with pysocket.socket(pysocket.AF_NETLINK, pysocket.SOCK_RAW, USERSOCK) as f:
            f.bind((0, 0))
            while True:
                try:
                    f.sendto(struct.pack("=IHHII", 16, 0x10, 0, 0, 0), pysocket.MSG_DONTWAIT,
                             (self.port, 0))
                except BlockingIOError:
                    return

    def run(self) -> None:
        time.sleep(self.after)
        assert self.main is not None
        signal.pthread_kill(self.main, signal.SIGALRM)
        if self.send_to:
            time.sleep(0.1)  # the receive goes back to waiting meanwhile
            self.sock.sendto(struct.pack("=IHHII", 16, 0x42, 0, 7, 0), (self.send_to, 0))
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                data, (src, _) = self.sock.recvfrom(1 << 16)
            except (TimeoutError, pysocket.timeout):
                if self.stop.is_set():
                    return
                continue
            off = 0
            while src == self.src and off + 16 <= len(data):
                ln, _, _, seq, _ = struct.unpack_from("=IHHII", data, off)
                self.seqs.append(seq)
                off += (ln + 3) & ~3


@pytest.mark.parametrize("timeout", [None, 5.0])
@pytest.mark.usefixtures("sigalrm")
def test_a_receive_interrupted_by_a_signal_waits_on(timeout: float | None) -> None:
    with nlfast.Socket(USERSOCK) as s:
        p = Peer(send_to=s.portid)
        p.start()
        b = s.recv(timeout=timeout)
        p.join()
        assert [(m.type, m.seq) for m in b] == [(0x42, 7)]


@pytest.mark.usefixtures("sigalrm")
def test_a_batch_interrupted_before_anything_went_is_sent_again() -> None:
    n = 50
    with nlfast.Socket(USERSOCK) as s:
        p = Peer()
        p.src = s.portid
        p.fill()  # the first datagram blocks until the peer reads
        first = s.next_seq
        p.start()
        seqs = s.send_batch([Message(0x40, attrs=[attrs.u32(1, i)]) for i in range(n)],
                            dest=p.port)
        p.stop.set()
        p.join()
        assert seqs == list(range(first, first + n))
        assert p.seqs == seqs  # numbered once, each sent once
        assert s.next_seq == first + n


@pytest.mark.usefixtures("sigalrm")
def test_send_repeat_interrupted_part_way_sends_the_rest_only() -> None:
    n = 1000
    with nlfast.Socket(USERSOCK, tx_size=4096, dgram_size=4096) as s:
        p = Peer()
        p.src = s.portid
        first = s.next_seq
        p.start()  # one 4 KiB round goes, the next blocks until the peer reads
        assert s.send_repeat(Message(0x40, attrs=[attrs.u32(1, 5)]), n, dest=p.port) == n
        p.stop.set()
        p.join()
        # each sent once, numbered without a gap where the signal came
        assert p.seqs == list(range(first, first + n))
        assert s.next_seq == first + n


def test_send_batch_numbers_across_the_wrap_and_names_a_refusal() -> None:
    with nlfast.Socket(USERSOCK) as s:
        s.next_seq = 0xFFFFFFFE
        seqs = s.send_batch([Message(0x40)] * 4, dest=s.portid)
        assert seqs == [0xFFFFFFFE, 0xFFFFFFFF, 0, 1]
        assert [m.seq for m in s.recv(timeout=2)] == seqs
        s.next_seq = 0xFFFFFFFC  # ends exactly at the wrap: no number past it
        assert s.send_batch([Message(0x40)] * 4, dest=s.portid) == list(range(0xFFFFFFFC, 1 << 32))
        s.recv(timeout=2)
        refused = rf"^\[Errno {errno.ECONNREFUSED}\] sendmmsg: {os.strerror(errno.ECONNREFUSED)}$"
        with pytest.raises(ConnectionRefusedError, match=refused) as e:
            s.send_batch([Message(0x40)] * 3, dest=NOBODY)
        assert e.value.sent == 0  # type: ignore[attr-defined]


def test_receive_buffers_the_shim_refuses_are_named() -> None:
    # the shim refuses more datagrams per receive than recvmmsg takes
    # (NLF_VLEN_MAX); nlfast.Socket checks its arguments before it gets here
    with pytest.raises(MemoryError, match=r"^cannot allocate nlfast socket buffers$"):
        Transport(USERSOCK, None, 100_000, 4096, 1 << 16, 4096, True)


@pytest.mark.parametrize("overrun", ["raise", "count"])
def test_an_overrun_is_counted_from_zero(overrun: str) -> None:
    # a multicast flood into the smallest receive buffer: ENOBUFS (group 29:
    # no other test of the suite uses it)
    with nlfast.Socket(USERSOCK, groups=[29], rcvbuf=1, overrun=overrun) as s, \
            pysocket.socket(pysocket.AF_NETLINK, pysocket.SOCK_RAW, USERSOCK) as p:
        p.bind((0, 0))
        assert s.overruns == 0
        for i in range(200):
            with pytest.raises(ConnectionRefusedError):  # the group got it; no port 0
                p.sendto(struct.pack("=IHHII", 16, 0x43, 0, i, 0) + b"\0" * 240, (0, 1 << 28))
        if overrun == "raise":
            with pytest.raises(nlfast.OverrunError) as e:
                s.recv(timeout=1)
            assert e.value.overruns == 1
        else:
            assert len(s.recv(timeout=1)) == 0  # counted: an empty receive
        assert s.overruns == 1


def test_a_namespace_given_as_an_open_fd_is_used_and_stays_the_callers(netns: Netns) -> None:
    nsfd = os.open(netns.path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with nlfast.Socket(nlfast.NETLINK_ROUTE, netns=nsfd) as s:
            links = [m.attrs(rtnl.IFINFOMSG_LEN).str(rtnl.IFLA_IFNAME)
                     for b in s.dump(Message(rtnl.RTM_GETLINK, header=rtnl.ifinfomsg()))
                     for m in b]
        assert links == ["lo"]  # the namespace's, not this process's
        os.fstat(nsfd)  # not closed by the socket
    finally:
        os.close(nsfd)


def test_a_descriptor_closed_behind_the_sockets_back_reads_as_closed() -> None:
    s = nlfast.Socket(USERSOCK)
    fd = s.fileno()
    os.close(fd)  # EBADF from the receive
    try:
        with pytest.raises(nlfast.ClosedError, match=r"^the socket was closed while receiving$"):
            s.recv(timeout=0)
    finally:
        null = os.open(os.devnull, os.O_RDONLY)  # something for close() to close there
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
        s.close()


def test_a_port_id_in_use_is_named_with_its_errno() -> None:
    # oserror() without an errno of its own reads the one bind(2) left
    with nlfast.Socket(USERSOCK) as a:
        with pytest.raises(OSError) as e:
            nlfast.Socket(USERSOCK, portid=a.portid)
        assert e.value.errno == errno.EADDRINUSE
        assert str(e.value) == (f"[Errno {errno.EADDRINUSE}] bind(portid={a.portid}): "
                                f"{os.strerror(errno.EADDRINUSE)}")
