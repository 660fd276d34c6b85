"""python -m nlfast against the module: load (echo, sink) and monitor."""

from __future__ import annotations

import json
import subprocess
import sys

from nlfast import family as F

from .conftest import TOP, fam, msg, stats


def nlfast_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nlfast", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=TOP)


def test_load_echo_every_reply_comes_back() -> None:
    r = nlfast_cli("load", "--proto", "family", "--type", "echo", "--size", "32",
                   "--count", "20000", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["sent"] == out["received"] == 20000
    assert out["error_count"] == 0 and out["seq_gaps"] == 0


def test_load_sink_is_counted_by_the_module() -> None:
    with fam() as s:
        before = stats(s)["sink"]
        r = nlfast_cli("load", "--proto", "family", "--type", "sink", "--count", "100000",
                       "--senders", "2", "--json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["sent"] == 100000
        assert stats(s)["sink"] - before == 100000


def test_monitor_prints_the_group_message() -> None:
    p = subprocess.Popen([sys.executable, "-m", "nlfast", "monitor", "--proto", "family",
                          "hello", "--count", "1", "--json", "--timeout", "60"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=TOP)
    assert p.stderr is not None
    p.stderr.readline()  # "listening..." once subscribed
    with fam() as s:
        s.request(msg(F.NLFAM_MSG_MCAST_HELLO))
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert F.NLFAM_HELLO_MCAST in out


def test_load_of_unprivileged_requests_as_nobody() -> None:
    r = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                        "--inh-caps=-all", sys.executable, "-m", "nlfast", "load", "--proto",
                        "family", "--type", "stats", "--count", "10", "--ack", "--json"],
                       capture_output=True, text=True, timeout=120, cwd=TOP)
    assert r.returncode in (0, 1), r.stderr
    out = json.loads(r.stdout)
    assert out["sent"] == 10 and out["error_count"] == 0  # stats is unprivileged
