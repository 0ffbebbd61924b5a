"""`python -m cs_transformer.lint`."""

import sys

from cs_transformer.lint.cli import main

sys.exit(main())
