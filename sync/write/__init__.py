"""The write stage's golden records and in-customer conflicts, a batch of customers at a time.

A full run rewrites the golden record of every customer it touched and checks each for
conflicts: at a million accounts, reading the customers' records back, choosing their
golden values and encoding them is as much work as inserting the rows. Large runs
(:func:`~sync.write.stage.built_batches`) hand that work to worker processes
(:mod:`sync.write.pool`) while this process reads the rows and inserts what comes back,
in order; small runs, single changes and people's decisions do it in-process. Either
way what a batch writes (:class:`~sync.write.batches.Built`) is made by the same pure
functions (:mod:`sync.write.batches`), so the two give the same rows, byte for byte.
Workers never touch the database: the caller's one transaction writes everything.
"""

from sync.write.batches import Batch, Built, RawBatch
from sync.write.stage import WriteSettings, built_batches

__all__ = ["Batch", "Built", "RawBatch", "WriteSettings", "built_batches"]
