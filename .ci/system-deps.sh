#!/usr/bin/env bash
# System packages for the end-to-end tests (medimind_assets_tests/e2e), on Debian, as root:
#   chromium    headless browser the web UI test drives with Playwright (no browser download)
#   fonts-*     so the screenshots have text
#   postgresql  server binaries (initdb, pg_ctl) for the PostgreSQL instance test
#   util-linux  runuser, to run PostgreSQL as the `postgres` user when the tests run as root
# Idempotent and quiet: installs only what is missing.
set -euo pipefail

packages=(chromium fonts-dejavu-core fonts-liberation postgresql util-linux)

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "system-deps: run as root to install: ${missing[*]}" >&2
    exit 1
fi

echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
