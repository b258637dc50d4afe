"""Jobs that rewrite what other layers wrote: erasure (warehouse, datasets, registry tags,
landing zone), key rotation, and lineage from a model back to the landing files."""
