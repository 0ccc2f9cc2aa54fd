"""``python -m foir360_core`` runs the ``foir360`` command."""

import sys

from foir360_core.cli.main import main

sys.exit(main())
