#!/usr/bin/env bash
# Install what the platform needs on a fresh Debian machine: OS packages and a venv.
#   deploy/bootstrap.sh          runtime (RabbitMQ, Python packages)
#   deploy/bootstrap.sh --test   also what the tests use (PostgreSQL, docker-compose, test packages)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(rabbitmq-server curl)
requirements=requirements.txt
if [[ "${1:-}" == "--test" ]]; then
  # chromium: the browser tests (Playwright), fonts-wqy-microhei so their screenshots show Chinese; caddy: validating
  # the compose proxy's Caddyfile
  packages+=(postgresql docker-compose ffmpeg chromium caddy fonts-wqy-microhei)
  requirements=requirements-dev.txt
fi
if [[ "${1:-}" == "--test" ]]; then
  # node and npm run the OpenID Connect provider the single sign-on tests sign in at (tests/support_oidc).
  # Looked for as commands, not as Debian packages: a machine may have Node.js from elsewhere (with its own
  # npm), and Debian's npm package would conflict with it.
  command -v node >/dev/null || packages+=(nodejs)
  command -v npm >/dev/null || packages+=(npm)
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

if [[ "${1:-}" == "--test" ]]; then
  # the test provider's packages, exactly as locked; again only when the lock file changed
  oidc=tests/support_oidc
  oidc_stamp=$oidc/node_modules/.installed-$(sha256sum $oidc/package-lock.json | cut -c1-16)
  if [[ ! -f "$oidc_stamp" ]]; then
    (cd $oidc && npm ci --no-audit --no-fund --loglevel=error)
    touch "$oidc_stamp"
  fi
fi
