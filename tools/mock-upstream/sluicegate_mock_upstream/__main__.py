"""Run the mock upstream with ``python -m sluicegate_mock_upstream``."""

import sys

from .server import main

sys.exit(main())
