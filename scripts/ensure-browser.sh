#!/usr/bin/env bash
# Makes sure a Chromium is installed for the status page's end-to-end test
# (test/e2e/status-page.test.ts drives it with playwright-core, which
# downloads no browser of its own: the machines are offline but for package
# registries). Installs Debian's `chromium` package when /usr/bin/chromium
# (or $CHROMIUM_PATH) is missing, as root or through sudo, and a font when
# fontconfig knows none (headless Chromium would draw no text).
set -euo pipefail
browser="${CHROMIUM_PATH:-/usr/bin/chromium}"
pkgs=()
[ -x "$browser" ] || pkgs+=(chromium)
if ! command -v fc-list >/dev/null 2>&1 || [ -z "$(fc-list 2>/dev/null | head -n 1)" ]; then
  pkgs+=(fonts-dejavu-core)
fi
if [ ${#pkgs[@]} -eq 0 ]; then
  exit 0
fi
echo "installing Debian packages: ${pkgs[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "$browser is missing and this user cannot install it: run 'apt-get install chromium' as root, or set CHROMIUM_PATH" >&2
    exit 1
  fi
fi
# Through env, so that sudo does not drop it.
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
if [ ! -x "$browser" ]; then
  echo "installed ${pkgs[*]} but $browser is still missing (set CHROMIUM_PATH to the browser's path)" >&2
  exit 1
fi
