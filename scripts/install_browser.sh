#!/bin/sh
# The browser suite drives Debian's Chromium through Playwright (Playwright's own browser
# download needs a CDN this network does not reach). Installs it when missing; idempotent.
set -e
if command -v chromium >/dev/null 2>&1; then exit 0; fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
echo "Installing Debian's chromium for the browser tests..."
$SUDO apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium >/dev/null
