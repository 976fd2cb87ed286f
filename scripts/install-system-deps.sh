#!/usr/bin/env bash
# Install the Debian packages Corridor's tests need, only those that are missing.
#
#   scripts/install-system-deps.sh           install what is missing (needs root)
#   scripts/install-system-deps.sh --check   only report; exit 1 if something is missing
#
# As root it runs apt-get update + apt-get install for the missing packages.
# As a normal user it prints what to install and exits 0, so `make test` can go on
# (tests that need PostgreSQL or Chromium then skip with a reason).
# CORRIDOR_SKIP_SYSTEM_DEPS=1 skips everything.
#
# PostgreSQL is installed without a "main" cluster and is never started here: the
# tests start their own throwaway cluster (tests/support/pgserver.py).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

PACKAGES=(
  make              # `make test`
  postgresql        # server 15 (initdb, pg_ctl, postgres; pg_trgm, unaccent, fuzzystrmatch)
  chromium          # /usr/bin/chromium, driven by Playwright
  fonts-liberation  # Latin fonts for screenshots
  fonts-dejavu-core # DejaVu Sans covers Arabic script
  default-jre-headless # Java for pyspark (Splink on Spark, tests/linkage/test_spark.py)
)

check_only=0
case "${1:-}" in
  --check) check_only=1 ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

log() { echo "install-system-deps: $*" >&2; }

if [[ "${CORRIDOR_SKIP_SYSTEM_DEPS:-0}" == 1 ]]; then
  log "skipped (CORRIDOR_SKIP_SYSTEM_DEPS=1)"
  exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  log "not a Debian-like system; make sure these are available: ${PACKAGES[*]}"
  exit 0
fi

is_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  is_installed "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  log "all present (${PACKAGES[*]})"
  exit 0
fi

if ((check_only)); then
  log "missing: ${missing[*]}"
  exit 1
fi

if [[ "$(id -u)" != 0 ]]; then
  log "missing Debian packages: ${missing[*]}"
  log "install them with: sudo apt-get update && sudo apt-get install --no-install-recommends ${missing[*]}"
  log "continuing without them (tests that need them will be skipped)"
  exit 0
fi

# Do not let the postgresql package create (and start) a "main" cluster on port 5432.
if ! is_installed postgresql-common; then
  mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/50-corridor-no-main-cluster.conf
fi

apt_opts=(-q -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=300)
aptlog="$(mktemp -t corridor-apt.XXXXXX)"
trap 'rm -f "$aptlog"' EXIT

run_logged() {
  if ! "$@" >>"$aptlog" 2>&1; then
    log "failed: $*"
    tail -n 60 "$aptlog" >&2
    return 1
  fi
}

log "installing: ${missing[*]}"
for attempt in 1 2 3; do
  if run_logged apt-get "${apt_opts[@]}" update; then
    break
  fi
  ((attempt < 3)) || exit 1
  log "apt-get update failed (attempt $attempt), retrying"
  sleep $((attempt * 5))
done
run_logged apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}"

still=()
for pkg in "${missing[@]}"; do
  is_installed "$pkg" || still+=("$pkg")
done
if ((${#still[@]})); then
  log "still missing after apt-get install: ${still[*]}"
  exit 1
fi
log "installed: ${missing[*]}"
