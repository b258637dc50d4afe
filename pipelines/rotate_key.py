"""Moved to ``governance.rotate_key``; this name keeps ``python -m pipelines.rotate_key`` working for now."""

from governance.rotate_key import main

if __name__ == "__main__":
    raise SystemExit(main())
