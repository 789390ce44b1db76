"""Benchmarks at a million events (issue 6): a generator of realistic ledgers and the phases that measure them.

- :mod:`ledger.bench.generate`: seeded, streamed synthetic ledgers (and JSON Lines files for ``ledger ingest``);
- :mod:`ledger.bench.write`: ingest with validation and the hash chain, and raw ``executemany`` of the same bytes;
- :mod:`ledger.bench.read`: read-model rebuild, as-of queries, a late event;
- :mod:`ledger.bench.bythebook`: the same workload with eventsourcing's ``Application.save`` and ``repository.get``;
- :mod:`ledger.bench.run`: every phase in its own process, judged against :mod:`ledger.bench.targets`.

Run it with ``ledger bench`` or ``python -m ledger.bench``.
"""
