"""The bot's channels, stores and privacy code, loaded by Rasa (and `bot.pii` by the action server).

Wherever Rasa's core is loaded already (`rasa run`, `rasa shell`, `rasa run actions` — all go
through Rasa's CLI — or a test that loads an agent), the pinned fixes to Rasa itself are applied
here, before the first message (`bot/rasa_patches.py`). A process that only needs `bot.pii`
(e.g. the action server started through rasa-sdk's own CLI) does not pay for importing Rasa's core.
"""

import sys

if "rasa.core" in sys.modules:
    from bot.rasa_patches import apply_rasa_patches

    apply_rasa_patches()
