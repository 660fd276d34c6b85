"""Make a veth pair (its peer named by the kernel) with an address and a route,
print what the kernel then holds, and on Enter delete it (the peer goes with it).

    python3 examples/veth_pair.py
"""

from nlfast import spec

with spec.open("rt-link") as ln, spec.open("rt-addr") as ad, spec.open("rt-route") as rt:
    ln.create("newlink", {"ifname": "nlf0", "ifi-flags": ["up"], "linkinfo": {"kind": "veth"}})
    i = ln.do("getlink", {"ifname": "nlf0"})["ifi-index"]
    ad.create("newaddr", {"ifa-family": 2, "ifa-prefixlen": 24, "ifa-index": i,
                          "local": "10.9.0.1"})
    rt.create("newroute", {"rtm-family": 2, "rtm-dst-len": 16, "rtm-type": "unicast",
                           "dst": "10.77.0.0", "gateway": "10.9.0.2"})
    for a in ad.dump("getaddr"):
        print("addr", a["ifa-index"], a["local"], a["ifa-prefixlen"])
    for r in rt.dump("getroute", {"rtm-family": 2}):
        print("route", r["oif"], r.get("dst", "0.0.0.0"), r["rtm-dst-len"], r.get("gateway", "-"))
    input("Enter deletes nlf0\n")
    ln.do("dellink", {"ifi-index": i})
