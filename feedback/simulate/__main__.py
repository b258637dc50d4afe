"""``python -m feedback.simulate``: see ``feedback.simulate.cli``."""

import sys

from feedback.simulate.cli import main

sys.exit(main())
