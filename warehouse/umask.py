"""The mode every job creates files with: the warehouse holds pseudonymous personal data."""

from __future__ import annotations

import os

# Group may read, others get nothing: the warehouse holds pseudonymous personal data.
DEFAULT_UMASK = 0o027
UMASK_ENV = "FLYWHEEL_UMASK"


def restrict_umask(value: str | None = None) -> int:
    """Set the process umask (``FLYWHEEL_UMASK`` in octal, default 027); returns the one set."""
    text = value if value is not None else os.environ.get(UMASK_ENV)
    if text is None:
        mask = DEFAULT_UMASK
    else:
        try:
            mask = int(text, 8)
        except ValueError:
            raise ValueError(f"{UMASK_ENV}={text!r} is not an octal umask such as 027") from None
        if not 0 <= mask <= 0o777:
            raise ValueError(f"{UMASK_ENV}={text!r} is not an octal umask such as 027")
    os.umask(mask)
    return mask
