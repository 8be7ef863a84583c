"""Code packs: what a note is checked against (one pack per ICD-10-CM code)."""
