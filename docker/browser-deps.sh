#!/usr/bin/env sh
# Installs what the HTML-report browser tests need (Debian/Ubuntu): Debian's chromium and its
# chromedriver. The Python driver (selenium) comes from the `report` extra. Nothing here downloads a
# browser build of its own: selenium is pointed at /usr/bin/chromedriver, so selenium-manager never
# runs. Skipped quietly when apt-get is missing; the browser tests then skip with the reason.
set -e
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "browser-deps: no apt-get; install chromium and chromedriver yourself to run the report browser tests" >&2
  exit 0
fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing system packages: chromium chromium-driver fonts-dejavu-core"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
  chromium chromium-driver fonts-dejavu-core
