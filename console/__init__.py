"""The faces of the bus for people: the operator page and the operations console.

Served by the bus's own HTTP API through :class:`console.component.ConsoleComponent`
(entry point ``console`` in ``esb.adapters``): the pages at ``/ui/operator`` and
``/ui/console`` are plain HTML, CSS and JavaScript shipped as package data (no
build step, no CDN: they work offline), and the JSON they need that the bus does
not already serve (live flow rates at ``/v1/flows``).
"""
