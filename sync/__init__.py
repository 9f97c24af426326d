"""The reference-data synchronizer: one customer across CRM, billing and document flow.

``sync.model`` holds the records and results every part shares; ``sync.normalize``
and ``sync.match`` are the pure matching engine; ``sync.store`` keeps source
records, xref, golden records and conflicts in SQL; ``sync.service`` runs full and
incremental reconciliation on the bus.
"""
