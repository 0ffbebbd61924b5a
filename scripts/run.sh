#!/usr/bin/env bash
# Starts the action server and Rasa on 127.0.0.1 (used by `make run`); Ctrl-C stops both.
set -euo pipefail
model=${1:-models/shop.tar.gz}
bin=.venv/bin
export SANIC_HOST=127.0.0.1 RASA_TELEMETRY_ENABLED=false PYTHONPATH=${PYTHONPATH:-$PWD}

"$bin/python" -m actions.store.seed --if-empty

"$bin/rasa" run actions --actions actions --port 5055 &
actions_pid=$!
trap 'kill "$actions_pid" 2>/dev/null || true' EXIT INT TERM

cat <<MSG

  Nordhaven support assistant
  - chat page:      http://127.0.0.1:5005/webhooks/web/
                    (add ?customer=maria to talk as a seeded demo customer)
  - REST channel:   curl -s localhost:5005/webhooks/rest/webhook -d '{"sender":"t1","message":"¿Dónde está mi pedido?"}'
  Starting Rasa (about 15 s)...

MSG
"$bin/rasa" run --enable-api -i 127.0.0.1 -p 5005 -m "$model" \
  --credentials credentials.yml --endpoints endpoints.yml
