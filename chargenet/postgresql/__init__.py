"""The PostgreSQL backend: Django's, with each statement's placeholders converted once (see base.py)."""
