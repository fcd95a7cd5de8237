"""Where repositories live and how to read them: every host behind the `Host` protocol (base.py), one module each."""
