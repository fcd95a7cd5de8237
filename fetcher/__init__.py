"""fetcher keeps Django-Packages-style package records fresh from GitHub and PyPI."""

__version__ = "0.1.0"
