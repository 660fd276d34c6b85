"""List the links: name, index, MTU and operational state (names from the rt-link spec).

    python3 examples/list_links.py
"""

from nlfast import spec

with spec.open("rt-link") as rt:
    for link in rt.dump("getlink"):
        print(link["ifname"], link["ifi-index"], link["mtu"], link["operstate"])
