"""Storage and table contracts, the bottom layer every other package stands on.

- ``schemas``: every warehouse table's pyarrow schema and the curation stages' names.
- ``days``: the one accepted form of a partition day (``YYYY-MM-DD``).
- ``files``: paths and files on any filesystem URL, atomic writes, hashing, Parquet, umask.
- ``partitions``: the staged, journaled partition commit, recovery and the per-day lock.

Nothing is imported here: ``import warehouse.schemas`` must stay cheap for the analysts' CLI,
while ``files`` and ``partitions`` bring in Beam's filesystems.
"""
