"""The unified window: one customer view gathered over the bus, and the screen pop.

``window/`` speaks canonical messages only (never a system's client). It asks
the synchronizer, the CRM, the billing, the document flow and the PBX call store
in parallel with a deadline per backend (:mod:`window.gather`), keeps the
answers in a TTL cache invalidated by the bus events that change them
(:mod:`window.cache`), and pushes screen pops to operators' pages over
Server-Sent Events (:mod:`window.screen_pop`). The HTTP face is
:mod:`window.api`, mounted at ``/v1`` by :class:`window.component.WindowComponent`.
"""
