"""ledger: an event-sourced decision ledger.

What a government had decided on a given date, what was publicly known then, and how it got there.

    from ledger import Ledger
    with Ledger("ledger.db") as ledger:
        ledger.replay(as_of="2024-06-01")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Ledger", "__version__"]

if TYPE_CHECKING:
    from ledger.api import Ledger


def __getattr__(name: str) -> Any:
    # The API loads on first use, so `ledger --version` and the CLI's start-up stay light.
    if name == "Ledger":
        from ledger.api import Ledger

        return Ledger
    raise AttributeError(f"module 'ledger' has no attribute {name!r}")
