"""The int64 limit: what every result must stay under, and how an error names it."""

from ..exact import INT64_MAX

LIMIT_TEXT = "the int64 limit 2**63 - 1 = 9,223,372,036,854,775,807 bytes"
