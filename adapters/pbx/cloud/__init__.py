"""Cloud PBX webhooks (Zadarma) mapped to the same canonical call events as Asterisk."""
