#!/usr/bin/env bash
# Makes sure redis-server is installed: tests and the demo start private
# redis-server processes on free loopback ports. Installs Debian's package
# when missing (as root, or through sudo).
set -euo pipefail
# The fault suite also makes TLS certificates with openssl.
pkgs=()
command -v redis-server >/dev/null 2>&1 || pkgs+=(redis-server redis-tools)
command -v openssl >/dev/null 2>&1 || pkgs+=(openssl)
if [ ${#pkgs[@]} -eq 0 ]; then
  exit 0
fi
echo "installing Debian packages: ${pkgs[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "redis-server is missing and this user cannot install it: run 'apt-get install redis-server' as root" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# policy-rc.d keeps the package from starting a system-wide redis on 6379:
# we only need the binary.
if [ ! -e /usr/sbin/policy-rc.d ] && [ -z "$SUDO" ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
command -v redis-server >/dev/null
