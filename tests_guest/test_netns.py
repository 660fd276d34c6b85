"""Two network namespaces: each has its own family, counters and multicasts."""

from __future__ import annotations

import pytest

from nlfast import attrs
from nlfast import family as F

from .conftest import fam, msg, stats


def test_namespaces_are_separate(netns_pair: tuple[str, str]) -> None:
    a, b = netns_pair
    with fam(netns=a) as sa, fam(netns=b) as sb, \
         fam(netns=a, groups=[F.NLFAM_GRP_HELLO]) as suba, \
         fam(netns=b, groups=[F.NLFAM_GRP_HELLO]) as subb:
        sa.send_repeat(msg(F.NLFAM_MSG_SINK), 1000)
        assert stats(sa)["sink"] == 1000
        assert stats(sb)["sink"] == 0
        # echo answers in each
        (r,) = sb.request(msg(F.NLFAM_MSG_HELLO, [attrs.string(F.NLFAM_A_TEXT, "b")]))
        assert r.attrs().str(F.NLFAM_A_TEXT) == F.NLFAM_HELLO_REPLY
        # a multicast in a stays in a
        sa.request(msg(F.NLFAM_MSG_MCAST_HELLO))
        assert len(suba.recv(timeout=5)) == 1
        with pytest.raises(TimeoutError):
            subb.recv(timeout=0.3)
        # a reset in b leaves a's generation alone
        ga = stats(sa)["generation"]
        sb.request(msg(F.NLFAM_MSG_RESET))
        assert stats(sa)["generation"] == ga
        assert stats(sa)["sink"] == 1000


def test_namespaces_come_and_go(netns_pair: tuple[str, str]) -> None:
    import subprocess
    import uuid

    for _ in range(20):
        n = f"churn-{uuid.uuid4().hex[:6]}"
        subprocess.run(["ip", "netns", "add", n], check=True)
        with fam(netns=n) as s:
            assert s.request(msg(F.NLFAM_MSG_SINK)) == []
        subprocess.run(["ip", "netns", "del", n], check=True)
