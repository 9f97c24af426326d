"""``esb demo``: the bus with the real PBX and billing adapters against their simulators.

Not part of the bus (``bus`` knows no system): this package composes the bus, the
adapters' simulators and a stand-in for the CRM, and registers the ``demo`` command in
the ``esb.commands`` entry-point group.
"""
