#!/usr/bin/env bash
# Debian packages the test suite starts itself: PostgreSQL and Redis (store, tracker and
# lock store tests, replicas) and Chromium + chromedriver + a Chinese font (the web chat page test).
# Installs only what is missing; needs root (or sudo) the first time.
set -euo pipefail

missing=()
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
# Chinese glyphs for the page's screenshots (Chromium's own fonts cover Latin and Arabic only).
fc-list :lang=zh 2>/dev/null | grep -q . || missing+=(fonts-wqy-microhei)

if ((${#missing[@]})); then
  echo "Installing ${missing[*]} from Debian ..."
  sudo=""
  [[ $(id -u) == 0 ]] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
