"""The nlfast module's family by its spec (nlfast/specs/nlfast-family.yaml):
requests by operation name, replies and group events as dicts.

    python3 examples/family_spec.py     # needs the nlfast_family module loaded
"""

from nlfast import spec

with spec.open("nlfast-family") as fam, spec.open("nlfast-family") as ev:
    print("hello:", fam.do("hello", {"text": "HELLO KERNEL FROM USER"})["text"])
    print("echo:", fam.do("echo", {"text": "abc", "data": b"\x01\x02"}))
    gen = fam.do("stats")["generation"]
    print("dump:", [row["index"] for row in fam.dump("dump", {"count": 5, "size": 8})])
    ev.subscribe("events", "hello")
    fam.do("reset")
    fam.do("mcast-hello", {"group": 2})
    events = dict(ev.events(timeout=2))
    print("event generation:", events["event"]["generation"], "after", gen)
    print("group hello:", events["hello"]["text"])
