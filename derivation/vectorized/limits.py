"""The int64 limit: what every result must stay under, and how an error names it (defined with
the other input limits in :mod:`derivation.limits`)."""

from ..limits import INT64_MAX, LIMIT_TEXT

__all__ = ["INT64_MAX", "LIMIT_TEXT"]
