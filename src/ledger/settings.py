"""Settings read from the environment that more than one stage shares."""

from __future__ import annotations

import os


def configured_workers() -> int | None:
    """``LEDGER_WORKERS`` as a whole number of extra processes (0: none), or None when it is not set.

    Each stage picks its own default when it is not set: ingest and rebuild use
    their processes differently.
    """
    setting = os.environ.get("LEDGER_WORKERS", "").strip()
    if not setting:
        return None
    try:
        return max(0, int(setting))
    except ValueError:
        raise ValueError(f"LEDGER_WORKERS must be a whole number, not {setting!r}") from None


def available_cpus() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
