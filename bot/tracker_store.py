"""A tracker store that persists conversations without personal data.

`RedactingTrackerStore` wraps one of Rasa's own stores (memory, sql, redis, …) and redacts
each tracker's events with `bot/pii.py` on `save`, just before they are serialised. Rasa
holds the lock of a conversation while it handles a message, on the tracker it retrieved
plus the new events; that in-process tracker keeps the real values, so the actions of the
current turn see the email, phone or address they were given (e.g. the address form fills
`new_address` and `action_change_address` stores it in the same turn). Everything read back
from the store — the next turn, `GET /conversations/<id>/tracker`, exports, event brokers —
has placeholders (`[email]`, `[card]`, `[address]`, …) instead.

    tracker_store:                       # endpoints.yml
      type: bot.tracker_store.RedactingTrackerStore
      store: sql                         # Rasa's store type (default: memory), its keys below
      dialect: sqlite
      db: var/trackers.db
      pii_rules: pii.yml                 # default: pii.yml at the repo root

Creating the store also installs the same redaction on the process's log handlers.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Iterable, Optional, Set, Text

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.pii import PiiRules, Redactor, install_log_redaction

logger = logging.getLogger(__name__)

PLACEHOLDER = "[address]"
IN_MEMORY = "memory"


class RedactingTrackerStore(TrackerStore):
    """Rasa's tracker store of type `store`, fed only redacted events."""

    def __init__(
        self,
        domain: Optional[Domain] = None,
        event_broker: Optional[EventBroker] = None,
        host: Optional[Text] = None,
        store: Text = IN_MEMORY,
        pii_rules: Optional[Text] = None,
        **store_kwargs: Any,
    ) -> None:
        super().__init__(domain)
        self.rules = PiiRules.from_file(pii_rules)
        self.redactor = Redactor(self.rules)
        # The inner store streams the (redacted) events to the broker; this wrapper never does.
        inner_type = None if store == IN_MEMORY else store  # Rasa's default store has no type name
        self._inner = TrackerStore.create(EndpointConfig(url=host, type=inner_type, **store_kwargs), domain, event_broker)
        install_log_redaction(self.redactor)
        logger.info("tracker_store.redacting store=%s detectors=%s", store, ",".join(self.rules.detectors))

    @property
    def domain(self) -> Domain:
        return self._domain

    @domain.setter
    def domain(self, domain: Optional[Domain]) -> None:
        """Rasa sets the domain once the model is loaded; the inner store needs it too."""
        self._domain = domain or Domain.empty()
        if hasattr(self, "_inner"):
            self._inner.domain = self._domain

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self._inner.save(self.redacted(tracker))

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        return await self._inner.retrieve(sender_id)

    async def retrieve_full_tracker(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        return await self._inner.retrieve_full_tracker(sender_id)

    async def keys(self) -> Iterable[Text]:
        return await self._inner.keys()

    def redacted(self, tracker: DialogueStateTracker) -> DialogueStateTracker:
        """A copy of `tracker` whose events hold no personal data; `tracker` is left as it is."""
        known = self._personal_values(tracker.events)
        events = [Event.from_parameters(self._redact_event(event.as_dict(), known)) for event in tracker.events]
        copy = DialogueStateTracker.from_events(
            tracker.sender_id, events, slots=self.domain.slots, max_event_history=tracker._max_event_history
        )
        copy.model_id, copy.assistant_id = tracker.model_id, tracker.assistant_id
        return copy

    def _personal_values(self, events: Iterable[Event]) -> Set[Text]:
        """Texts that are personal wherever they appear: values of PII slots and entities."""
        values: Set[Text] = set()
        for event in events:
            if isinstance(event, SlotSet) and event.key in self.rules.slots and isinstance(event.value, str):
                values.add(event.value)
            elif isinstance(event, UserUttered):
                values.update(
                    str(entity.get("value")) for entity in event.entities if entity.get("entity") in self.rules.entities
                )
        return values

    def _redact_event(self, event: Dict[Text, Any], known: Set[Text]) -> Dict[Text, Any]:
        if event.get("event") == SlotSet.type_name and event.get("name") in self.rules.slots and event.get("value"):
            event["value"] = PLACEHOLDER
        entities = (event.get("parse_data") or {}).get("entities") or []
        for entity in entities:
            if entity.get("entity") in self.rules.entities:
                entity["value"] = PLACEHOLDER
        return self._redact_value(event, known)

    def _redact_value(self, value: Any, known: Set[Text]) -> Any:
        """Every string inside `value` (dicts and lists walked, keys kept) redacted."""
        if isinstance(value, str):
            return self.redactor.redact(value, known)
        if isinstance(value, dict):
            return {key: self._redact_value(item, known) for key, item in value.items()}
        if isinstance(value, list):
            return [self._redact_value(item, known) for item in value]
        return value

