"""Look up a generic netlink family by name: its id, version and multicast groups.

    python3 examples/genl_family.py ethtool
"""

import sys

import nlfast
from nlfast import genl

with nlfast.Socket(nlfast.NETLINK_GENERIC) as s:
    fam = genl.family(s, sys.argv[1] if len(sys.argv) > 1 else "nlctrl")
    print(fam.name, fam.id, fam.version, fam.groups)
