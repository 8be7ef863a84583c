"""The reviewed rules as validated data: lexicon files, their schema, and ICD-10-CM facts."""
