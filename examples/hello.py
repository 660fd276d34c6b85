"""The article's first flow, with nlfast: say hello to the kernel module and
print its unicast reply.

    python3 examples/hello.py          # needs the nlfast_family module loaded
"""

import nlfast
from nlfast import Message, attrs
from nlfast import family as F

with nlfast.Socket(F.PROTO_DEFAULT) as sock:
    hello = Message(F.NLFAM_MSG_HELLO, attrs=[attrs.string(F.NLFAM_A_TEXT, F.NLFAM_HELLO_TEXT)])
    print("sending:", F.NLFAM_HELLO_TEXT)
    (reply,) = sock.request(hello)  # replies are matched by sequence number
    print("received:", reply.attrs().str(F.NLFAM_A_TEXT))
