"""The Twilio account both processes read: the SMS channel's credentials.yml section, then the environment."""
from dataclasses import fields
from pathlib import Path

import pytest

from bot.sms import SmsSettings
from cs_common.twilio_account import ENV_FALLBACKS, SMS_SECTION, CredentialsError, TwilioAccount, credentials_section

SID = "AC" + "1" * 32


def write_credentials(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "credentials.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_sms_channels_section_is_read_with_variables_expanded_as_rasa_does(tmp_path: Path) -> None:
    path = write_credentials(tmp_path, f"""
{SMS_SECTION}:
  auth_token: ${{TWILIO_AUTH_TOKEN}}
  account_sid: "${{SID}}"
  twilio_number: "+15017122661"
  reply_mode: rest
rest: {{}}
""")
    account = TwilioAccount.for_sms({"TWILIO_AUTH_TOKEN": "token-from-env", "SID": SID}, path)
    assert account == TwilioAccount(account_sid=SID, auth_token="token-from-env", twilio_number="+15017122661")
    assert account.missing() == []


def test_settings_the_section_lacks_come_from_the_environment(tmp_path: Path) -> None:
    path = write_credentials(tmp_path, f"{SMS_SECTION}:\n  auth_token: from-file\n")
    environ = {"TWILIO_AUTH_TOKEN": "from-env", "TWILIO_ACCOUNT_SID": SID, "CS_SMS_FROM": "+15550001111", "CS_TWILIO_API_URL": "http://127.0.0.1:9"}
    account = TwilioAccount.for_sms(environ, path)
    assert account == TwilioAccount(SID, "from-file", "+15550001111", "http://127.0.0.1:9")


def test_without_file_or_section_the_environment_alone_counts(tmp_path: Path) -> None:
    commented = write_credentials(tmp_path, f"rest: {{}}\n# {SMS_SECTION}:\n#   auth_token: ${{TWILIO_AUTH_TOKEN}}\n")
    for path in (commented, tmp_path / "absent.yml"):
        account = TwilioAccount.for_sms({"TWILIO_AUTH_TOKEN": "t"}, path)
        assert account == TwilioAccount(auth_token="t")
        assert account.missing() == ["TWILIO_ACCOUNT_SID", "CS_SMS_FROM"]


def test_the_file_is_found_through_cs_credentials_file(tmp_path: Path) -> None:
    path = write_credentials(tmp_path, f"{SMS_SECTION}:\n  account_sid: {SID}\n")
    assert TwilioAccount.for_sms({"CS_CREDENTIALS_FILE": str(path)}).account_sid == SID


def test_an_unset_variable_is_an_error_that_names_it(tmp_path: Path) -> None:
    path = write_credentials(tmp_path, f"{SMS_SECTION}:\n  auth_token: ${{TWILIO_AUTH_TOKEN}}\n")
    with pytest.raises(CredentialsError, match=r"auth_token uses TWILIO_AUTH_TOKEN: set it in the environment"):
        credentials_section(SMS_SECTION, path, {})


def test_broken_yaml_names_the_file(tmp_path: Path) -> None:
    path = write_credentials(tmp_path, f"{SMS_SECTION}:\n  auth_token: [unclosed\n")
    with pytest.raises(CredentialsError, match="is not valid YAML"):
        credentials_section(SMS_SECTION, path, {})


def test_the_settings_read_are_the_sms_channels_own() -> None:
    assert SmsSettings.SECTION == SMS_SECTION
    assert set(ENV_FALLBACKS) <= {setting.name for setting in fields(SmsSettings)}
