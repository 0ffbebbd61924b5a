"""Reading what a component's `train` saved in Rasa's model storage."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, TypeVar

from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage

Saved = TypeVar("Saved")


def read_saved(model_storage: ModelStorage, resource: Resource, read: Callable[[Path], Saved]) -> Optional[Saved]:
    """`read` applied to the resource's folder; None when `train` saved nothing there (Rasa raises
    ValueError for a resource without a folder; a folder without the file is the same)."""
    try:
        with model_storage.read_from(resource) as directory:
            return read(Path(directory))
    except (ValueError, FileNotFoundError):
        return None
