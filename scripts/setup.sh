#!/usr/bin/env bash
# Installs avatar-bridge on a fresh Debian/Ubuntu machine; idempotent, a second run is quick.
#   scripts/setup.sh          runtime: apt libraries + .venv with the pinned live-path packages
#   scripts/setup.sh --dev    plus test, training and engine-adapter tooling
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dev=0
[[ "${1:-}" == "--dev" ]] && dev=1

log() { echo "[setup] $*" >&2; }
# pip retries failed connections but not a download cut off midway (bpy's wheel is 300+ MB).
pip_install() {
  local pip=$1 attempt
  shift
  for attempt in 1 2 3; do
    "$pip" install -q --disable-pip-version-check "$@" && return 0
    log "pip install failed (attempt $attempt of 3)"
    [[ $attempt -lt 3 ]] && sleep $((attempt * 10))
  done
  return 1
}
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

# python3-venv: Debian's python3 has no ensurepip without it, so `python3 -m venv` fails.
apt_pkgs=(libportaudio2 python3-venv)
if [[ $dev -eq 1 ]]; then
  apt_pkgs+=(pulseaudio pulseaudio-utils libasound2-plugins alsa-utils
             espeak-ng mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1
             mbrola-de2 mbrola-fr1 mbrola-es1 mbrola-it3 flite rhvoice rhvoice-english
             festival festvox-kdlpc16k festvox-rablpc16k festvox-us-slt-hts
             cmake g++ make catch2 nlohmann-json3-dev pkg-config)
fi

missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  log "apt packages: ${missing[*]}"
  . /etc/os-release
  if [[ $dev -eq 1 && ${ID:-} == debian && ! -f /etc/apt/sources.list.d/avatar-bridge-nonfree.sources ]]; then
    # MBROLA lives in contrib (engine) and non-free (voices); Debian images enable only main.
    # (Ubuntu has them in multiverse, which its standard sources enable.)
    as_root tee /etc/apt/sources.list.d/avatar-bridge-nonfree.sources >/dev/null <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: ${VERSION_CODENAME:-bookworm}
Components: contrib non-free
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  fi
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  log "avatar-bridge needs Python 3.11 or newer; python3 is $(python3 -V 2>&1)"
  exit 1
fi
venv="$root/.venv"
# pip, not python: a venv whose creation failed half-way (no ensurepip) has a python but no pip.
[[ -x "$venv/bin/pip" ]] || python3 -m venv --clear "$venv"
req=requirements.txt
[[ $dev -eq 1 ]] && req=requirements-dev.txt
stamp="$venv/.installed-$(cat "$req" requirements.txt constraints.txt pyproject.toml | sha256sum | cut -c1-16)"
if [[ ! -f "$stamp" ]]; then
  log "python packages from $req"
  pip_install "$venv/bin/pip" -c constraints.txt -r "$req"
  "$venv/bin/pip" install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
  touch "$stamp"
fi

if [[ $dev -eq 1 ]]; then
  # Blender's bpy wheel pins its own numpy, so it gets a virtual environment of its own.
  bpy_venv="$root/.venv-bpy"
  if [[ ! -f "$bpy_venv/.installed-bpy-4.2.23" ]]; then
    log "bpy 4.2.23 in .venv-bpy"
    if python3 -m venv "$bpy_venv" && pip_install "$bpy_venv/bin/pip" \
        bpy==4.2.23 numpy==2.3.5 pyzmq==27.3.0 msgpack==1.2.4 python-osc==1.10.2 pytest==9.2.0; then
      touch "$bpy_venv/.installed-bpy-4.2.23"
    else
      log "bpy could not be installed: the Blender tests will skip"
    fi
  fi
fi
log "ready"
