#!/usr/bin/env bash
# The browser for outlast's dashboard tests: Debian's Chromium, driven by playwright-core.
#
#   browser.sh install     install Debian's `chromium` package when /usr/bin/chromium is missing
#   browser.sh path        print the browser's path (exit 1 when it is missing)
#
# Never `npx playwright install`: the tests use the distribution's browser, fetched from Debian's
# mirrors like every other server the tests run.
# Exit codes: 0 ok, 1 failure, 2 usage.
set -euo pipefail

BROWSER=/usr/bin/chromium
PACKAGES=(chromium)

log() { printf 'browser.sh: %s\n' "$*" >&2; }
die() {
  log "$*"
  exit 1
}

usage() {
  sed -n '2,5p' "$0" >&2
  exit 2
}

cmd_install() {
  [[ -x $BROWSER ]] && return 0
  local sudo=()
  if [[ $EUID -ne 0 ]]; then
    command -v sudo >/dev/null || die "not root and no sudo: install ${PACKAGES[*]} by hand"
    sudo=(sudo)
  fi
  log "installing ${PACKAGES[*]}"
  local out
  out=$(mktemp)
  local rc=0 tries=0
  # Another apt run (swift.sh or dns.sh install) may hold the lists lock, and `apt-get update` does
  # not wait for it: retry while the failure is about a lock, for up to 10 minutes.
  while true; do
    rc=0
    "${sudo[@]}" apt-get update -qq >"$out" 2>&1 || rc=$?
    [[ $rc -ne 0 ]] && grep -qi 'could not get lock' "$out" && ((++tries < 120)) || break
    sleep 5
  done
  if [[ $rc -eq 0 ]]; then
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      -o DPkg::Lock::Timeout=600 "${PACKAGES[@]}" >>"$out" 2>&1 || rc=$?
  fi
  if [[ $rc -ne 0 ]]; then
    cat "$out" >&2
    rm -f "$out"
    die "apt-get failed (exit $rc)"
  fi
  grep -Ei '^(E:|W:|dpkg: error)' "$out" >&2 || true
  rm -f "$out"
  [[ -x $BROWSER ]] || die "installed ${PACKAGES[*]} but $BROWSER is still missing"
  log "installed ${PACKAGES[*]} ($("$BROWSER" --version 2>/dev/null || echo '?'))"
}

cmd_path() {
  [[ -x $BROWSER ]] || die "$BROWSER is missing: run $0 install"
  printf '%s\n' "$BROWSER"
}

case "${1:-}" in
install) cmd_install ;;
path) cmd_path ;;
*) usage ;;
esac
