"""Byte streams captured from a real kernel, parsed by the shim."""

from __future__ import annotations

import errno
from pathlib import Path

from nlfast import MessageView, rtnl
from nlfast._shim import ffi, lib

from .conftest import heap_copy


def parse(data: bytes) -> list[MessageView]:
    t = ffi.new("struct nlf_table *")
    assert lib.nlf_table_init(t, len(data) // 16 + 1) == 0
    try:
        assert lib.nlf_parse(heap_copy(data), len(data), 0, 0, t) >= 0
        assert t.n_bad == 0
        return [MessageView.from_bytes(data[t.off[i] : t.off[i] + t.len[i]])
                for i in range(t.count)]
    finally:
        lib.nlf_table_fini(t)


def test_address_dump_capture(data_dir: Path) -> None:
    # RTM_GETADDR (AF_INET) dump of a namespace with 192.0.2.1/24 on cap0
    msgs = parse((data_dir / "getaddr_inet_dump.bin").read_bytes())
    assert [m.type for m in msgs] == [rtnl.RTM_NEWADDR, lib.NLMSG_DONE]
    assert all(m.flags & lib.NLM_F_MULTI for m in msgs)
    a = msgs[0].attrs(rtnl.IFADDRMSG_LEN)
    assert a.bytes(rtnl.IFA_LOCAL) == bytes([192, 0, 2, 1])
    assert a.str(rtnl.IFA_LABEL) == "cap0"
    assert msgs[1].error == 0


def test_error_capture(data_dir: Path) -> None:
    # RTM_GETLINK for a missing ifindex, NETLINK_CAP_ACK on: a capped ENODEV
    (m,) = parse((data_dir / "getlink_enodev_error.bin").read_bytes())
    assert m.type == lib.NLMSG_ERROR and m.flags & lib.NLM_F_CAPPED
    e = m.to_error()
    assert e.code == errno.ENODEV and e.msg == ""
