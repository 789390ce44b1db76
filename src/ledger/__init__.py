"""ledger: an event-sourced decision ledger.

What a government had decided on a given date, what was publicly known then, and how it got there.
"""

__version__ = "0.1.0"
