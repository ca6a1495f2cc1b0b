"""``python -m rest_rl`` is the same as the ``rest-rl`` command."""

import sys

from rest_rl.cli import main

sys.exit(main())
