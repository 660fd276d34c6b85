"""List the listening TCP (IPv4) sockets through sock_diag: local address,
port, owner's uid and inode.

    python3 examples/tcp_listeners.py
"""

from nlfast import spec

with spec.open("sock-diag") as diag:
    for s in diag.dump("sock-diag-by-family", {"sdiag-family": 2, "sdiag-protocol": 6,
                                               "idiag-states": ["listen"]}):
        print(s["id"]["src"], s["id"]["sport"], s["idiag-uid"], s["idiag-inode"])
