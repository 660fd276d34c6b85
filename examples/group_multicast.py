"""The article's multicast flow, with nlfast: join group 2, ask the module to
multicast its greeting, and print what the group receives.

    python3 examples/group_multicast.py    # needs the nlfast_family module loaded
"""

import nlfast
from nlfast import Message
from nlfast import family as F

with nlfast.Socket(F.PROTO_DEFAULT, groups=[F.NLFAM_GRP_HELLO]) as listener, \
        nlfast.Socket(F.PROTO_DEFAULT) as asker:
    asker.request(Message(F.NLFAM_MSG_MCAST_HELLO))  # ask for the group message
    for msg in listener.recv(timeout=5):
        print(f"group {F.NLFAM_GRP_HELLO} received:", msg.attrs().str(F.NLFAM_A_TEXT))
