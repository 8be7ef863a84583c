"""The worklist database suite (SQLite and a throwaway PostgreSQL)."""
