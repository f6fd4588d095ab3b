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

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cmd_install() {
  [[ -x $BROWSER ]] && return 0
  install_packages "${PACKAGES[@]}"
  [[ -x $BROWSER ]] || die "${PACKAGES[*]} is installed but $BROWSER is missing"
  log "$BROWSER is $("$BROWSER" --version 2>/dev/null || echo '?')"
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
