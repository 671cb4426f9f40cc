"""Where optional real data lives (the public corpora and network lists).

distillguard runs on embedded defaults; when real data is present it is used to make
simulated traffic realistic and to enrich addresses. Users point at it with the
``DISTILLGUARD_DATA`` environment variable; in a checkout it is found beside the repo
at ``../shared/data``.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["shared_data_dir"]


def shared_data_dir() -> Path | None:
    """Return the folder of real public data, or ``None`` when there is none.

    Looks at ``$DISTILLGUARD_DATA``, then ``../shared/data`` from the working directory,
    then ``../shared/data`` beside the source checkout. ``DISTILLGUARD_DATA=none``
    disables it (used to test the embedded defaults).
    """
    env = os.environ.get("DISTILLGUARD_DATA")
    if env:
        if env.lower() == "none":
            return None
        p = Path(env)
        return p if p.is_dir() else None
    here = Path(__file__).resolve()
    for cand in (Path.cwd() / ".." / "shared" / "data", here.parents[3] / "shared" / "data"):
        if cand.is_dir():
            return cand.resolve()
    return None
