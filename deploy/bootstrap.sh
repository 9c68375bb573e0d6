#!/usr/bin/env bash
# Install what the platform needs on a fresh Debian machine: OS packages and a venv.
#   deploy/bootstrap.sh          runtime (RabbitMQ, Python packages)
#   deploy/bootstrap.sh --test   also what the tests use (PostgreSQL, docker-compose, test packages)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(rabbitmq-server curl)
requirements=requirements.txt
if [[ "${1:-}" == "--test" ]]; then
  # chromium: the review UI tests (Playwright); caddy: validating the compose proxy's Caddyfile
  packages+=(postgresql docker-compose ffmpeg chromium caddy)
  requirements=requirements-dev.txt
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} )); then
  echo "installing OS packages: ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq
  # The package's own service start is refused in containers; we start RabbitMQ ourselves.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [[ ! -x .venv/bin/python ]]; then
  python3.11 -m venv .venv 2>/dev/null || python3 -m venv .venv
fi
stamp=.venv/.requirements-$(cat requirements.txt "$requirements" pyproject.toml | sha256sum | cut -c1-16)
if [[ ! -f "$stamp" ]]; then
  .venv/bin/pip install -q --disable-pip-version-check -r "$requirements"
  # the project itself, for its console scripts (media-check)
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -e .
  touch "$stamp"
fi
