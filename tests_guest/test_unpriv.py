"""An unprivileged process (uid 65534, no capabilities)."""

from __future__ import annotations

import json

from .conftest import run_py

PRELUDE = """
import json, errno, nlfast
from nlfast import attrs, Message
from nlfast import family as F
import os
assert os.getuid() == 65534
def msg(t, a=()):
    return Message(t, nlfast.NLM_F_REQUEST, attrs=list(a))
out = {}
"""


def test_unprivileged_can_echo_and_subscribe_but_not_flood() -> None:
    code = PRELUDE + """
with nlfast.Socket(30) as s, nlfast.Socket(30, groups=[F.NLFAM_GRP_HELLO]) as sub:
    s.send(msg(F.NLFAM_MSG_ECHO, [attrs.binary(F.NLFAM_A_DATA, b"u")]))
    m = s.recv(timeout=5)[0]
    out["echo"] = m.attrs().bytes(F.NLFAM_A_DATA).decode()
    s.request(msg(F.NLFAM_MSG_MCAST_HELLO))
    out["mcast"] = sub.recv(timeout=5)[0].attrs().str(F.NLFAM_A_TEXT)
    for t in (F.NLFAM_MSG_FLOOD, F.NLFAM_MSG_RESET):
        try:
            s.request(msg(t, [attrs.u32(F.NLFAM_A_COUNT, 1)] if t == F.NLFAM_MSG_FLOOD else []))
            out[str(t)] = "allowed"
        except nlfast.NetlinkError as e:
            out[str(t)] = [e.code, e.msg]
print(json.dumps(out))
"""
    r = run_py(code, unpriv=True)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    from nlfast import family as F

    assert out["echo"] == "u"
    assert out["mcast"] == F.NLFAM_HELLO_MCAST
    import errno

    for t in (F.NLFAM_MSG_FLOOD, F.NLFAM_MSG_RESET):
        code_, text = out[str(t)]
        assert code_ == errno.EPERM and "CAP_NET_ADMIN" in text


def test_cannot_redirect_replies_to_another_socket() -> None:
    # The victim is a root-owned socket; the attacker writes its port id into
    # nlmsg_pid.  The reply must go to the attacker's own socket.
    import nlfast

    with nlfast.Socket(30) as victim:
        code = PRELUDE + f"""
with nlfast.Socket(30) as s:
    m = Message(F.NLFAM_MSG_ECHO, nlfast.NLM_F_REQUEST, portid={victim.portid},
                attrs=[attrs.binary(F.NLFAM_A_DATA, b"redirect?")])
    s.send(m)
    r = s.recv(timeout=5)[0]
    out["got_own_reply"] = r.attrs().bytes(F.NLFAM_A_DATA) == b"redirect?"
print(json.dumps(out))
"""
        r = run_py(code, unpriv=True)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout) == {"got_own_reply": True}
        import pytest

        with pytest.raises(TimeoutError):
            victim.recv(timeout=0.5)
