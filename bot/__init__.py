"""The bot's channels, stores and privacy code, loaded by Rasa (and `bot.pii` by the action server).

In a Rasa process (Rasa's core already imported: `rasa run`, `rasa shell`, an agent in a test)
the pinned fixes to Rasa itself are applied here, before the first message (`bot/rasa_patches.py`).
The action server only imports `bot.pii`; it does not pay for importing Rasa's core.
"""

import sys

if "rasa.core" in sys.modules:
    from bot.rasa_patches import apply_rasa_patches

    apply_rasa_patches()
