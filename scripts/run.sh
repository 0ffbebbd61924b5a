#!/usr/bin/env bash
# Starts the action server and Rasa on 127.0.0.1 (used by `make run`); Ctrl-C stops both.
# Secrets come from the environment, or are generated once into var/secrets.env (mode 0600).
# Rasa's HTTP API stays off unless CS_RASA_API_TOKEN or CS_RASA_JWT_SECRET is set (README, "Security").
set -euo pipefail
model=${1:-models/shop.tar.gz}
bin=.venv/bin
export SANIC_HOST=127.0.0.1 RASA_TELEMETRY_ENABLED=false PYTHONPATH=${PYTHONPATH:-$PWD}

secrets_file=var/secrets.env
if [[ ! -f $secrets_file ]]; then
  mkdir -p var
  (umask 077 && "$bin/python" -c 'import secrets
for name in ("CS_WEB_SESSION_SECRET", "CS_ACTION_SERVER_TOKEN"):
    print(f"{name}={secrets.token_urlsafe(32)}")' > "$secrets_file")
fi
while IFS='=' read -r name value; do
  [[ -n ${!name:-} ]] || export "$name=$value"  # the environment wins over the generated file
done < "$secrets_file"
# The demo sign-in links below; never in a deployment (bot/web.py logs a warning while it is on).
export CS_DEMO_SIGN_IN=${CS_DEMO_SIGN_IN:-1}

api=() api_state="off (set CS_RASA_API_TOKEN to turn it on with a token)"
if [[ -n ${CS_RASA_API_TOKEN:-} ]]; then
  api=(--enable-api --auth-token "$CS_RASA_API_TOKEN") api_state="on, ?token=\$CS_RASA_API_TOKEN"
elif [[ -n ${CS_RASA_JWT_SECRET:-} ]]; then
  api=(--enable-api --jwt-secret "$CS_RASA_JWT_SECRET" --jwt-method HS256) api_state="on, JWT (HS256) signed with \$CS_RASA_JWT_SECRET"
fi

"$bin/python" -m cs_common.store.seed --if-empty

"$bin/python" -m actions.server --port 5055 &
actions_pid=$!
trap 'kill "$actions_pid" 2>/dev/null || true' EXIT INT TERM

web=http://127.0.0.1:5005/webhooks/web/
cat <<MSG

  Nordhaven support assistant
  - chat page:      $web (a guest)
MSG
if [[ $CS_DEMO_SIGN_IN == 1 ]]; then
  echo "  - demo sign-in:   (CS_DEMO_SIGN_IN=1: anyone who can reach the bot can use these)"
  "$bin/python" -c 'from cs_common.store.seed import CUSTOMERS
for demo in CUSTOMERS:
    print(f"                    '"$web"'demo/{demo.demo_name}  ({demo.name}, {demo.language})")'
fi
cat <<MSG
  - REST channel:   curl -s localhost:5005/webhooks/rest/webhook -d '{"sender":"t1","message":"¿Dónde está mi pedido?"}'
                    (always a guest)
  - HTTP API:       $api_state
  Starting Rasa (about 15 s)...

MSG
"$bin/rasa" run ${api[@]+"${api[@]}"} -i 127.0.0.1 -p 5005 -m "$model" \
  --credentials credentials.yml --endpoints endpoints.yml
