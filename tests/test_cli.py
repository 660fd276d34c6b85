"""The command line (python -m nlfast) against real kernel families on this host."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

import nlfast
from nlfast import family

from .conftest import Netns, run

CLI = [sys.executable, "-m", "nlfast"]


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


def load_json(*args: str) -> dict[str, Any]:
    r = cli("load", "--json", *args)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    summary: dict[str, Any] = json.loads(r.stdout)
    return summary


def start_monitor(*args: str) -> subprocess.Popen[str]:
    """A monitor subprocess, returned once it has joined its groups."""
    p = subprocess.Popen([*CLI, "monitor", *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    assert p.stderr is not None
    line = p.stderr.readline()
    assert "listening on" in line, line + p.stderr.read()
    return p


# -- load ------------------------------------------------------------------------


def test_usersock_load_with_its_own_receiver() -> None:
    s = load_json("--proto", "usersock", "--count", "100000", "--size", "16")
    assert s["sent"] == s["received"] == 100000
    assert s["receivers"] == 1
    assert s["error_count"] == 0 and s["enobufs"] == 0 and s["seq_gaps"] == 0
    assert s["msg_len"] == 16 + 4 + 16
    assert s["failures"] == [] and s["duration"] > 0 and s["rate"] > 0


def test_usersock_load_two_senders() -> None:
    s = load_json("--proto", "usersock", "--count", "100001", "--senders", "2", "--batch", "333")
    assert s["senders"] == 2 and s["receivers"] == 2
    assert s["sent"] == s["received"] == 100001
    assert s["seq_gaps"] == 0


def test_usersock_load_acked_by_our_receivers() -> None:
    s = load_json("--proto", "usersock", "--count", "60000", "--senders", "2", "--ack")
    assert s["sent"] == s["received"] == s["acked"] == 60000
    assert s["error_count"] == 0 and s["unanswered"] == 0


def test_route_getlink_replies_and_acks_counted(netns: Netns) -> None:
    s = load_json("--proto", "route", "--type", "getlink", "--ack", "--count", "20000",
                  "--netns", netns.name)
    assert s["type"] == 18  # RTM_GETLINK
    assert s["sent"] == s["received"] == s["acked"] == 20000
    assert s["errors"] == {} and s["error_count"] == 0
    assert s["enobufs"] == 0 and s["unanswered"] == 0 and s["seq_gaps"] == 0


def test_route_errors_counted_by_errno(netns: Netns) -> None:
    """Every request failing is a failed run: exit 1, the counts on stderr."""
    r = cli("load", "--json", "--proto", "route", "--ifindex", "4242", "--ack", "--count", "3000",
            "--netns", netns.name)
    assert r.returncode == 1, (r.stdout, r.stderr)
    s = json.loads(r.stdout)
    assert s["sent"] == 3000
    assert s["received"] == 0 and s["acked"] == 0
    assert s["errors"] == {"ENODEV": 3000} and s["error_count"] == 3000
    assert s["all_failed"] is True
    assert r.stderr.strip() == (
        "nlfast load: every request failed: 3,000 of 3,000 answered with an error (ENODEV 3,000)")
    text = cli("load", "--proto", "route", "--ifindex", "4242", "--count", "10",
               "--netns", netns.name)
    assert text.returncode == 1 and "errors                 10  (ENODEV 10)" in text.stdout
    assert text.stderr.strip().endswith("10 of 10 answered with an error (ENODEV 10)")


def test_default_protocol_works_on_a_stock_kernel(netns: Netns) -> None:
    """No --proto: rtnetlink, which every kernel has (RTM_GETLINK of lo)."""
    s = load_json("--count", "500", "--netns", netns.name)
    assert s["proto"] == nlfast.NETLINK_ROUTE and s["type_name"] == "RTM_GETLINK ifindex 1"
    assert s["sent"] == 500 and s["received"] == 500 and s["error_count"] == 0
    assert s["all_failed"] is False


def test_cli_uses_only_the_public_api() -> None:
    """No private module or private attribute of another object in nlfast.cli."""
    import ast
    from pathlib import Path

    import nlfast.cli

    offenders = []
    for path in sorted(Path(nlfast.cli.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module not in (None, "__future__") and any(
                    part.startswith("_") for part in node.module.split(".")):
                offenders.append(f"{path.name}:{node.lineno} from {node.module}")
            elif isinstance(node, ast.Import):
                offenders += [f"{path.name}:{node.lineno} import {a.name}" for a in node.names
                              if any(p.startswith("_") for p in a.name.split("."))]
            elif (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                  and not node.attr.startswith("__")
                  and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):
                offenders.append(f"{path.name}:{node.lineno} .{node.attr}")
    assert offenders == []


def test_cli_genl_numbers_match_the_system_header() -> None:
    from nlfast import cli
    from nlfast._shim import lib

    for name in ("GENL_ID_CTRL", "GENL_HDRLEN", "CTRL_CMD_GETFAMILY", "CTRL_ATTR_FAMILY_ID",
                 "CTRL_ATTR_FAMILY_NAME"):
        assert getattr(cli, name) == getattr(lib, name), name


def test_generic_getfamily_load() -> None:
    s = load_json("--proto", "generic", "--count", "200")
    assert s["sent"] == 200 and s["received"] == 200 and s["error_count"] == 0


def test_rate_pacing_bounds_the_count() -> None:
    # a bound, not a speed: 2000/s for one second cannot send 3000
    s = load_json("--proto", "usersock", "--rate", "2000", "--duration", "1")
    assert 0 < s["sent"] <= 3000
    assert s["sent"] == s["received"]
    assert s["rate_target"] == 2000
    s = load_json("--proto", "route", "--ack", "--rate", "2000", "--duration", "1",
                  "--senders", "2")
    assert 0 < s["sent"] <= 3000
    assert s["acked"] == s["sent"]


ECHO_PEER = """
import sys, nlfast
s = nlfast.Socket(nlfast.NETLINK_USERSOCK)
print(s.portid, flush=True)
while True:
    try:
        b = s.recv(timeout=30)
    except TimeoutError:
        break
    n = len(b)
    seqs, pids = b.seqs, b.portids
    # the requests differ only in seq: echo the first one, renumbered
    first = bytes(b[0].data()) if n else b""
    if n and (seqs[n - 1] - seqs[0]) & 0xFFFFFFFF == n - 1 and pids[0] == pids[n - 1]:
        s.next_seq = seqs[0]
        s.send_repeat(first, n, dest=pids[0])
    else:
        for i in range(n):
            s.next_seq = seqs[i]
            s.send_repeat(first, 1, dest=pids[i])
"""


def test_echo_replies_matched_by_seq() -> None:
    # The family's echo path (seq-matched replies counted from the columns),
    # driven over USERSOCK against a user-space echo: the module itself cannot
    # be loaded on this host.
    peer = subprocess.Popen([sys.executable, "-c", ECHO_PEER], stdout=subprocess.PIPE, text=True)
    try:
        assert peer.stdout is not None
        portid = peer.stdout.readline().strip()
        s = load_json("--proto", f"family={nlfast.NETLINK_USERSOCK}", "--type", "echo",
                      "--size", "32", "--dest", portid, "--count", "30000")
        assert s["type_name"] == "NLFAM_MSG_ECHO"
        assert s["sent"] == s["received"] == 30000
        assert s["seq_gaps"] == 0 and s["unanswered"] == 0 and s["error_count"] == 0
    finally:
        peer.kill()
        peer.wait()


def test_text_summary() -> None:
    r = cli("load", "--proto", "usersock", "--count", "1000")
    assert r.returncode == 0, r.stderr
    assert "sent" in r.stdout and "1,000" in r.stdout and "ENOBUFS" in r.stdout
    assert r.stderr == ""  # no progress line when stderr is not a terminal


def test_nobody_at_dest_is_a_clear_failure() -> None:
    r = cli("load", "--proto", "usersock", "--dest", "4000000000", "--count", "10")
    assert r.returncode == 1
    assert "Connection refused" in r.stderr and "Traceback" not in r.stderr


# -- monitor -----------------------------------------------------------------------


def test_monitor_link_events_in_a_namespace(netns: Netns) -> None:
    p = start_monitor("--netns", netns.name, "link", "--count", "4", "--json", "--timeout", "30")
    try:
        # "name a": a bare "a" would be read as "address"
        netns.ip("link", "add", "name", "a", "type", "veth", "peer", "name", "b")
        netns.ip("link", "del", "dev", "a")
        out, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 0, err
    recs = [json.loads(line) for line in out.splitlines()]
    assert len(recs) == 4
    names = {r["attrs"]["IFLA_IFNAME"] for r in recs}
    assert {"a", "b"} <= names
    assert {r["type_name"] for r in recs} <= {"RTM_NEWLINK", "RTM_DELLINK"}
    assert "RTM_NEWLINK" in {r["type_name"] for r in recs}
    for r in recs:
        assert r["attrs"]["ifindex"] > 1 and r["len"] > 16 and "seq" in r and "portid" in r


def test_monitor_address_events_text(netns: Netns) -> None:
    p = start_monitor("--netns", netns.name, "ipv4-ifaddr", "link", "--count", "1",
                      "--timeout", "30")
    try:
        netns.ip("addr", "add", "10.11.12.13/24", "dev", "lo")
        out, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 0, err
    (line,) = out.splitlines()
    assert line.startswith("RTM_NEWADDR ")
    assert "IFA_LOCAL=10.11.12.13" in line and "prefixlen=24" in line and "ifindex=1" in line


def test_monitor_reports_enobufs() -> None:
    n = 3000
    p = start_monitor("--proto", "usersock", "3", "--rcvbuf", "4096", "--json", "--timeout", "3")
    try:
        os.kill(p.pid, signal.SIGSTOP)  # it cannot read while the flood arrives
        try:
            # one message per datagram, so the kernel's drops count messages
            s = load_json("--proto", "usersock", "--group", "3", "--count", str(n),
                          "--size", "64", "--dgram-size", "16")
        finally:
            os.kill(p.pid, signal.SIGCONT)
        out, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert s["sent"] == n
    assert p.returncode == 0, err
    recs = [json.loads(line) for line in out.splitlines()]
    events = [r for r in recs if r.get("event") == "enobufs"]
    msgs = [r for r in recs if "type" in r]
    assert events, "ENOBUFS was swallowed"
    assert events[-1]["drops"] > 0
    assert len(msgs) + events[-1]["drops"] == n
    assert sum(e["new_drops"] for e in events) == events[-1]["drops"]


def test_monitor_decodes_family_attributes_by_name() -> None:
    # The nlfast family's layout, carried by USERSOCK multicast (family=2):
    # the module itself cannot be loaded on this host.
    p = start_monitor("--proto", "family=2", "hello", "--count", "2", "--json", "--timeout", "30")
    try:
        for t, extra in (("hello", []), ("echo", ["--size", "20"])):
            s = load_json("--proto", "family=2", "--group", "2", "--type", t, "--count", "1",
                          *extra)
            assert s["sent"] == 1 and s["unanswered"] == 0
        out, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 0, err
    hello, echo = (json.loads(line) for line in out.splitlines())
    assert hello["type_name"] == "NLFAM_MSG_HELLO"
    assert hello["attrs"] == {"NLFAM_A_TEXT": family.NLFAM_HELLO_TEXT}
    assert echo["type_name"] == "NLFAM_MSG_ECHO"
    assert echo["attrs"]["NLFAM_A_DATA"] == {"len": 20, "head": bytes(range(16)).hex()}


def test_monitor_timeout_without_count_reached(netns: Netns) -> None:
    t = time.monotonic()
    r = cli("monitor", "--netns", netns.name, "link", "--count", "1", "--timeout", "0.5")
    assert time.monotonic() - t < 30
    assert r.returncode == 1 and "timed out after 0 of 1" in r.stderr


# -- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["load", "--batch", "0"],
        ["load", "--count", "many"],
        ["load", "--rate", "-5"],
        ["load", "--proto", "bogus"],
        ["load", "--proto", "40"],
        ["load", "--proto", "route", "--type", "frob"],
        ["load", "--proto", "route", "--size", "10"],
        ["load", "--proto", "usersock", "--type", "2"],
        ["load", "--proto", "usersock", "--size", "70000"],
        ["load", "--proto", "usersock", "--header", "zz"],
        ["load", "--proto", "usersock", "--group", "3", "--dest", "5"],
        ["load", "--proto", "route", "--receivers", "2"],
        ["monitor"],
        ["monitor", "nosuchgroup"],
        ["monitor", "--proto", "route", "0"],
        ["monitor", "link", "--count", "0"],
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv: list[str]) -> None:
    r = cli(*argv, timeout=30)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0], r.stderr
    assert r.stdout == ""


def _family_proto_free() -> bool:
    try:
        nlfast.Socket(30).close()
    except OSError:
        return True
    return False


@pytest.mark.skipif(not _family_proto_free(), reason="protocol 30 is registered here")
@pytest.mark.parametrize(
    "argv",
    [
        ["load", "--proto", "30", "--count", "10"],
        ["load", "--proto", "family", "--type", "sink", "--ack", "--count", "10"],
        ["monitor", "--proto", "family", "events"],
    ],
)
def test_unknown_protocol_is_explained(argv: list[str]) -> None:
    r = cli(*argv, timeout=30)
    assert r.returncode == 1
    assert r.stderr.strip().endswith(
        "protocol 30 is not available: is the nlfast_family module loaded?")
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_missing_namespace_is_explained() -> None:
    r = cli("load", "--proto", "route", "--netns", "nlfast-no-such-ns", "--count", "1")
    assert r.returncode == 1
    assert "network namespace 'nlfast-no-such-ns' does not exist" in r.stderr
    assert "Traceback" not in r.stderr


def test_help_and_light_import() -> None:
    for argv in ([], ["load"], ["monitor"]):
        r = cli(*argv, "--help")
        assert r.returncode == 0 and "usage:" in r.stdout
    code = "import sys, nlfast; print('nlfast.cli' in sys.modules, 'argparse' in sys.modules)"
    out = run(sys.executable, "-c", code)
    assert out.split() == ["False", "False"]
