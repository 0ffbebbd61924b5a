"""What the Rasa side (`bot/`, `cs_transformer/`) and the action server (`actions/`) both need.

The customer store (`cs_common.store`), the PII rules (`cs_common.pii`), who a sender is
(`cs_common.senders`), plural forms and response languages. It imports neither Rasa nor
rasa-sdk nor any of our other packages, so either process can use it without the other's
dependencies; importing this package runs nothing.
"""
