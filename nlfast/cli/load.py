"""``nlfast load``: the request (LoadSpec), the sender and receiver
processes, and the parent that starts them and sums up what they counted."""

from __future__ import annotations

import argparse
import errno
import json
import multiprocessing
import multiprocessing.connection
import os
import signal
import struct
import sys
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

from nlfast import attrs as _attrs
from nlfast import family, genl, rtnl
from nlfast.attrs import Attr
from nlfast.cli import (
    CTRL_ATTR_FAMILY_NAME,
    CTRL_CMD_GETFAMILY,
    GENL_ID_CTRL,
    PROG,
    RTM_NAMES,
    Proto,
    UsageError,
    _drops,
    c_name,
    errno_name,
    family_spec,
    open_error,
)
from nlfast.constants import (
    NETLINK_USERSOCK,
    NLM_F_ACK,
    NLM_F_CAPPED,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
    NLMSG_HDRLEN,
    NLMSG_MIN_TYPE,
    NLMSG_NOOP,
    NLMSG_OVERRUN,
)
from nlfast.errors import NlfastError, TruncatedError
from nlfast.message import Message
from nlfast.socket import Batch, Socket

MAX_ATTR_PAYLOAD = _attrs.ATTR_MAX_PAYLOAD  # nla_len is 16 bits, header included

# -- load: what to send ----------------------------------------------------------

UNKNOWN = (1 << 64) - 1
C_SENT, C_RECV, C_ACK, C_ERR, C_ENOBUFS = range(5)
NSLOTS = 8


@dataclass
class LoadSpec:
    proto: Proto
    netns: str | None
    msg_type: int
    type_label: str
    flags: int
    header: bytes
    attrs: list[Attr]
    size: int
    reply_type: int | None  # one reply of this type per request, same seq
    replies: bool  # the family answers every request (reply or ack)
    sync: bool  # a kernel family: answers are queued when the send returns
    ack: bool
    batch: int
    window: int
    rate: float | None  # per sender
    count: int | None  # in all
    duration: float | None
    dest: int
    groups: int
    dgram_size: int
    rcvbuf: int
    wait: float
    senders: int
    receivers: int
    ack_template: bytes = b""
    msg_len: int = 0
    label: str = ""


def _type_from(text: str | None, names: dict[str, int], default: str) -> tuple[int, str]:
    if text is None:
        text = default
    key = text.strip().lower()
    if key in names:
        return names[key], key
    try:
        n = int(key, 0)
    except ValueError:
        known = ", ".join(sorted(names)) or "none: give a number"
        raise UsageError(f"argument --type: unknown type {text!r} (known: {known})") from None
    if not 0 <= n <= 0xFFFF:
        raise UsageError(f"argument --type: {n} is out of range 0..65535")
    return n, f"{n:#x}"


def make_spec(a: argparse.Namespace) -> LoadSpec:
    proto: Proto = a.proto
    kind = proto.kind
    header: bytes = a.header or b""
    attrs: list[Attr] = []
    reply_type: int | None = None
    replies = False
    no_size = ""
    if kind == "route":
        t, label = _type_from(a.msg_type, {"getlink": rtnl.RTM_GETLINK}, "getlink")
        if t == rtnl.RTM_GETLINK and a.header is None:
            header = rtnl.ifinfomsg(index=a.ifindex)
            reply_type, replies, no_size = rtnl.RTM_NEWLINK, True, "RTM_GETLINK"
            label = f"RTM_GETLINK ifindex {a.ifindex}"
        else:
            label = RTM_NAMES.get(t, label)
    elif kind == "family":
        fam = family_spec()
        fattrs = fam.attr_sets["nlfam-attrs"].by_name
        names = {n: o.req_value for n, o in fam.ops.items() if o.req_value is not None}
        names.update({n.replace("-", "_"): v for n, v in names.items()})
        t, label = _type_from(a.msg_type, names, "echo")
        label = next((c_name("NLFAM_MSG_", n) for n, v in names.items() if v == t), label)
        if t == names["echo"]:
            reply_type, replies = t, True
        elif t == names["stats"]:
            reply_type, replies, no_size = t, True, label
        elif t == names["hello"]:
            reply_type, replies, no_size = t, True, label
            attrs.append(_attrs.string(fattrs["text"].value, family.NLFAM_HELLO_TEXT))
    elif kind == "generic":
        t, label = _type_from(a.msg_type, {"getfamily": GENL_ID_CTRL}, "getfamily")
        if a.msg_type is None or a.msg_type.strip().lower() == "getfamily":
            header = genl.genlmsghdr(CTRL_CMD_GETFAMILY, 1)
            attrs.append(_attrs.string(CTRL_ATTR_FAMILY_NAME, "nlctrl"))
            reply_type, replies, no_size = GENL_ID_CTRL, True, "CTRL_CMD_GETFAMILY"
            label = "nlctrl CTRL_CMD_GETFAMILY"
    else:
        t, label = _type_from(a.msg_type, {}, f"{NLMSG_MIN_TYPE:#x}")
    if t < NLMSG_MIN_TYPE:
        raise UsageError(f"argument --type: {t} is a netlink control type "
                         f"(below {NLMSG_MIN_TYPE:#x})")
    size = a.size or 0
    if size and no_size:
        raise UsageError(f"argument --size: {no_size} requests carry no payload")
    if size > MAX_ATTR_PAYLOAD:
        raise UsageError(f"argument --size: at most {MAX_ATTR_PAYLOAD} bytes (one attribute)")
    if size:
        atype = family_spec().attr_sets["nlfam-attrs"].by_name["data"].value \
            if kind == "family" else 1
        attrs.append(_attrs.binary(atype, bytes(i & 0xFF for i in range(size))))

    if a.dest is not None and a.group is not None:
        raise UsageError("argument --group: not with --dest")
    if a.group is not None:  # nobody answers a multicast
        reply_type, replies = None, False
    if a.group is not None and a.group > 32:
        raise UsageError("argument --group: send to groups 1..32 only (a 32-bit mask)")
    groups = 0 if a.group is None else 1 << (a.group - 1)
    own = kind == "usersock" and a.dest is None and a.group is None
    if a.receivers is not None and not own:
        raise UsageError("argument --receivers: only for usersock without --dest/--group")
    receivers = (a.receivers or a.senders) if own else 0
    if own and a.ack and receivers != a.senders:
        raise UsageError("argument --receivers: with --ack, one receiver per sender")
    sync = kind != "usersock" and a.dest is None and a.group is None
    if a.group is not None and a.ack:
        raise UsageError("argument --ack: multicast is not acknowledged")
    window = a.window if a.window is not None else 16384 if own and a.ack else 256
    rate = None if a.rate is None else a.rate / a.senders
    batch = a.batch
    if rate is not None:
        # at most ~10 ms worth of messages per send, so pacing stays smooth
        batch = min(batch, max(1, int(rate / 100)))
    duration = a.duration
    if duration is None and a.count is None:
        duration = 10.0
    if a.count is not None and a.count < a.senders:
        raise UsageError(f"argument --count: fewer messages ({a.count}) than senders")
    flags = NLM_F_REQUEST | (NLM_F_ACK if a.ack else 0)
    msg = Message(t, flags, header, attrs)
    try:
        encoded = msg.encode()
    except NlfastError as exc:
        raise UsageError(f"the message does not fit: {exc}") from None
    ack_template = b""
    if own and a.ack:
        # what our receivers answer: NLMSG_ERROR 0 with the request's header
        ack_template = Message(NLMSG_ERROR, NLM_F_CAPPED,
                               struct.pack("=i", 0) + encoded[:NLMSG_HDRLEN]).encode()
    spec = LoadSpec(
        proto=proto, netns=a.netns, msg_type=t, type_label=label, flags=flags, header=header,
        attrs=attrs, size=size, reply_type=reply_type,
        replies=replies or (own and a.ack) or (a.ack and a.group is None),
        sync=sync, ack=a.ack, batch=batch, window=window, rate=rate, count=a.count,
        duration=duration, dest=a.dest or 0, groups=groups, dgram_size=max(16, a.dgram_size),
        rcvbuf=a.rcvbuf, wait=a.wait, senders=a.senders, receivers=receivers,
        ack_template=ack_template, msg_len=(len(encoded) + 3) & ~3,
    )
    spec.label = f"{proto.label} {label}"
    return spec


# -- load: the workers ------------------------------------------------------------


class _Sender:
    """One sender process's loop: paced send_repeat calls, answers counted in C."""

    def __init__(self, sock: Socket, spec: LoadSpec, dest: int, counters: Any, base: int,
                 stop: Any) -> None:
        self.s = sock
        self.spec = spec
        self.dest = dest
        self.counters = counters
        self.base = base
        self.stop = stop
        self.parent = os.getppid()
        # a peer in user space learns from nlmsg_pid whom to answer; the kernel
        # takes the sender from the socket
        pid = sock.portid if spec.proto.kind == "usersock" or dest else 0
        self.tmpl = Message(spec.msg_type, spec.flags, spec.header, spec.attrs, pid).encode()
        self.track = spec.replies  # every request completes: window and count them
        self.poll = self.track or spec.sync  # a kernel family may answer errors anyway
        self.sent = self.replies = self.acks = self.failed = 0
        self.errors: Counter[int] = Counter()
        self.send_errors: Counter[int] = Counter()
        self.outstanding = 0
        self.unanswered = 0
        self.gaps = 0
        self.truncated = 0
        self.enobufs = 0
        self.overrun_pending = False
        self.expect = sock.next_seq
        self.fatal: str | None = None
        self.t_start = self.t_last = self.t_progress = time.monotonic()

    def publish(self) -> None:
        c, b = self.counters, self.base
        c[b + C_SENT] = self.sent
        c[b + C_RECV] = self.replies
        c[b + C_ACK] = self.acks
        c[b + C_ERR] = self.failed
        c[b + C_ENOBUFS] = self.enobufs

    def account(self, b: Batch) -> None:
        """Counts one receive from its columns: no Python work per message."""
        n = len(b)
        types = b.types.tolist()
        err_rows = types.count(NLMSG_ERROR)
        done_rows = types.count(NLMSG_DONE)
        failed = 0
        if err_rows or done_rows:
            errs = b.errors.tolist()
            failed = n - errs.count(0)
            if failed:
                by = Counter(errs)
                del by[0]
                self.errors.update(by)
        acks = max(0, err_rows - failed)
        rt = self.spec.reply_type
        if rt is not None:
            replies = types.count(rt)
            if replies:
                gaps, self.expect = b.seq_gaps(rt, self.expect)
                self.gaps += gaps
        else:
            replies = n - err_rows - done_rows - types.count(NLMSG_NOOP) \
                - types.count(NLMSG_OVERRUN)
        self.replies += replies
        self.acks += acks
        self.failed += failed
        if self.track:
            done = acks + failed if self.spec.ack else replies + failed
            self.outstanding = max(0, self.outstanding - done)
        self.t_last = self.t_progress = time.monotonic()

    def drain(self, timeout: float) -> int:
        """Receives what is queued, waiting up to ``timeout`` for the first;
        returns the messages counted."""
        got = 0
        while True:
            try:
                b = self.s.recv(timeout)
            except TimeoutError:
                break
            except TruncatedError as exc:
                self.truncated += 1
                b = exc.batch
            timeout = 0
            if len(b):
                self.account(b)
                got += len(b)
            elif self.s.overruns != self.enobufs:
                self.enobufs = self.s.overruns
                self.overrun_pending = True
        if self.overrun_pending and self.spec.sync:
            # a kernel family answered everything within the send calls: what
            # is not in the queue now was dropped with the overrun
            self.overrun_pending = False
            self.unanswered += self.outstanding
            self.outstanding = 0
        return got

    def send(self, n: int) -> None:
        k = 0
        try:
            k = self.s.send_repeat(self.tmpl, n, dest=self.dest, groups=self.spec.groups)
        except OSError as exc:
            code = exc.errno or 0
            k = int(getattr(exc, "sent", 0))
            self.send_errors[code] += 1
            if code not in (errno.ENOBUFS, errno.EAGAIN):
                hint = ""
                if code == errno.ECONNREFUSED:
                    hint = f": nobody is bound to port id {self.dest}"
                self.fatal = f"sendmmsg: {os.strerror(code)}{hint}"
        except (ValueError, NlfastError) as exc:
            self.fatal = f"send: {exc}"
        self.sent += k
        if self.track:
            self.outstanding += k
        self.t_last = self.t_progress = time.monotonic()

    def wait_room(self) -> None:
        """The window is full: wait for answers; give up on them after --wait."""
        if self.drain(0.05) == 0 and time.monotonic() - self.t_progress >= self.spec.wait:
            self.unanswered += self.outstanding
            self.outstanding = 0

    def run(self, count: int | None) -> None:
        spec = self.spec
        t0 = self.t_start = self.t_last = self.t_progress = time.monotonic()
        end = None if spec.duration is None else t0 + spec.duration
        nb = spec.batch
        rate = spec.rate
        tokens = float(nb)
        last = t0
        while not self.stop.value and self.fatal is None:
            if count is not None and self.sent >= count:
                break
            if os.getppid() != self.parent:  # the parent died: nobody to report to
                break
            now = time.monotonic()
            if end is not None and now >= end:
                break
            n = nb if count is None else min(nb, count - self.sent)
            if self.track:
                room = spec.window - self.outstanding
                if room <= 0:
                    self.wait_room()
                    self.publish()
                    continue
                n = min(n, room)
            if rate is not None:
                tokens = min(float(nb), tokens + (now - last) * rate)
                last = now
                if tokens < n:
                    delay = (n - tokens) / rate
                    if end is not None:
                        delay = min(delay, max(0.0, end - now))
                    if self.poll:
                        self.drain(delay)
                    else:
                        time.sleep(delay)
                    continue
                tokens -= n
            self.send(n)
            if self.poll:
                self.drain(0)
            self.publish()
        self.finish()

    def finish(self) -> None:
        if self.poll:
            self.drain(0)
        while self.track and self.outstanding > 0:
            if self.drain(0.05):
                continue
            if time.monotonic() - self.t_progress >= self.spec.wait:
                break
        self.unanswered += self.outstanding
        self.outstanding = 0
        self.publish()

    def result(self) -> dict[str, Any]:
        return {
            "role": "sender", "sent": self.sent, "received": self.replies, "acked": self.acks,
            "errors": dict(self.errors), "send_errors": dict(self.send_errors),
            "enobufs": self.enobufs, "drops": _drops(self.s), "unanswered": self.unanswered,
            "seq_gaps": self.gaps, "truncated": self.truncated, "t_start": self.t_start,
            "t_last": self.t_last, "fatal": self.fatal,
        }


def _sender_main(idx: int, spec: LoadSpec, dest: int, count: int | None, counters: Any,
                 stop: Any, go: Any, conn: Any) -> None:
    try:
        sock = Socket(spec.proto.number, netns=spec.netns, rcvbuf=spec.rcvbuf,
                      dgram_size=spec.dgram_size, rx_buffers=64, overrun="count")
    except OSError as exc:
        conn.send(("fatal", open_error(exc, spec.proto, spec.netns)))
        return
    try:
        sender = _Sender(sock, spec, dest, counters, idx * NSLOTS, stop)
        conn.send(("ready", sock.portid))
        go.wait()
        sender.run(count)
        conn.send(("done", sender.result()))
    except Exception as exc:  # reported to the parent, which exits 1
        conn.send(("fatal", f"sender {idx}: {exc.__class__.__name__}: {exc}"))
    finally:
        sock.close()


def _receiver_main(idx: int, spec: LoadSpec, slot: int, counters: Any, expected: Any,
                   conn: Any) -> None:
    """A USERSOCK receiver of our own: counts (and with --ack acknowledges)."""
    try:
        sock = Socket(NETLINK_USERSOCK, netns=spec.netns, rcvbuf=spec.rcvbuf, rx_buffers=64,
                      overrun="count")
    except OSError as exc:
        conn.send(("fatal", open_error(exc, spec.proto, spec.netns)))
        return
    parent = os.getppid()
    paired = spec.receivers == spec.senders
    got = gaps = truncated = 0
    expect: int | None = None
    t_first = t_last = 0.0
    last_progress = time.monotonic()
    base = slot * NSLOTS
    try:
        conn.send(("ready", sock.portid))
        while True:
            want = expected[idx]
            if want != UNKNOWN and got >= want:
                break
            try:
                b = sock.recv(0.1)
            except TimeoutError:
                if want != UNKNOWN and time.monotonic() - last_progress >= spec.wait:
                    break
                if os.getppid() != parent:
                    break
                continue
            except TruncatedError as exc:
                truncated += 1
                b = exc.batch
            n = len(b)
            if not n:
                counters[base + C_ENOBUFS] = sock.overruns
                continue
            if paired:
                if expect is None:
                    expect = b.seqs[0]
                g, expect = b.seq_gaps(spec.msg_type, expect)
                gaps += g
            if spec.ack_template:
                _ack(sock, b, spec.ack_template)
            got += n
            last_progress = t_last = time.monotonic()
            if not t_first:
                t_first = t_last
            counters[base + C_RECV] = got
        conn.send(("done", {
            "role": "receiver", "received": got, "seq_gaps": gaps, "enobufs": sock.overruns,
            "drops": _drops(sock), "truncated": truncated, "t_start": t_first,
            "t_last": t_last, "fatal": None,
        }))
    except Exception as exc:
        conn.send(("fatal", f"receiver {idx}: {exc.__class__.__name__}: {exc}"))
    finally:
        sock.close()


def _ack(sock: Socket, b: Batch, tmpl: bytes) -> None:
    """Acknowledges a receive: one send_repeat per run of consecutive seqs."""
    n = len(b)
    seqs, pids = b.seqs, b.portids
    if (seqs[n - 1] - seqs[0]) & 0xFFFFFFFF == n - 1 and pids[0] == pids[n - 1]:
        sock.next_seq = seqs[0]
        sock.send_repeat(tmpl, n, dest=pids[0])
        return
    for i in range(n):
        sock.next_seq = seqs[i]
        sock.send_repeat(tmpl, 1, dest=pids[i])


# -- load: the parent -------------------------------------------------------------


def _si(x: float) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= div:
            return f"{x / div:.2f} {unit}"
    return f"{x:.0f} "


class _Progress:
    """One line on stderr, refreshed about four times a second."""

    def __init__(self, enabled: bool, counters: Any, nworkers: int) -> None:
        self.enabled = enabled
        self.counters = counters
        self.nworkers = nworkers
        self.t = time.monotonic()
        self.last_sent = 0
        self.shown = False

    def totals(self) -> list[int]:
        c = self.counters[:]
        return [sum(c[w * NSLOTS + k] for w in range(self.nworkers)) for k in range(NSLOTS)]

    def update(self) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.t < 0.2:
            return
        tot = self.totals()
        rate = (tot[C_SENT] - self.last_sent) / (now - self.t)
        self.t, self.last_sent = now, tot[C_SENT]
        line = (f"{_si(rate)}msg/s  sent {tot[C_SENT]:,}  received {tot[C_RECV]:,}  "
                f"acked {tot[C_ACK]:,}  errors {tot[C_ERR]:,}  ENOBUFS {tot[C_ENOBUFS]:,}")
        sys.stderr.write("\r" + line + "\x1b[K")
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _split(total: int | None, n: int, i: int) -> int | None:
    if total is None:
        return None
    return total // n + (1 if i < total % n else 0)


def run_load(spec: LoadSpec, as_json: bool, progress: bool) -> int:
    try:  # fail here, once and clearly, rather than in every worker
        Socket(spec.proto.number, netns=spec.netns, rcvbuf=None).close()
    except OSError as exc:
        print(f"{PROG} load: {open_error(exc, spec.proto, spec.netns)}", file=sys.stderr)
        return 1
    ctx = multiprocessing.get_context("fork")
    nworkers = spec.senders + spec.receivers
    counters: Any = ctx.RawArray("Q", nworkers * NSLOTS)
    expected: Any = ctx.RawArray("Q", max(1, spec.receivers))
    for i in range(spec.receivers):
        expected[i] = UNKNOWN
    stop: Any = ctx.RawValue("i", 0)
    go = ctx.Event()
    old_term = signal.signal(signal.SIGTERM, _interrupt)
    procs: list[Any] = []
    failures: list[str] = []
    interrupted = False

    def start(target: Callable[..., None], *args: Any) -> Any:
        rx, tx = ctx.Pipe(duplex=False)
        # the workers inherit: Ctrl-C is the parent's to handle (it stops them),
        # SIGTERM ends them
        old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        old_trm = signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            p = ctx.Process(target=target, args=(*args, tx), daemon=True)
            p.start()
        finally:
            signal.signal(signal.SIGINT, old_int)
            signal.signal(signal.SIGTERM, old_trm)
        tx.close()
        procs.append(p)
        return rx

    def collect(conns: list[Any], what: str, timeout: float | None,
                on_tick: Callable[[], None] | None = None) -> list[Any]:
        nonlocal interrupted
        out: list[Any] = [None] * len(conns)
        pending = dict(enumerate(conns))
        deadline = None if timeout is None else time.monotonic() + timeout
        while pending:
            try:
                ready = multiprocessing.connection.wait(list(pending.values()), 0.25)
                for c in ready:
                    i = next(k for k, v in pending.items() if v is c)
                    conn: Any = c
                    try:
                        kind, val = conn.recv()
                    except EOFError:
                        kind, val = "fatal", f"a {what} process died unexpectedly"
                    del pending[i]
                    if kind == "fatal":
                        failures.append(val)
                    else:
                        out[i] = val
                if on_tick:
                    on_tick()
                if deadline is not None and time.monotonic() > deadline:
                    failures.append(f"{len(pending)} {what} process(es) did not answer")
                    break
            except KeyboardInterrupt:
                interrupted = True
                stop.value = 1
        return out

    try:
        rconns = [start(_receiver_main, i, spec, spec.senders + i, counters, expected)
                  for i in range(spec.receivers)]
        portids = collect(rconns, "receiver", 30)
        if failures:
            return _fail(failures)
        sconns = []
        for i in range(spec.senders):
            dest = portids[i % spec.receivers] if spec.receivers else spec.dest
            sconns.append(start(_sender_main, i, spec, dest, _split(spec.count, spec.senders, i),
                                counters, stop, go))
        collect(sconns, "sender", 30)  # ready
        if failures:
            return _fail(failures)
        prog = _Progress(progress, counters, nworkers)
        t0 = time.monotonic()
        go.set()
        sres = collect(sconns, "sender", None, prog.update)
        for i in range(spec.receivers):
            expected[i] = sum(r["sent"] for j, r in enumerate(sres)
                              if r and j % spec.receivers == i)
        rres = collect(rconns, "receiver", spec.wait + 30, prog.update)
        prog.clear()
        failures.extend(r["fatal"] for r in sres if r and r.get("fatal"))
    finally:
        signal.signal(signal.SIGTERM, old_term)
        stop.value = 1
        go.set()  # senders still waiting for the start see the stop and leave
        for i in range(spec.receivers):
            expected[i] = 0
        for p in procs:
            p.join(5)
            if p.is_alive():
                p.terminate()
                p.join(1)
    summary = _summarize(spec, t0, [r for r in sres if r], [r for r in rres if r], failures,
                         interrupted)
    if as_json:
        print(json.dumps(summary))
    else:
        _print_summary(summary)
    for f in failures:
        print(f"{PROG} load: {f}", file=sys.stderr)
    if summary["all_failed"]:
        print(f"{PROG} load: every request failed: {_failure_counts(summary)}", file=sys.stderr)
        return 1
    return 1 if failures else 0


def _all_failed(sent: int, answered: int, errors: int, send_errors: int) -> bool:
    """Nothing went through: every send failed, or every request sent was
    answered with an error and none with a reply or an ack."""
    if sent == 0:
        return send_errors > 0
    return answered == 0 and errors >= sent


def _failure_counts(s: dict[str, Any]) -> str:
    parts = []
    if s["error_count"]:
        by = ", ".join(f"{k} {v:,}" for k, v in s["errors"].items())
        parts.append(f"{s['error_count']:,} of {s['sent']:,} answered with an error ({by})")
    if s["send_errors"]:
        by = ", ".join(f"{k} {v:,}" for k, v in s["send_errors"].items())
        parts.append(f"sending failed ({by})")
    return "; ".join(parts)


def _fail(failures: list[str]) -> int:
    for f in dict.fromkeys(failures):
        print(f"{PROG} load: {f}", file=sys.stderr)
    return 1


def _summarize(spec: LoadSpec, t0: float, sres: list[dict[str, Any]],
               rres: list[dict[str, Any]], failures: list[str],
               interrupted: bool) -> dict[str, Any]:
    def total(rows: list[dict[str, Any]], key: str) -> int:
        return sum(int(r.get(key) or 0) for r in rows)

    def by_name(rows: list[dict[str, Any]], key: str) -> dict[str, int]:
        c: Counter[str] = Counter()
        for r in rows:
            for code, n in r[key].items():
                c[errno_name(int(code))] += n
        return dict(sorted(c.items()))

    sent = total(sres, "sent")
    received = total(rres, "received") if spec.receivers else total(sres, "received")
    t_end = max([r["t_last"] for r in sres + rres if r.get("t_last")] or [t0])
    duration = max(0.0, t_end - t0)
    errors = by_name(sres, "errors")
    send_errors = by_name(sres, "send_errors")
    acked = total(sres, "acked")
    return {
        "command": "load",
        "protocol": spec.proto.label,
        "proto": spec.proto.number,
        "type": spec.msg_type,
        "type_name": spec.type_label,
        "size": spec.size,
        "msg_len": spec.msg_len,
        "senders": spec.senders,
        "receivers": spec.receivers,
        "batch": spec.batch,
        "window": spec.window if spec.replies else None,
        "rate_target": None if spec.rate is None else spec.rate * spec.senders,
        "ack": spec.ack,
        "dest": spec.dest if spec.dest else None,
        "sent": sent,
        "received": received,
        "acked": acked,
        "errors": errors,
        "error_count": sum(errors.values()),
        "send_errors": send_errors,
        "all_failed": _all_failed(sent, received + acked, sum(errors.values()),
                                  sum(send_errors.values())),
        "enobufs": total(sres + rres, "enobufs"),
        "drops": total(sres + rres, "drops"),
        "unanswered": total(sres, "unanswered"),
        "seq_gaps": total(sres + rres, "seq_gaps"),
        "truncated": total(sres + rres, "truncated"),
        "duration": round(duration, 6),
        "rate": round(sent / duration, 1) if duration else 0.0,
        "received_rate": round(received / duration, 1) if duration else 0.0,
        "interrupted": interrupted,
        "failures": list(dict.fromkeys(failures)),
    }


def _print_summary(s: dict[str, Any]) -> None:
    pace = "flat out" if s["rate_target"] is None else f"{s['rate_target']:g} msg/s"
    out = [
        f"{PROG} load: {s['protocol']} {s['type_name']}, {s['msg_len']}-byte messages, "
        f"{s['senders']} sender(s), batch {s['batch']}"
        + (f", window {s['window']}" if s["window"] else "") + f", {pace}"
        + (" (interrupted)" if s["interrupted"] else ""),
        f"  sent       {s['sent']:>14,}  in {s['duration']:.3f} s: {_si(s['rate'])}msg/s "
        f"({_si(s['rate'] * s['msg_len'])}B/s)",
    ]
    who = f" by {s['receivers']} receiver(s)" if s["receivers"] else ""
    out.append(f"  received   {s['received']:>14,}{who}: {_si(s['received_rate'])}msg/s")
    if s["ack"]:
        out.append(f"  acked      {s['acked']:>14,}")
    errs = ", ".join(f"{k} {v:,}" for k, v in s["errors"].items())
    out.append(f"  errors     {s['error_count']:>14,}" + (f"  ({errs})" if errs else ""))
    if s["send_errors"]:
        out.append("  send errors  " + ", ".join(f"{k} {v:,}" for k, v in
                                                  s["send_errors"].items()))
    out.append(f"  ENOBUFS    {s['enobufs']:>14,}  (kernel drops {s['drops']:,})")
    if s["unanswered"] or s["seq_gaps"] or s["truncated"]:
        out.append(f"  unanswered {s['unanswered']:>14,}  (reply seq gaps {s['seq_gaps']:,}, "
                   f"truncated {s['truncated']:,})")
    print("\n".join(out))
