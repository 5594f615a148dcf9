"""One progress-bar helper for the whole package.

Bars are shown only on an interactive terminal and never under pytest, so logs and
CI output stay clean. Set ``SYMDISTILL_PROGRESS=0`` or ``=1`` to force them off or on.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Iterable


def progress_enabled() -> bool:
    """Return whether progress bars should be drawn in this process."""
    forced = os.environ.get("SYMDISTILL_PROGRESS")
    if forced is not None:
        return forced not in ("0", "false", "no", "")
    if "PYTEST_CURRENT_TEST" in os.environ:
        return False
    return sys.stderr.isatty()


def progress(iterable: Iterable[Any] | None = None, **kwargs: Any):
    """Wrap ``iterable`` in a tqdm bar that is disabled when bars are off.

    Keyword arguments go to ``tqdm.tqdm`` (``total``, ``desc``, ``unit`` ...).
    """
    from tqdm.auto import tqdm

    kwargs.setdefault("disable", not progress_enabled())
    kwargs.setdefault("dynamic_ncols", True)
    kwargs.setdefault("leave", False)
    return tqdm(iterable, **kwargs)
