"""Legacy exchange through a watched folder: CSV or XML files in, canonical messages out."""
