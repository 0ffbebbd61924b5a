"""Who is talking, read from the sender id our channels namespace (`web:…`, `sms:+…`, …).

Both processes need it: the action server to tell a customer from a guest, the Rasa side to
record history only for identified senders (bot/history.py).
"""

from __future__ import annotations

from typing import Text

DEFAULT_LANGUAGE = "en"
# Channels whose sender ids the channel itself authenticated (a session the server issued, a
# signed Slack event, a signed Twilio request); only these can be linked to a customer.
IDENTIFYING_CHANNELS = frozenset({"web", "slack", "sms", "whatsapp"})
# REST senders (and any sender id we did not namespace) are always guests.
GUEST_CHANNEL = "rest"


def sender_channel(sender_id: Text) -> Text:
    """The channel that authenticated `sender_id`: its prefix, or the guest channel if unknown."""
    prefix = sender_id.split(":", 1)[0] if ":" in sender_id else ""
    return prefix if prefix in IDENTIFYING_CHANNELS else GUEST_CHANNEL
