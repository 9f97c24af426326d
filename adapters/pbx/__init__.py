"""The PBX adapter: Asterisk Manager Interface (AMI) -> canonical call and presence events.

``ami/`` speaks the protocol (parser, client); ``calls``, ``presence`` and ``pipeline`` are
pure logic; ``publisher`` and ``adapter`` put the result on the bus; ``replay`` runs a
captured transcript through the same logic without a network (``esb pbx replay FILE``).
"""
