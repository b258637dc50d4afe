"""Pure detector functions, one module per kind of identifier (see docs/pii.md)."""
