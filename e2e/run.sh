#!/usr/bin/env bash
# Runs the Playwright suite against Debian's Chromium. Installs what it needs
# on a fresh machine: the chromium package and the npm packages of e2e/.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x /usr/bin/chromium ]; then
  echo "e2e: installing Debian chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if [ ! -d node_modules/@playwright/test ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
[ -x ../bin/pulsegrid ] || (cd .. && go build -o bin/pulsegrid ./cmd/pulsegrid)
mkdir -p artifacts
exec npx playwright test "$@"
