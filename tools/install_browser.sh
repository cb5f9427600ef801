#!/usr/bin/env bash
# Headless Chromium for the browser tests (tests/test_apps/test_browser.py), from Debian's
# package: playwright drives it through executable_path, so nothing is downloaded by a
# browser tool (`playwright install` is never run). Idempotent; needs root and apt.
set -euo pipefail
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "[install_browser] $CHROMIUM is missing and there is no apt-get: install Chromium and set CHROMIUM" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "[install_browser] installing Debian's chromium (apt-get)" >&2
$SUDO apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium >/dev/null
[ -x "$CHROMIUM" ] || { echo "[install_browser] apt installed no $CHROMIUM" >&2; exit 1; }
