"""Family.do()'s plan edges: what it leaves to Python (the errors Python
names), and its bounded cache of plans.

Each test kills mutants of nlfast/spec.py's Family._do_plan that the rest of
the host tests let live (tests/mutation/SURVIVORS.md, "spec.py").
"""

from __future__ import annotations

import pytest

import nlfast
from nlfast import spec

# a netlink-raw spec on NETLINK_USERSOCK with an operation whose message
# type does not fit the header's 16 bits
OUT_OF_RANGE = {
    "name": "wide", "protocol": "netlink-raw", "protonum": nlfast.NETLINK_USERSOCK,
    "attribute-sets": [{"name": "a", "attributes": [{"name": "x", "type": "u32", "value": 1}]}],
    "operations": {"list": [{"name": "wide", "value": 0x10000, "attribute-set": "a",
                             "do": {"request": {"attributes": ["x"]}}}]},
}


def test_flags_beyond_16_bits_are_named_before_anything_is_sent() -> None:
    with spec.open(spec.load("rt-link")) as f:
        with pytest.raises(ValueError, match=r"^message flags 65541 is out of range 0\.\.65535$"):
            f.do("getlink", {"ifi-index": 1}, flags=0x10000)
        assert f.do("getlink", {"ifi-index": 1})["ifname"] == "lo"  # nothing was left behind


def test_a_message_type_beyond_16_bits_is_named_before_anything_is_sent() -> None:
    with spec.open(spec.compile_spec(OUT_OF_RANGE)) as f:
        with pytest.raises(ValueError, match=r"message type 65536 is out of range"):
            f.do("wide", {"x": 1}, timeout=0.2)


def test_the_plan_cache_is_bounded() -> None:
    with spec.open(spec.load("rt-link")) as f:
        for flags in range(300):  # 300 plans; the bad value fails after planning
            with pytest.raises(spec.EncodeError):
                f.do("getlink", {"no-such-attr": 1}, flags=flags)
            assert 1 <= len(f._do) <= 256
            assert f._do[("getlink", flags)].op is f.spec.op("getlink")
