"""The embedded mode's database backend: Django's SQLite backend with a writer turn (see base.py)."""
