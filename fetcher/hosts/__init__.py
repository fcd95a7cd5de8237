"""One module per forge, each behind the same small interface (see base.py)."""
