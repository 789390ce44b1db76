"""Profile one benchmark phase with pyinstrument, to see where its time goes.

``python -m benchmarks.profile PHASE JSON_ARGUMENTS [OUTPUT.txt]`` runs the
phase as :mod:`benchmarks.phase` does, under pyinstrument (``pip install
pyinstrument``; not a dependency of the ledger), and writes the call tree as
text. The arguments are those the phase takes, e.g.::

    python -m benchmarks.profile rebuild '{"db": "/tmp/bench/ledger-100000.db"}' rebuild.txt
    python -m benchmarks.profile ingest '{"db": "/tmp/p.db", "spec": {"events": 100000}, "batch": 10000}'
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from benchmarks.phase import call_phase


def profile_phase(name: str, arguments: dict, interval: float = 0.001) -> tuple[dict, str]:
    """Run a phase under pyinstrument; return its result and the profile as text."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        raise SystemExit("profiling needs pyinstrument: pip install pyinstrument") from None
    profiler = Profiler(interval=interval)
    profiler.start()
    result = call_phase(name, arguments)
    profiler.stop()
    return result, profiler.output_text(unicode=False, color=False, show_all=False)


def main(argv: list[str] | None = None) -> None:
    args = argv or sys.argv[1:]
    if len(args) < 2:
        raise SystemExit(__doc__)
    result, text = profile_phase(args[0], json.loads(args[1]))
    summary = json.dumps({key: value for key, value in result.items() if not isinstance(value, (dict, list))})
    if len(args) > 2:
        Path(args[2]).write_text(f"{summary}\n{text}", encoding="utf-8")
    else:
        sys.stdout.write(f"{summary}\n{text}")


if __name__ == "__main__":
    main()
