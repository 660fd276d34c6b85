"""The module's family spoken by its spec (nlfast/specs/nlfast-family.yaml):
do, dump and events by operation and group name against the real module,
checked against the counters read by number (conftest.stats) and the uapi
header's texts; examples/family_spec.py and ``nlfast monitor --spec``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import nlfast
from nlfast import family as F
from nlfast import spec

from .conftest import TOP, fam, stats


def test_spec_numbers_are_the_modules() -> None:
    s = spec.load("nlfast-family")
    assert s.protonum == F.PROTO_DEFAULT
    for name, op in s.ops.items():
        assert op.req_value == getattr(F, "NLFAM_MSG_" + name.upper().replace("-", "_"))
    for a in s.attr_sets["nlfam-attrs"].by_name.values():
        assert a.value == getattr(F, "NLFAM_A_" + a.name.upper().replace("-", "_"))
    for name, g in s.mcast_groups.items():
        assert g == getattr(F, "NLFAM_GRP_" + name.upper())


def test_do_by_name() -> None:
    with spec.open("nlfast-family") as f:
        hello = f.do("hello", {"text": F.NLFAM_HELLO_TEXT})
        assert hello == {"text": F.NLFAM_HELLO_REPLY}
        data = bytes(range(200))
        assert f.do("echo", {"text": "abc", "data": data}) == {"text": "abc", "data": data}
        with fam() as s:
            before = stats(s)
            assert f.do("sink", {"data": b"x" * 10}) is None  # acked
            got = f.do("stats")
            after = stats(s)
        assert got is not None
        assert after["sink"] == before["sink"] + 1
        # the spec's names, the same counters as read by number around them
        assert got["stats"]["sink"] == before["sink"] + 1
        assert got["generation"] == before["generation"] == after["generation"]
        assert set(got["stats"]) == {"msgs", "bytes", "replies", "mcasts", "delivery-fail",
                                     "errors", "sink"}


def test_dump_by_name() -> None:
    with spec.open("nlfast-family") as f:
        rows = f.dump("dump", {"count": 1000, "size": 24})
        assert [r["index"] for r in rows] == list(range(1000))
        assert all(len(r["data"]) == 24 for r in rows)
        cols: list[int] = []
        for batch in f.batches("dump", {"count": 300, "size": 0}):
            cols += f.column(batch, "index")
        assert cols == list(range(300))


def test_events_by_group_name() -> None:
    with spec.open("nlfast-family") as f, spec.open("nlfast-family") as ev:
        ev.subscribe("events", "flood", "hello")
        gen = stats(f.sock)["generation"]
        f.do("reset")
        sent = f.do("flood", {"count": 50, "size": 16, "group": F.NLFAM_GRP_FLOOD})
        f.do("mcast-hello", {"group": F.NLFAM_GRP_HELLO})
        seen: dict[str, list[dict[str, object]]] = {}
        for name, m in ev.events(timeout=2):
            seen.setdefault(name, []).append(m)
    assert sent == {"count": 50}
    assert seen["event"] == [{"generation": gen + 1}]
    assert [m["index"] for m in seen["flood"]] == list(range(50))
    assert all(len(m["data"]) == 16 for m in seen["flood"])
    assert seen["hello"] == [{"text": F.NLFAM_HELLO_MCAST}]


def test_refused_by_name() -> None:
    with spec.open("nlfast-family") as f:
        with pytest.raises(nlfast.NetlinkError) as e:
            f.do("echo", {"text": "x" * 300})  # over NLFAM_TEXT_MAX
        assert e.value.code > 0
        with pytest.raises(spec.EncodeError, match="no attribute 'txt'"):
            f.do("echo", {"txt": "x"})


def test_family_spec_example() -> None:
    r = subprocess.run([sys.executable, str(TOP / "examples" / "family_spec.py")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = dict(line.split(": ", 1) for line in r.stdout.splitlines())
    assert lines["hello"] == F.NLFAM_HELLO_REPLY
    assert lines["dump"] == "[0, 1, 2, 3, 4]"
    gen, _, before = lines["event generation"].partition(" after ")
    assert int(gen) == int(before) + 1
    assert lines["group hello"] == F.NLFAM_HELLO_MCAST


def test_monitor_by_spec() -> None:
    """nlfast monitor --spec nlfast-family: the module's events by the spec's names."""
    p = subprocess.Popen([sys.executable, "-m", "nlfast", "monitor", "--spec", "nlfast-family",
                          "events", "hello", "--count", "2", "--json", "--timeout", "60"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=TOP)
    try:
        assert p.stderr is not None
        line = p.stderr.readline()
        assert "listening on nlfast-family (30)" in line, line
        with spec.open("nlfast-family") as f:
            gen = f.do("stats")["generation"]  # type: ignore[index]
            f.do("reset")
            f.do("mcast-hello", {"group": F.NLFAM_GRP_HELLO})
        out, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 0, err
    recs = [json.loads(x) for x in out.splitlines()]
    assert [(r["type_name"], r["attrs"]) for r in recs] == [
        ("event", {"generation": gen + 1}), ("hello", {"text": F.NLFAM_HELLO_MCAST})]
