"""The billing adapter: LANBilling over SOAP (``api3.wsdl``), see README.md beside this file.

``adapter.BillingAdapter`` is what the ``esb.adapters`` entry point names.
"""
