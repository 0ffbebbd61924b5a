"""`python -m cs_transformer.evaluate`."""

import logging
import os
import sys

from rasa.utils.common import configure_logging_and_warnings
from rasa.utils.log_utils import configure_structlog

from cs_transformer.evaluate.cli import main

# Process-wide settings here, not in main(), so that main() can also run inside a test process.
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
# Rasa's per-component info logs would bury the progress lines.
configure_logging_and_warnings(logging.WARNING)
configure_structlog(logging.WARNING)
sys.exit(main())
