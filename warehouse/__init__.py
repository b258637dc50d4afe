"""Storage and table contracts, the bottom layer every other package stands on.

- ``schemas``: every warehouse table's pyarrow schema and the curation stages' names.
- ``days``: the one accepted form of a partition day (``YYYY-MM-DD``).
- ``files``: paths and files on any filesystem URL, atomic writes, hashing, Parquet, umask.
- ``tables``: every table as a Delta Lake table (delta-rs): commits, reads, vacuum, log clean-up.
- ``partitions``: a curated day across the tables: its commit (``stats`` last), the readers'
  consistent view of it, and the per-day lock.

Nothing is imported here: ``import warehouse.schemas`` must stay cheap for the analysts' CLI,
while ``files`` brings in Beam's filesystems and ``tables`` delta-rs.
"""
