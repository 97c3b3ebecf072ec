#!/usr/bin/env bash
# Runs the demo on a fresh Debian 12 machine: creates .venv, installs the agent and the local
# Halo emulator, starts the emulator on a free loopback port, syncs sample data into it and
# prints what landed in Halo.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".[emulator]"
exec .venv/bin/halo-integrator demo "$@"
