"""`python -m ie_serving` runs the CLI."""

import sys

from ie_serving.cli import main

sys.exit(main())
