"""The action server: rasa-sdk's app, bound to 127.0.0.1 and closed to anyone without the secret.

rasa-sdk runs any action for any tracker posted to it and has no authentication of its own.
This entry point (`python -m actions.server`, same options as `rasa run actions`, plus
`--host`) refuses every request but `GET /health` unless it carries
`Authorization: Bearer <CS_ACTION_SERVER_TOKEN>`, which Rasa's `action_endpoint` sends from
the `headers:` in endpoints.yml, and redacts personal data from its logs (pii.yml,
cs_common/pii.py). It binds `CS_ACTION_SERVER_HOST` (default 127.0.0.1).
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import sys
from typing import List, Optional, Text

from rasa_sdk import utils
from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME
from rasa_sdk.endpoint import create_app, create_argument_parser
from rasa_sdk.plugin import plugin_manager
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from cs_common.pii import PiiRules, Redactor, install_log_redaction

logger = logging.getLogger(__name__)

TOKEN_ENV = "CS_ACTION_SERVER_TOKEN"
HOST_ENV = "CS_ACTION_SERVER_HOST"
DEFAULT_HOST = "127.0.0.1"
MIN_TOKEN_CHARS = 32
OPEN_PATHS = frozenset({"/health"})


def authorized(request: Request, token: Text) -> bool:
    scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def closed_app(actions_package: Text, token: Text) -> Sanic:
    """rasa-sdk's app with the shared-secret check in front of everything but the health check."""
    app = create_app(actions_package, cors_origins=None)

    @app.middleware("request")
    async def require_token(request: Request) -> Optional[HTTPResponse]:
        if request.path in OPEN_PATHS or authorized(request, token):
            return None
        logger.warning("actions.refused path=%s", request.path)
        return response.json(
            {"error": f"Send 'Authorization: Bearer <token>' with the token in {TOKEN_ENV} (endpoints.yml: action_endpoint.headers)."},
            status=401,
        )

    return app


def token_from_env() -> Text:
    token = os.environ.get(TOKEN_ENV, "")
    if len(token) < MIN_TOKEN_CHARS:
        sys.exit(
            f"The action server needs {TOKEN_ENV}: a random secret of at least {MIN_TOKEN_CHARS} characters, the same "
            f"one Rasa sends (endpoints.yml), e.g. `export {TOKEN_ENV}=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')`."
        )
    return token


def argument_parser() -> argparse.ArgumentParser:
    parser = create_argument_parser()
    parser.set_defaults(actions="actions")
    parser.add_argument("--host", default=os.environ.get(HOST_ENV) or DEFAULT_HOST, help="address to bind (default 127.0.0.1)")
    return parser


def serving_app(args: argparse.Namespace) -> Sanic:
    """The app `main` runs: closed, with rasa-sdk's plugins, its log lines redacted."""
    app = closed_app(args.actions, token_from_env())
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    # After Sanic built its log handlers (creating the app does), so every handler gets the filter.
    install_log_redaction(Redactor(PiiRules.from_file()))
    return app


def main(argv: Optional[List[Text]] = None) -> None:
    args = argument_parser().parse_args(argv)
    utils.configure_colored_logging(args.loglevel)
    utils.configure_file_logging(logging.getLogger(APPLICATION_ROOT_LOGGER_NAME), args.log_file, args.loglevel, args.logging_config_file)
    utils.update_sanic_log_level()
    app = serving_app(args)
    logger.info("Action server on http://%s:%s (requests need %s)", args.host, args.port, TOKEN_ENV)
    app.run(args.host, args.port, workers=utils.number_of_sanic_workers())


if __name__ == "__main__":
    main()
