"""The bot's custom actions; `rasa run actions` imports this package first.

Log lines of the action server pass the same PII redaction as Rasa's (`pii.yml`, bot/pii.py).
"""

from bot.pii import PiiRules, Redactor, install_log_redaction

install_log_redaction(Redactor(PiiRules.from_file()))
