"""NETLINK_USERSOCK between two real processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nlfast
from nlfast import Message, attrs

PEER = Path(__file__).with_name("usersock_peer.py")


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(PEER), *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)


def test_unicast_batches_arrive_in_order_intact() -> None:
    n = 20000
    peer = spawn("unicast", str(n))
    assert peer.stdout is not None
    portid = int(peer.stdout.readline())
    with nlfast.Socket(nlfast.NETLINK_USERSOCK) as s:
        msgs = (Message(0x40, attrs=[attrs.u32(1, i), attrs.binary(2, bytes([i & 0xFF]) * (i % 50))])
                for i in range(n))
        seqs = s.send_batch(msgs, dest=portid)
    assert seqs == list(range(seqs[0], seqs[0] + n))
    out, _ = peer.communicate(timeout=60)
    assert peer.returncode == 0
    assert json.loads(out) == {"got": n, "bad": 0}


def test_send_repeat_to_peer() -> None:
    n = 50000
    peer = subprocess.Popen(
        [sys.executable, "-c", (
            "import nlfast,sys\n"
            "s=nlfast.Socket(nlfast.NETLINK_USERSOCK)\n"
            "print(s.portid,flush=True)\n"
            "got=0;e=None;gaps=0\n"
            "while got<%d:\n"
            "  b=s.recv(timeout=20)\n"
            "  if e is None: e=b.seqs[0]\n"
            "  g,e=b.seq_gaps(0x41,e); gaps+=g; got+=b.count(0x41)\n"
            "print(got,gaps)\n" % n)],
        stdout=subprocess.PIPE, text=True)
    assert peer.stdout is not None
    portid = int(peer.stdout.readline())
    with nlfast.Socket(nlfast.NETLINK_USERSOCK) as s:
        assert s.send_repeat(Message(0x41, attrs=[attrs.binary(1, b"x" * 16)]), n, dest=portid) == n
    out, _ = peer.communicate(timeout=60)
    assert out.split() == [str(n), "0"]


def test_multicast_overrun_is_reported_with_drop_count() -> None:
    peer = spawn("mcast", "0", "4096")
    assert peer.stdout is not None and peer.stdin is not None
    assert peer.stdout.readline().strip() == "ready"
    n = 5000
    # one message per datagram, so the kernel's drop count (in datagrams)
    # is a count of messages
    with nlfast.Socket(nlfast.NETLINK_USERSOCK, dgram_size=16) as s:
        # group 3 is bit 2 of the destination group mask
        s.send_repeat(Message(0x42, attrs=[attrs.binary(1, b"y" * 64)]), n, groups=1 << 2)
    peer.stdin.write("go\n")
    peer.stdin.flush()
    out, _ = peer.communicate(timeout=60)
    res = json.loads(out)
    assert res["overruns"] >= 1  # ENOBUFS reached the receiver as OverrunError
    assert res["got"] < n
    # the kernel counted what it dropped: together they account for the flood
    assert res["drops"] > 0
    assert res["got"] + res["drops"] == n


def test_sender_is_the_socket_address_not_the_header() -> None:
    with nlfast.Socket(nlfast.NETLINK_USERSOCK) as a, nlfast.Socket(nlfast.NETLINK_USERSOCK) as b:
        a.send(Message(0x43, portid=12345), dest=b.portid)  # a forged nlmsg_pid
        batch = b.recv(timeout=2)
        assert batch[0].portid == 12345
        assert batch.sender(0) == a.portid and batch.group(0) == 0


def test_attr_gaps_counts_missing_indices_in_c() -> None:
    with nlfast.Socket(nlfast.NETLINK_USERSOCK) as s:
        idx = [0, 1, 2, 5, 6, 9]  # 3, 4, 7, 8 missing
        s.send_batch([Message(0x44, attrs=[attrs.u32(7, i)]) for i in idx] + [Message(0x44)],
                     dest=s.portid)
        b = s.recv(timeout=2)
        assert b.attr_gaps(7, 0) == (4, 10, 1)  # the last message has no attribute
