"""List the addresses: interface index, address, prefix length and label.

    python3 examples/list_addrs.py
"""

from nlfast import spec

with spec.open("rt-addr") as rt:
    for a in rt.dump("getaddr"):
        print(a["ifa-index"], a.get("local", a["address"]), a["ifa-prefixlen"], a.get("label", ""))
