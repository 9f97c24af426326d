"""The CRM adapter: our own CRM's REST dialect over httpx, see README.md beside this file.

``adapter.CrmAdapter`` is what the ``esb.adapters`` entry point names.
"""
