#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian 12 machine: installs the Debian packages the
# real-component tests need, creates .venv, installs the project with every extra, lints,
# and runs pytest. Extra arguments go to pytest (e.g. ./run-tests.sh -k emulator).
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages the tests start for real (kept in one place: .ci/debian-packages.txt).
mapfile -t DEB_PACKAGES < <(grep -v '^#' .ci/debian-packages.txt | grep -v '^$')
missing=()
for package in "${DEB_PACKAGES[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".[emulator,tray,test,ldap,sql]"

.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
