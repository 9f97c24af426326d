"""The newest revision in ``versions/``, known without reading the scripts.

A starting bus compares the database's revision with :data:`HEAD` first: when they
agree (every start after ``esb db upgrade``) it needs neither Alembic nor the
table registry, which imports every adapter's tables (~400 modules, half a second,
~40 000 objects a full garbage collection would walk for the life of the process).
``tests/migrations/test_startup.py`` checks that :data:`HEAD` is the scripts' head:
a new revision changes it here too.
"""

from typing import Final

HEAD: Final = "0001"
