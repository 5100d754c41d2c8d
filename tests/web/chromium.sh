#!/usr/bin/env bash
# Prints the path of a Chromium for the browser test, installing Debian's
# `chromium` package when there is none (CI runs as root on Debian). Playwright
# drives this system browser: nothing downloads a browser of its own.
# CHROMIUM=/path/to/chromium overrides the search.
set -euo pipefail
for candidate in "${CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then echo "$candidate"; exit 0; fi
done
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "chromium.sh: installing Debian's chromium package" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq chromium >&2
  echo /usr/bin/chromium
  exit 0
fi
echo "chromium.sh: no Chromium found: install your system's chromium package, or set CHROMIUM=/path/to/chromium" >&2
exit 1
