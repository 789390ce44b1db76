"""Benchmarks at a million events (issue 6): a generator of realistic ledgers and the phases that measure them.

- :mod:`benchmarks.generate`: seeded, streamed synthetic ledgers (and JSON Lines files for ``ledger ingest``);
- :mod:`benchmarks.write`: ingest with validation and the hash chain, and raw ``executemany`` of the same bytes;
- :mod:`benchmarks.read`: read-model rebuild, as-of queries, a late event;
- :mod:`benchmarks.bythebook`: the same workload with eventsourcing's ``Application.save`` and ``repository.get``;
- :mod:`benchmarks.run`: every phase in its own process, judged against :mod:`benchmarks.targets`.

Run it from a checkout of the repository (the package is not installed with ledger)::

    python -m benchmarks --events 100000

``python -m benchmarks --help`` lists the options; ``python -m benchmarks.merkle_log``,
``python -m benchmarks.postgres_store`` and ``python -m benchmarks.query_forms``
measure one part each.
"""
