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

log() { printf 'dns.sh: %s\n' "$*" >&2; }
die() {
  log "$*"
  exit 1
}

usage() {
  sed -n '2,8p' "$0" >&2
  exit 2
}

cmd_install() {
  local missing=() pkg status
  for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$pkg")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0

  local sudo=()
  if [[ $EUID -ne 0 ]]; then
    command -v sudo >/dev/null || die "not root and no sudo: install ${missing[*]} by hand"
    sudo=(sudo)
  fi
  log "installing ${missing[*]}"
  local out
  out=$(mktemp)
  # On a host whose init may start services, installing pdns-server, knot or bind9 starts a
  # system-wide daemon on port 53. policy-rc.d (exit 101) forbids that for the install only; an
  # existing one is kept. (With systemd they would still be enabled for the next boot:
  # `systemctl disable pdns knot named` there.)
  local policy=/usr/sbin/policy-rc.d
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod 755 "$policy"
    # shellcheck disable=SC2064 # expanded now on purpose
    trap "${sudo[*]} rm -f $policy" EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM HUP
  fi
  local rc=0 tries=0
  # Another apt run (swift.sh install, say) may hold the lists lock, and `apt-get update` does not
  # wait for it (DPkg::Lock::Timeout covers only the dpkg lock that `install` takes): retry while
  # the failure is about a lock, for up to 10 minutes.
  while true; do
    rc=0
    "${sudo[@]}" apt-get update -qq >"$out" 2>&1 || rc=$?
    [[ $rc -ne 0 ]] && grep -qi 'could not get lock' "$out" && ((++tries < 120)) || break
    sleep 5
  done
  if [[ $rc -eq 0 ]]; then
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      -o DPkg::Lock::Timeout=600 "${missing[@]}" >>"$out" 2>&1 || rc=$?
  fi
  if [[ -n $(trap -p EXIT) ]]; then
    "${sudo[@]}" rm -f "$policy"
    trap - EXIT
  fi
  if [[ $rc -ne 0 ]]; then
    cat "$out" >&2
    rm -f "$out"
    die "apt-get failed (exit $rc)"
  fi
  grep -Ei '^(E:|W:|dpkg: error)' "$out" >&2 || true
  rm -f "$out"
  log "installed ${missing[*]}"
}

# --- helpers for start/stop -------------------------------------------------------------------

# True when PID is a live (not zombie) process whose command line mentions DATA: the check that
# keeps a reused PID from being killed.
is_ours() {
  local pid=$1 stat state cmdline
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  stat=$({ cat "/proc/$pid/stat"; } 2>/dev/null) || return 1
  state=${stat##*) }
  state=${state%% *}
  [[ $state != Z && $state != X ]] || return 1
  cmdline=$({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null) || return 1
  [[ $cmdline == *"$DATA/"* ]]
}

recorded_pids() {
  [[ -f $DATA/run/pids ]] || return 0
  awk '{print $1}' "$DATA/run/pids"
}

stop_servers() {
  local pids=() pid deadline alive
  for pid in $(recorded_pids); do
    if is_ours "$pid"; then
      pids+=("$pid")
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  [[ ${#pids[@]} -gt 0 ]] || return 0
  deadline=$((SECONDS + 5))
  while ((SECONDS < deadline)); do
    alive=0
    for pid in "${pids[@]}"; do is_ours "$pid" && alive=1; done
    [[ $alive -eq 0 ]] && return 0
    sleep 0.05
  done
  for pid in "${pids[@]}"; do
    if is_ours "$pid"; then
      log "pid $pid ignored SIGTERM, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  for _ in $(seq 50); do
    alive=0
    for pid in "${pids[@]}"; do is_ours "$pid" && alive=1; done
    [[ $alive -eq 0 ]] && return 0
    sleep 0.1
  done
  log "could not stop ${pids[*]}"
  return 1
}

# Sockets bound to PORT (UDP, and TCP in LISTEN), as "proto local-address inode" lines. ss asks
# the kernel through netlink with the filter applied there: reading /proc/net/tcp takes 0.1-0.2 s
# with the tens of thousands of TIME_WAIT sockets a test run leaves, and ss -p reads every
# process's fds.
port_sockets() {
  ss -H -tulne "sport = :$1" 2>/dev/null | awk '{
    inode = ""
    for (i = 7; i <= NF; i++) if ($i ~ /^ino:/) inode = substr($i, 5)
    print $1, $5, inode
  }'
}

# Is anything bound to PORT (TCP listening or UDP) on any address? Conservative on purpose: a
# wildcard socket on the port would steal or share our queries.
port_taken() {
  [[ -n $(port_sockets "$1") ]]
}

# Does PID own both the UDP and the listening TCP socket on HOST:PORT? (Not someone else's server
# that answers in our stead; BIND, for one, keeps running when its bind() fails.)
owns_port() {
  local pid=$1 port=$2 fds proto addr inode udp=0 tcp=0
  fds=$(ls -l "/proc/$pid/fd" 2>/dev/null) || return 1
  while read -r proto addr inode; do
    [[ $addr == "$HOST:$port" && $fds == *"socket:[$inode]"* ]] || continue
    [[ $proto == udp ]] && udp=1
    [[ $proto == tcp ]] && tcp=1
  done < <(port_sockets "$port")
  [[ $udp -eq 1 && $tcp -eq 1 ]]
}

# True when no other process has a socket on HOST:PORT. BIND and Knot bind with SO_REUSEPORT, so
# two servers started at once on one port both come up and the kernel splits the queries between
# them; the loser of such a race must see it and give the port up (exit 3, the caller tries another).
sole_owner() {
  local pid=$1 port=$2 fds proto addr inode
  fds=$(ls -l "/proc/$pid/fd" 2>/dev/null) || return 1
  while read -r proto addr inode; do
    [[ $addr == "$HOST:$port" ]] || continue
    [[ $fds == *"socket:[$inode]"* ]] || return 1
  done < <(port_sockets "$port")
  return 0
}

# Start COMMAND... in its own session (a Ctrl-C meant for the caller's process group does not reach
# it; `stop` is what ends it), record its PID under NAME.
launch() {
  local name=$1 i
  shift
  setsid "$@" </dev/null >"$DATA/log/$name.log" 2>&1 &
  local pid=$!
  echo "$pid $name" >>"$DATA/run/pids"
  # Until the fork has exec'd, its command line is this script's, which is_ours does not recognise.
  for ((i = 0; i < 250; i++)); do
    if is_ours "$pid"; then
      LAUNCHED=$pid
      return 0
    fi
    [[ -e /proc/$pid ]] || break
    sleep 0.02
  done
  die "$name (pid $pid) did not start: $(tail -n 5 "$DATA/log/$name.log")"
}

show_logs() {
  local f
  for f in "$DATA"/log/*.log; do
    [[ -f $f ]] || continue
    printf -- '--- last lines of %s\n' "$f" >&2
    tail -n 20 "$f" >&2
  done
}

# A real answer: an authoritative NOERROR SOA for the zone. (dig prints connection errors on stdout,
# so "some output" would not do.)
dns_answers() {
  local out
  out=$(dig +norec +time=1 +tries=1 -p "$PORT" "@$HOST" "$ZONE" SOA 2>/dev/null || true)
  [[ $out == *"status: NOERROR"* && $out == *"flags: qr aa"* && $out == *"hostmaster.$ZONE."* ]]
}

write_zone_file() {
  local zone=$1 file=$2
  cat >"$file" <<EOF
\$ORIGIN $zone.
\$TTL $TTL
@    IN SOA ns1.$zone. hostmaster.$zone. $SOA_TIMERS
@    IN NS  ns1.$zone.
ns1  IN A   127.0.0.1
EOF
}

# Common start-up: arguments, the already-running and port checks, a fresh DATADIR layout, and the
# trap that stops what was started when the start fails or is interrupted.
prepare() {
  local data_arg=$1
  shift
  [[ $data_arg != *[[:space:]\'\"\$\`\\]* ]] || die "DATADIR must not contain spaces, quotes or \$\`\\"
  local port
  for port in "$@"; do
    [[ $port =~ ^[0-9]+$ ]] && ((port >= 1024 && port <= 65535)) || die "ports must be in 1024..65535, not '$port'"
  done
  mkdir -p "$data_arg"
  DATA=$(cd "$data_arg" && pwd -P)
  local pid
  for pid in $(recorded_pids); do
    if is_ours "$pid"; then
      log "the server in $DATA is already running (pid $pid); stop it first"
      exit 3
    fi
  done
  for port in "$@"; do
    if port_taken "$port"; then
      log "port $port is already in use"
      exit 3
    fi
  done
  rm -rf "$DATA/etc" "$DATA/db" "$DATA/log" "$DATA/run" "$DATA/env" "$DATA/server.json"
  mkdir -p "$DATA/etc" "$DATA/db" "$DATA/log" "$DATA/run"
  : >"$DATA/run/pids"
  trap 'rc=$?; trap "" INT TERM HUP; trap - EXIT; if [[ $rc -ne 0 ]]; then stop_servers || true; fi; exit $rc' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM HUP
}

# Polls until the server answers (and, when given, until CHECK also passes); on a failure shows
# the logs and exits: 3 when a port was taken (by someone else between the check in prepare and
# our bind), else 1.
IN_USE='address (already )?in use'
wait_ready() {
  local pid=$1 name=$2 check=${3:-true}
  local timeout=${DNS_START_TIMEOUT:-20}
  while true; do
    if ! is_ours "$pid"; then
      log "$name (pid $pid) exited during start-up"
      show_logs
      grep -qiE "$IN_USE" "$DATA/log/$name.log" && exit 3
      exit 1
    fi
    # BIND (and PowerDNS for its API port) go on running without the socket they could not bind.
    if grep -qiE "$IN_USE" "$DATA/log/$name.log"; then
      log "$name could not bind a port"
      show_logs
      exit 3
    fi
    if dns_answers && owns_port "$pid" "$PORT" && $check; then
      if ! sole_owner "$pid" "$PORT"; then
        log "another server shares $HOST:$PORT (SO_REUSEPORT): giving the port up"
        exit 3
      fi
      return 0
    fi
    if ((SECONDS - STARTED >= timeout)); then
      log "$name not ready after ${timeout}s"
      if dns_answers && ! owns_port "$pid" "$PORT"; then
        log "something else answers on $HOST:$PORT"
        show_logs
        exit 3
      fi
      show_logs
      exit 1
    fi
    sleep 0.05
  done
}

# DATADIR/env and DATADIR/server.json, then the one-line summary on stdout.
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
  printf '%s\n' "$env_text" >"$DATA/env"
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
  log "$kind on $HOST:$PORT ready in $(((${EPOCHREALTIME/./} - START_US) / 1000)) ms (pid $SERVER_PID)"
  tr '\n' ' ' <<<"$env_text" | sed 's/ $//'
  echo
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
  local data_arg=$1 api_port=$3
  PORT=$2
  shift 3
  local opt
  for opt in "$@"; do [[ $opt == --?*=* ]] || die "extra pdns options must look like --name=value, not '$opt'"; done
  [[ -x /usr/sbin/pdns_server ]] || die "pdns_server is missing: run '$0 install' first"
  START_US=${EPOCHREALTIME/./}
  STARTED=$SECONDS
  prepare "$data_arg" "$PORT" "$api_port"
  [[ $PORT != "$api_port" ]] || die "PORT and APIPORT must differ"
  pdns_database
  # Updates and AXFR: only example.test, only from 127/8 (zone metadata ALLOW-DNSUPDATE-FROM), only
  # signed (TSIG-ALLOW-*); empty global allow-* lists keep other.test closed (their defaults are
  # 127.0.0.0/8,::1, and a zone without TSIG-ALLOW-DNSUPDATE would take unsigned updates).
  # Notes: --config-dir keeps /etc/powerdns/pdns.conf (bind backend, setuid=pdns) out of it; an
  # empty security-poll-suffix stops the secpoll query to the system resolver; no primary=yes, so
  # no NOTIFYs to the zone's NS hosts.
  cat >"$DATA/etc/pdns.conf" <<EOF
launch=gsqlite3
gsqlite3-database=$DATA/db/pdns.sqlite3
local-address=$HOST
local-port=$PORT
socket-dir=$DATA/run
daemon=no
guardian=no
disable-syslog=yes
log-timestamp=yes
security-poll-suffix=
webserver=yes
api=yes
api-key=$PDNS_API_KEY
webserver-address=$HOST
webserver-port=$api_port
webserver-allow-from=127.0.0.0/8
enable-lua-records=yes
lua-health-checks-interval=${PDNS_LUA_INTERVAL:-1}
lua-health-checks-expire-delay=${PDNS_LUA_EXPIRE:-3600}
dnsupdate=yes
allow-dnsupdate-from=
allow-axfr-ips=
default-soa-content=ns1.$ZONE. hostmaster.@ 0 3600 600 86400 60
EOF
  launch pdns /usr/sbin/pdns_server "--config-dir=$DATA/etc" "$@"
  SERVER_PID=$LAUNCHED
  API_PORT=$api_port
  wait_ready "$SERVER_PID" pdns pdns_api_ready
  write_facts pdns "$api_port"
}

pdns_api_ready() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -H "X-API-Key: $PDNS_API_KEY" \
    "http://$HOST:$API_PORT/api/v1/servers/localhost/zones/$ZONE." 2>/dev/null || true)
  [[ $code == 200 ]]
}

# --- Knot -------------------------------------------------------------------------------------

cmd_start_knot() {
  [[ $# -eq 2 ]] || usage
  PORT=$2
  [[ -x /usr/sbin/knotd ]] || die "knotd is missing: run '$0 install' first"
  START_US=${EPOCHREALTIME/./}
  STARTED=$SECONDS
  prepare "$1" "$PORT"
  write_zone_file "$ZONE" "$DATA/db/$ZONE.zone"
  write_zone_file "$OTHER_ZONE" "$DATA/db/$OTHER_ZONE.zone"
  # zonefile-sync -1 + journal-content all: updates live in the journal (in db/), the zone files
  # stay as written. database.storage keeps Knot out of /var/lib/knot.
  cat >"$DATA/etc/knot.conf" <<EOF
server:
    rundir: "$DATA/run"
    pidfile: "$DATA/run/knot.pid"
    listen: $HOST@$PORT
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1

log:
  - target: stderr
    any: info

database:
    storage: "$DATA/db"
    journal-db-max-size: 64M
    kasp-db-max-size: 16M
    timer-db-max-size: 16M
    catalog-db-max-size: 16M

control:
    listen: "$DATA/run/knot.sock"

key:
  - id: $TSIG_NAME
    algorithm: $TSIG_ALGORITHM
    secret: $TSIG_SECRET
  - id: $TSIG512_NAME
    algorithm: $TSIG512_ALGORITHM
    secret: $TSIG512_SECRET

acl:
  - id: outlast-update
    address: 127.0.0.0/8
    key: [$TSIG_NAME, $TSIG512_NAME]
    action: [update, transfer]

template:
  - id: default
    storage: "$DATA/db"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: all

zone:
  - domain: $ZONE
    file: "$ZONE.zone"
    acl: outlast-update
  - domain: $OTHER_ZONE
    file: "$OTHER_ZONE.zone"
EOF
  launch knot /usr/sbin/knotd -c "$DATA/etc/knot.conf"
  SERVER_PID=$LAUNCHED
  wait_ready "$SERVER_PID" knot
  write_facts knot
}

# --- BIND -------------------------------------------------------------------------------------

cmd_start_bind() {
  [[ $# -eq 2 ]] || usage
  PORT=$2
  [[ -x /usr/sbin/named ]] || die "named is missing: run '$0 install' first"
  START_US=${EPOCHREALTIME/./}
  STARTED=$SECONDS
  prepare "$1" "$PORT"
  write_zone_file "$ZONE" "$DATA/db/$ZONE.zone"
  write_zone_file "$OTHER_ZONE" "$DATA/db/$OTHER_ZONE.zone"
  # Updates go to db/example.test.zone.jnl. notify no, recursion no, dnssec-validation no: BIND
  # sends nothing anywhere. controls {}: no rndc listener (and no rndc.key needed).
  cat >"$DATA/etc/named.conf" <<EOF
options {
    directory "$DATA/db";
    pid-file "$DATA/run/named.pid";
    session-keyfile "$DATA/run/session.key";
    managed-keys-directory "$DATA/db";
    listen-on port $PORT { $HOST; };
    listen-on-v6 { none; };
    recursion no;
    dnssec-validation no;
    notify no;
    allow-query { any; };
    allow-transfer { key $TSIG_NAME; key $TSIG512_NAME; };
};
controls { };
key "$TSIG_NAME" { algorithm $TSIG_ALGORITHM; secret "$TSIG_SECRET"; };
key "$TSIG512_NAME" { algorithm $TSIG512_ALGORITHM; secret "$TSIG512_SECRET"; };
zone "$ZONE" {
    type primary;
    file "$ZONE.zone";
    update-policy { grant $TSIG_NAME zonesub ANY; grant $TSIG512_NAME zonesub ANY; };
};
zone "$OTHER_ZONE" {
    type primary;
    file "$OTHER_ZONE.zone";
};
EOF
  # -g: foreground, log to stderr; -n 1: one worker thread is plenty for tests and halves the threads.
  launch bind /usr/sbin/named -g -n 1 -c "$DATA/etc/named.conf"
  SERVER_PID=$LAUNCHED
  wait_ready "$SERVER_PID" bind
  write_facts bind
}

cmd_stop() {
  [[ $# -eq 1 ]] || usage
  [[ -d $1 ]] || return 0
  DATA=$(cd "$1" && pwd -P)
  stop_servers
}

case ${1:-} in
install)
  shift
  [[ $# -eq 0 ]] || usage
  cmd_install
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
