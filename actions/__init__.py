"""The bot's custom actions, run by the action server (`python -m actions.server`, rasa-sdk).

Importing this package runs nothing: the log redaction of the action server is installed by
its entry point (actions/server.py), and no module here imports Rasa.
"""
