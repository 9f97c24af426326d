"""Legacy exchange through a staging table: rows with a status column in, canonical messages out."""
