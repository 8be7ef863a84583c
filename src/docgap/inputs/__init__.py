"""Reading notes: folders, CSV, JSON Lines, Parquet, FHIR; decoding and input checks."""
