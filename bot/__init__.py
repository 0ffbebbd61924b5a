"""The bot's channels and Rasa-side stores, loaded by Rasa only (PII rules: cs_common/pii.py).

Wherever Rasa's core is loaded already (`rasa run`, `rasa shell`, `rasa run actions` — all go
through Rasa's CLI — or a test that loads an agent), the pinned fixes to Rasa itself are applied
here, before the first message (`bot/rasa_patches.py`). A process that imports `bot` without
Rasa's core does not pay for importing it.
"""

import sys

if "rasa.core" in sys.modules:
    from bot.rasa_patches import apply_rasa_patches

    apply_rasa_patches()
