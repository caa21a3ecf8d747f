#!/usr/bin/env bash
# Installs the runtime and runs the bridge on the bundled example clip, publishing over ZeroMQ and OSC.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/avatar-bridge run --input examples/hello.wav --zmq tcp://127.0.0.1:5555 --osc 127.0.0.1:9000 "$@"
