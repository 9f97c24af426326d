"""The ``bitrix24`` profile of the CRM adapter: Bitrix24's REST API (client, mapping,
gateway, call ledger, inbound events). See ``docs/crm-adapter.md``."""
