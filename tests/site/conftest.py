"""Fixtures of the data site's tests (their code is in sitekit.py, importable by the tests)."""

from sitekit import postgres, site_state

__all__ = ["postgres", "site_state"]
