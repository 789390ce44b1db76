"""The read model's schema: one migration per file, applied in file-name order.

Each ``mNNNN_name.py`` beside this file defines ``migrate(db)`` for a
sqlite-utils ``Database``; the file's name (without ``.py``) is the migration's
name in ``_sqlite_migrations``. A released migration is never edited or
renamed: change the schema by adding the next file.

Two ways in, one set of migrations:

- ``ledger migrate`` (and every ``ledger project``), through ``ledger.readmodel``;
- ``sqlite-utils migrate ledger.view.db migrations/``: sqlite-utils finds this
  ``migrations.py`` and applies the :class:`sqlite_utils.Migrations` set it defines.

Either way this file is executed (not imported), so it finds its steps by its
own ``__file__`` and loads each one with :func:`runpy.run_path`.
"""

import pathlib as _pathlib
import runpy as _runpy

import sqlite_utils as _sqlite_utils

MIGRATION_SET = "ledger-view"
STEP_PATTERN = "m[0-9][0-9][0-9][0-9]_*.py"

view = _sqlite_utils.Migrations(MIGRATION_SET)

for _step in sorted(_pathlib.Path(__file__).resolve().parent.glob(STEP_PATTERN)):
    view(name=_step.stem)(_runpy.run_path(str(_step))["migrate"])
