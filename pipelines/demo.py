"""Moved to ``flywheel.demo``; this name keeps ``python -m pipelines.demo`` working for now."""

from flywheel.demo import main

if __name__ == "__main__":
    raise SystemExit(main())
