"""A device's link settings through the ethtool family: speed, duplex,
autonegotiation and port (what `ethtool <dev>` shows).

    python3 examples/ethtool_link.py eth0
"""

import sys

from nlfast import spec

with spec.open("ethtool") as et:
    m = et.do("linkmodes-get", dev := {"header": {"dev-name": sys.argv[1]}})
    print(m["speed"], m["duplex"], m["autoneg"], et.do("linkinfo-get", dev)["port"])
