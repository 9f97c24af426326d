"""The message journal: every message and every hop it made, in SQL, searchable.

Write side: :class:`Journal` (buffered, a background thread writes batches).
Read side: :class:`JournalQuery` / :func:`search`.
"""

from bus.journal.keys import KeyExtractor, normalize_key, normalize_phone
from bus.journal.query import JournalEntry, JournalEvent, JournalPage, JournalQuery, search
from bus.journal.tables import EVENTS, KEYS, MESSAGES, STATUSES, Status
from bus.journal.writer import Journal

__all__ = [
    "EVENTS",
    "KEYS",
    "MESSAGES",
    "STATUSES",
    "Journal",
    "JournalEntry",
    "JournalEvent",
    "JournalPage",
    "JournalQuery",
    "KeyExtractor",
    "Status",
    "normalize_key",
    "normalize_phone",
    "search",
]
