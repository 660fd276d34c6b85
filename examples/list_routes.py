"""List the IPv4 routes of the main table: destination, prefix length, gateway,
device index (strict checking lets the kernel filter the dump by table).

    python3 examples/list_routes.py
"""

from nlfast import spec

with spec.open("rt-route", strict_check=True) as rt:
    for r in rt.dump("getroute", {"rtm-family": 2, "rtm-table": 254}):
        print(r.get("dst", "0.0.0.0"), r["rtm-dst-len"], r.get("gateway", "-"), r["oif"])
