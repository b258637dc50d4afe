"""The daily cycle on top of every layer: ``cycle`` (plain steps, ``STEPS`` in order) and
``demo`` (``make demo``: two turns of the flywheel on a laptop)."""
