"""The Twilio account, in one home for both processes: the SMS channel's credentials.yml section.

The SMS channel (bot/sms.py) gets that section from Rasa. The action server, which sends link
codes by SMS and does not import Rasa, reads the same section here, with `${VAR}` expanded
as Rasa expands it. A setting the section lacks (or the whole section, commented out as in
the demo) falls back to its environment variable, so an env-only setup keeps working.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import yaml

SMS_SECTION = "bot.sms.TwilioSmsInput"
CREDENTIALS_FILE_ENV = "CS_CREDENTIALS_FILE"
DEFAULT_CREDENTIALS_FILE = Path(__file__).resolve().parents[1] / "credentials.yml"
# Setting of the credentials.yml section -> the environment variable read when it is absent.
ENV_FALLBACKS = {
    "account_sid": "TWILIO_ACCOUNT_SID",
    "auth_token": "TWILIO_AUTH_TOKEN",
    "twilio_number": "CS_SMS_FROM",
    "api_base_url": "CS_TWILIO_API_URL",
}
_UNSET_VARIABLE = re.compile(r"\$\{([^}]+)\}")


class CredentialsError(ValueError):
    """credentials.yml cannot be read as Rasa would read it; the message names the fix."""


@dataclass(frozen=True)
class TwilioAccount:
    """What sending an SMS through Twilio's Messages API takes (the number it comes from too)."""

    account_sid: Optional[str] = None
    auth_token: Optional[str] = None
    twilio_number: Optional[str] = None
    api_base_url: Optional[str] = None

    @classmethod
    def for_sms(cls, environ: Mapping[str, str] = os.environ, path: Optional[Path] = None) -> "TwilioAccount":
        """The SMS channel's settings (`CS_CREDENTIALS_FILE`, else credentials.yml), each
        missing one from its environment variable."""
        section = credentials_section(SMS_SECTION, path or Path(environ.get(CREDENTIALS_FILE_ENV) or DEFAULT_CREDENTIALS_FILE), environ)
        return cls(**{key: section.get(key) or environ.get(variable) or None for key, variable in ENV_FALLBACKS.items()})

    def missing(self) -> List[str]:
        """The environment variables of the settings this account lacks to send an SMS."""
        return [ENV_FALLBACKS[key] for key in ("account_sid", "auth_token", "twilio_number") if not getattr(self, key)]


def credentials_section(name: str, path: Path, environ: Mapping[str, str] = os.environ) -> Dict[str, Any]:
    """Section `name` of a credentials file with `${VAR}` expanded; {} if the file or section is absent."""
    if not path.is_file():
        return {}
    try:
        credentials = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise CredentialsError(f"{path} is not valid YAML: fix it ({error}).") from error
    section = credentials.get(name) if isinstance(credentials, dict) else None
    if not isinstance(section, dict):
        return {}
    return {key: _expanded(value, environ, f"{path}: {name}.{key}") for key, value in section.items()}


def _expanded(value: Any, environ: Mapping[str, str], where: str) -> Any:
    """`${VAR}` replaced by the variable's value; an unset one is an error, as in Rasa."""
    if not isinstance(value, str):
        return value
    unset = [variable for variable in _UNSET_VARIABLE.findall(value) if variable not in environ]
    if unset:
        raise CredentialsError(f"{where} uses {', '.join(unset)}: set it in the environment (or remove the setting).")
    return _UNSET_VARIABLE.sub(lambda match: environ[match.group(1)], value)
