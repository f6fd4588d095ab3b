#!/usr/bin/env bash
# Real authoritative DNS servers (Debian bookworm's PowerDNS, Knot and BIND) for outlast's tests.
#
#   dns.sh install                                  install the Debian packages when missing
#   dns.sh start-pdns DATADIR PORT APIPORT [--opt=val ...]   PowerDNS (gsqlite3, HTTP API, LUA, RFC 2136)
#   dns.sh start-knot DATADIR PORT                  Knot DNS (RFC 2136 + TSIG)
#   dns.sh start-bind DATADIR PORT                  BIND 9 (RFC 2136 + TSIG)
#   dns.sh stop DATADIR                             stop exactly the processes recorded in DATADIR/run/pids
#
# Every server listens on 127.0.0.1 only (UDP and TCP on PORT; PowerDNS's API on APIPORT) and serves
# two zones, fresh on every start (earlier changes in DATADIR are dropped):
#   example.test  SOA ns1.example.test. hostmaster.example.test. 1 3600 600 86400 60 (TTL 3600),
#                 NS ns1.example.test., ns1 A 127.0.0.1; `www` does not exist. RFC 2136 UPDATEs and
#                 AXFR are accepted when signed with TSIG key outlast-key (hmac-sha256) or
#                 outlast-key512 (hmac-sha512); unsigned ones are refused.
#   other.test    the same shape, no updates (for "wrong zone" tests).
# PowerDNS: API key outlast-api-key, LUA records on (lua-health-checks-interval=$PDNS_LUA_INTERVAL,
# default 1; lua-health-checks-expire-delay=$PDNS_LUA_EXPIRE, default 3600); extra --opt=val
# arguments are passed to pdns_server and override the generated config.
#
# DATADIR holds: the configs (etc/), data (zone files, pdns.sqlite3, Knot's journal), log/<name>.log,
# run/pids ("PID name" lines), env (KEY=value lines) and server.json (the same facts as JSON, in the
# shape of DnsServerInfo in test/servers/dns.ts). On success `start-*` prints the env facts as one
# line of KEY=value pairs.
#
# Optional environment: DNS_START_TIMEOUT (seconds, default 20).
# Exit codes: 0 ok, 1 failure, 2 usage, 3 a port is taken or DATADIR's server is already running.
set -euo pipefail

PACKAGES=(pdns-server pdns-backend-sqlite3 knot knot-dnsutils bind9 bind9-dnsutils sqlite3)

# Fixed test credentials (test/servers/dns.ts reads them from server.json).
TSIG_NAME=outlast-key
TSIG_ALGORITHM=hmac-sha256
TSIG_SECRET=ZYuwmHCZe8EPlhMZhoaZ/C5y7GdX9+cBkOdzHBk1TD4=
TSIG512_NAME=outlast-key512
TSIG512_ALGORITHM=hmac-sha512
TSIG512_SECRET=8anHkT0/vSZyeF78amgsMScqigMU4I6fx8bNozBrGMVkjKADxpcIZ0veZY5649wMEky4SPasM1GqMnCbLlDBqQ==
PDNS_API_KEY=outlast-api-key

HOST=127.0.0.1
ZONE=example.test
OTHER_ZONE=other.test
# Initial content (resetZone in test/servers/dns.ts restores exactly this).
TTL=3600
SOA_TIMERS='1 3600 600 86400 60'

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# A real answer: an authoritative NOERROR SOA for the zone. (dig prints connection errors on stdout,
# so "some output" would not do.)
dns_answers() {
  local out
  out=$(dig +norec +time=1 +tries=1 -p "$PORT" "@$HOST" "$ZONE" SOA 2>/dev/null || true)
  [[ $out == *"status: NOERROR"* && $out == *"flags: qr aa"* && $out == *"hostmaster.$ZONE."* ]]
}

# ZONE's zone file for Knot and BIND, at FILE.
write_zone_file() {
  render dns-zone.tmpl ZONE_ORIGIN="$1" >"$2"
}

# Common start-up: arguments, the already-running and port checks, a fresh DATADIR layout, and the
# trap that stops what was started when the start fails or is interrupted.
prepare() {
  local port
  for port in "${@:2}"; do require_port "$port"; done
  set_data_dir "$1"
  refuse_if_running server
  for port in "${@:2}"; do
    if port_taken "$port"; then
      log "port $port is already in use"
      exit 3
    fi
  done
  rm -rf "${DATA:?}/etc" "$DATA/db" "$DATA/log" "$DATA/run" "$DATA/env" "$DATA/server.json"
  mkdir -p "$DATA/etc" "$DATA/db" "$DATA/log" "$DATA/run"
  : >"$DATA/run/pids"
  stop_on_failure stop_recorded
}

# One pass of the readiness checks (wait_ready's CHECK): a real answer on HOST:PORT from sockets
# of SERVER_PID's own and none of anyone else's, and EXTRA (a command that sets WAITING when it
# fails; PowerDNS's API).
server_ready() {
  local extra=${1:-true}
  # BIND (and PowerDNS for its API port) go on running without the socket they could not bind.
  if grep -qiE "$IN_USE" "$DATA/log/$SERVER_NAME.log"; then
    log "$SERVER_NAME could not bind a port"
    show_logs
    exit 3
  fi
  if ! dns_answers; then
    WAITING="an authoritative answer for $ZONE SOA"
    TIMEOUT_EXIT=1
    return 1
  fi
  if ! owns_port "$SERVER_PID" "$HOST" "$PORT"; then
    WAITING="its own sockets on $HOST:$PORT, where something else answers"
    TIMEOUT_EXIT=3
    return 1
  fi
  TIMEOUT_EXIT=1
  $extra || return 1
  if ! sole_owner "$SERVER_PID" "$HOST" "$PORT"; then
    log "another server shares $HOST:$PORT (SO_REUSEPORT): giving the port up"
    exit 3
  fi
}

# Launches NAME (COMMAND...) and waits until it is ready (server_ready EXTRA).
run_server() {
  local extra=$1
  SERVER_NAME=$2
  launch "${@:2}"
  SERVER_PID=$LAUNCHED
  wait_ready "${DNS_START_TIMEOUT:-20}" 0.05 server_ready "$extra"
}

# DATADIR/server.json and DATADIR/env, then the one-line summary on stdout.
write_facts() {
  local kind=$1 api_port=${2:-}
  local env_text="DNS_KIND=$kind
DNS_HOST=$HOST
DNS_PORT=$PORT
DNS_ZONE=$ZONE
DNS_OTHER_ZONE=$OTHER_ZONE
DNS_TSIG_NAME=$TSIG_NAME
DNS_TSIG_ALGORITHM=$TSIG_ALGORITHM
DNS_TSIG_SECRET=$TSIG_SECRET
DNS_TSIG512_NAME=$TSIG512_NAME
DNS_TSIG512_ALGORITHM=$TSIG512_ALGORITHM
DNS_TSIG512_SECRET=$TSIG512_SECRET
DNS_PID=$SERVER_PID
DNS_DATA_DIR=$DATA"
  local api_json=''
  if [[ -n $api_port ]]; then
    env_text+="
DNS_API_PORT=$api_port
DNS_API_URL=http://$HOST:$api_port
DNS_API_KEY=$PDNS_API_KEY"
    api_json="
  \"apiPort\": $api_port,
  \"apiUrl\": \"http://$HOST:$api_port\",
  \"apiKey\": \"$PDNS_API_KEY\","
  fi
  cat >"$DATA/server.json" <<EOF
{
  "kind": "$kind",
  "host": "$HOST",
  "port": $PORT,$api_json
  "zone": "$ZONE",
  "otherZone": "$OTHER_ZONE",
  "tsig": [
    { "name": "$TSIG_NAME", "algorithm": "$TSIG_ALGORITHM", "secret": "$TSIG_SECRET" },
    { "name": "$TSIG512_NAME", "algorithm": "$TSIG512_ALGORITHM", "secret": "$TSIG512_SECRET" }
  ],
  "pid": $SERVER_PID,
  "dataDir": "$DATA"
}
EOF
  log "$kind on $HOST:$PORT ready in $(elapsed_ms) ms (pid $SERVER_PID)"
  publish_env "$env_text"
}

# --- PowerDNS ---------------------------------------------------------------------------------

sql_quote() { printf "'%s'" "${1//\'/\'\'}"; }

# The gsqlite3 database: Debian's schema, both zones, the TSIG keys and the zone metadata that
# RFC 2136 needs (TSIG-ALLOW-DNSUPDATE) and that the API sets on zones it creates (SOA-EDIT-API).
pdns_database() {
  local db=$DATA/db/pdns.sqlite3 zone id sql=''
  rm -f "$db"
  id=0
  for zone in "$ZONE" "$OTHER_ZONE"; do
    id=$((id + 1))
    sql+="INSERT INTO domains (id, name, type) VALUES ($id, '$zone', 'NATIVE');
INSERT INTO records (domain_id, name, type, content, ttl, prio, disabled, auth) VALUES
  ($id, '$zone', 'SOA', 'ns1.$zone. hostmaster.$zone. $SOA_TIMERS', $TTL, 0, 0, 1),
  ($id, '$zone', 'NS', 'ns1.$zone.', $TTL, 0, 0, 1),
  ($id, 'ns1.$zone', 'A', '127.0.0.1', $TTL, 0, 0, 1);
INSERT INTO domainmetadata (domain_id, kind, content) VALUES ($id, 'SOA-EDIT-API', 'DEFAULT');
"
  done
  sql+="INSERT INTO tsigkeys (name, algorithm, secret) VALUES
  ('$TSIG_NAME', '$TSIG_ALGORITHM', $(sql_quote "$TSIG_SECRET")),
  ('$TSIG512_NAME', '$TSIG512_ALGORITHM', $(sql_quote "$TSIG512_SECRET"));
INSERT INTO domainmetadata (domain_id, kind, content) VALUES
  (1, 'TSIG-ALLOW-DNSUPDATE', '$TSIG_NAME'),
  (1, 'TSIG-ALLOW-DNSUPDATE', '$TSIG512_NAME'),
  (1, 'ALLOW-DNSUPDATE-FROM', '127.0.0.0/8'),
  (1, 'TSIG-ALLOW-AXFR', '$TSIG_NAME'),
  (1, 'TSIG-ALLOW-AXFR', '$TSIG512_NAME');
"
  # One transaction, no fsync: 0.02 s instead of 0.4 s.
  { printf 'BEGIN;\n' && cat /usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql && printf '%sCOMMIT;\n' "$sql"; } |
    sqlite3 -bail -cmd 'PRAGMA synchronous = OFF' "$db" >/dev/null
}

cmd_start_pdns() {
  [[ $# -ge 3 ]] || usage
  local data_arg=$1 opt
  PORT=$2
  API_PORT=$3
  shift 3
  for opt in "$@"; do [[ $opt == --?*=* ]] || die "extra pdns options must look like --name=value, not '$opt'"; done
  [[ -x /usr/sbin/pdns_server ]] || die "pdns_server is missing: run '$0 install' first"
  start_clock
  prepare "$data_arg" "$PORT" "$API_PORT"
  [[ $PORT != "$API_PORT" ]] || die "PORT and APIPORT must differ"
  pdns_database
  render pdns.conf.tmpl LUA_INTERVAL="${PDNS_LUA_INTERVAL:-1}" LUA_EXPIRE="${PDNS_LUA_EXPIRE:-3600}" \
    >"$DATA/etc/pdns.conf"
  run_server pdns_api_ready pdns /usr/sbin/pdns_server "--config-dir=$DATA/etc" "$@"
  write_facts pdns "$API_PORT"
}

pdns_api_ready() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -H "X-API-Key: $PDNS_API_KEY" \
    "http://$HOST:$API_PORT/api/v1/servers/localhost/zones/$ZONE." 2>/dev/null || true)
  [[ $code == 200 ]] || {
    WAITING="the API's zone $ZONE. on $HOST:$API_PORT (HTTP $code)"
    return 1
  }
}

# --- Knot and BIND ----------------------------------------------------------------------------

# What start-knot and start-bind (ARGS: DATADIR PORT) do before their server starts: both zones as
# zone files in db/, and etc/CONF from templates/CONF.tmpl.
prepare_zone_files() {
  local binary=$1 conf=$2
  shift 2
  [[ $# -eq 2 ]] || usage
  PORT=$2
  [[ -x $binary ]] || die "${binary##*/} is missing: run '$0 install' first"
  start_clock
  prepare "$1" "$PORT"
  write_zone_file "$ZONE" "$DATA/db/$ZONE.zone"
  write_zone_file "$OTHER_ZONE" "$DATA/db/$OTHER_ZONE.zone"
  render "$conf.tmpl" >"$DATA/etc/$conf"
}

cmd_start_knot() {
  prepare_zone_files /usr/sbin/knotd knot.conf "$@"
  run_server true knot /usr/sbin/knotd -c "$DATA/etc/knot.conf"
  write_facts knot
}

cmd_start_bind() {
  prepare_zone_files /usr/sbin/named named.conf "$@"
  # -g: foreground, log to stderr; -n 1: one worker thread is plenty for tests and halves the threads.
  run_server true bind /usr/sbin/named -g -n 1 -c "$DATA/etc/named.conf"
  write_facts bind
}

cmd_stop() {
  [[ $# -eq 1 ]] || usage
  [[ -d $1 ]] || return 0
  DATA=$(cd "$1" && pwd -P)
  stop_recorded
}

case ${1:-} in
install)
  shift
  [[ $# -eq 0 ]] || usage
  install_packages "${PACKAGES[@]}"
  ;;
start-pdns)
  shift
  cmd_start_pdns "$@"
  ;;
start-knot)
  shift
  cmd_start_knot "$@"
  ;;
start-bind)
  shift
  cmd_start_bind "$@"
  ;;
stop)
  shift
  cmd_stop "$@"
  ;;
*) usage ;;
esac
