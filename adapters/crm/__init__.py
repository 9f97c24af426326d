"""The crm adapter. Its contract, client, mapping, handlers and simulator arrive with
the adapters issue; the package exists so the layout shows the architecture."""
