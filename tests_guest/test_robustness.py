"""100k+ malformed and random-typed messages from several processes at once
(in the spirit of syzkaller's netlink descriptions); the module still answers
and the kernel log stays clean (guest/vm.py fails the run on any oops, BUG,
WARNING or SLUB report, and on a taint other than O/E)."""

from __future__ import annotations

import json

from nlfast import attrs
from nlfast import family as F

from .conftest import fam, kmsg_mark, kmsg_since, msg, run_py

FUZZER = r"""
import json, random, struct, sys, errno, nlfast
seed, n = int(sys.argv[1]), int(sys.argv[2])
rnd = random.Random(seed)
TYPES = list(range(0, 0x20)) + [0x7f, 0xffff, rnd.randrange(65536)]

def attr(depth=0):
    t = rnd.choice([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x8000 | 7, rnd.randrange(65536)])
    kind = rnd.random()
    if kind < 0.2 and depth < 3:
        body = b"".join(attr(depth + 1) for _ in range(rnd.randrange(4)))
        t |= 0x8000
    elif kind < 0.5:
        body = rnd.choice([b"", b"\0", b"x" * rnd.randrange(300), struct.pack("<I", rnd.randrange(2**32)),
                           struct.pack("<H", rnd.randrange(65536)), struct.pack("<Q", rnd.randrange(2**64))])
    else:
        body = rnd.randbytes(rnd.randrange(64))
    ln = 4 + len(body)
    if rnd.random() < 0.1:
        ln = rnd.randrange(65536)  # a lying length
    a = struct.pack("<HH", ln & 0xffff, t) + body
    return a + b"\0" * ((-len(a)) % 4 if rnd.random() < 0.9 else 0)

def message(seq):
    payload = b"".join(attr() for _ in range(rnd.randrange(5)))
    if rnd.random() < 0.1:
        payload += rnd.randbytes(rnd.randrange(1, 8))  # trailing junk
    flags = rnd.choice([1, 5, 0x301, 0x305, 0, rnd.randrange(65536)])
    ln = 16 + len(payload)
    if rnd.random() < 0.05:
        ln = rnd.choice([0, 8, 15, ln + 4, ln - 1, rnd.randrange(2**32)])
    m = struct.pack("<IHHII", ln & 0xffffffff, rnd.choice(TYPES), flags, seq, rnd.randrange(2**32)) + payload
    return m + b"\0" * ((-len(m)) % 4)

sent = errors = 0
with nlfast.Socket(30, overrun="count", rcvbuf=1 << 20) as s:
    fd = s.fileno()
    import socket
    raw = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 30)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    raw.setblocking(False)
    seq = 0
    while sent < n:
        dgram = b""
        for _ in range(rnd.randrange(1, 16)):
            seq += 1
            dgram += message(seq)
            sent += 1
        try:
            raw.send(dgram)
        except OSError as e:
            errors += 1
        while True:  # drain replies so the socket never blocks the fuzzing
            try:
                raw.recv(1 << 16)
            except BlockingIOError:
                break
            except OSError:
                pass
    raw.close()
print(json.dumps({"sent": sent, "send_errors": errors}))
"""


def test_random_messages_from_several_processes() -> None:
    import subprocess
    import sys

    mark = kmsg_mark()
    per, procs = 34000, 3
    ps = [subprocess.Popen([sys.executable, "-c", FUZZER, str(seed), str(per)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
          for seed in range(procs)]
    total = 0
    for p in ps:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        total += json.loads(out)["sent"]
    assert total >= 100_000
    # the module still answers, byte for byte
    with fam() as s:
        (r,) = s.request(msg(F.NLFAM_MSG_HELLO, [attrs.string(F.NLFAM_A_TEXT, "still here?")]))
        assert r.attrs().str(F.NLFAM_A_TEXT) == F.NLFAM_HELLO_REPLY
    log = kmsg_since(mark)
    for bad in ("BUG", "WARNING", "Oops", "general protection", "Call Trace", "slab"):
        assert bad not in log, log[-3000:]


def test_unprivileged_fuzz_cannot_flood() -> None:
    r = run_py("import sys; sys.argv=['x','7','3000']\n" + FUZZER, unpriv=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["sent"] >= 3000
