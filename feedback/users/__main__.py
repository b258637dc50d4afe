import sys

from feedback.users.cli import main

sys.exit(main())
