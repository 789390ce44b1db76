"""``python -m ledger.bench``: the same as ``ledger bench``."""

from ledger.cli.bench import bench

bench(prog_name="python -m ledger.bench")
