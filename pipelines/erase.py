"""Moved to ``governance.erase``; this name keeps ``python -m pipelines.erase`` working for now."""

from governance.erase import main

if __name__ == "__main__":
    raise SystemExit(main())
