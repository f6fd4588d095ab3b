#!/usr/bin/env bash
# A real single-node OpenStack Swift cluster (Debian bookworm's packages) for outlast's tests.
#
#   swift.sh install                 install the Debian packages when missing (fast no-op otherwise)
#   swift.sh start DATADIR IP PORT   start one cluster listening only on IP (a 127.x address)
#   swift.sh stop DATADIR            stop exactly the processes recorded in DATADIR/run/pids
#
# Ports, all on IP: proxy PORT, object PORT+1, container PORT+2, account PORT+3, memcached PORT+4,
# so clusters on different loopback IPs can share PORT.
#
# Everything the cluster owns lives in DATADIR: etc/ (configs and rings, rewritten on every start),
# srv/d1 (the one device), log/<name>.log (truncated on every start), run/pids ("PID name" lines),
# env (KEY=value lines) and cluster.json (the same facts as JSON, in the shape of SwiftCluster in
# test/servers/swift.ts). On success `start` prints the env facts as one line of KEY=value pairs.
#
# Optional environment: SWIFT_FS=auto|dir|tmpfs (where objects are stored, see choose_fs),
# SWIFT_START_TIMEOUT (seconds, default 60), SWIFT_WEB_DOMAIN (domain_remap, default web.localhost),
# SWIFT_CORS_ORIGIN (proxy cors_allow_origin), SWIFT_S3_CORS_PREFLIGHT (s3api
# cors_preflight_allow_origin).
#
# Exit codes: 0 ok, 1 failure, 2 usage, 3 a port is taken or DATADIR's cluster is already running.
set -euo pipefail

# G1: `python3` on PATH may be pyenv's, which has no `swift` module.
PY=/usr/bin/python3
PACKAGES=(swift swift-proxy swift-object swift-container swift-account memcached curl)
SERVERS=(object container account proxy)

log() { printf 'swift.sh: %s\n' "$*" >&2; }
die() {
  log "$*"
  exit 1
}

usage() {
  sed -n '2,7p' "$0" >&2
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
  # Installing memcached and the swift-* servers may start system-wide services on a machine
  # whose init allows it (memcached on 0.0.0.0:11211 would outlive the tests). policy-rc.d
  # (exit 101) is Debian's way to forbid that for the install only; an existing one is kept.
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod 755 "$policy"
    made_policy=1
  fi
  local rc=0
  {
    "${sudo[@]}" apt-get update -qq &&
      "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}"
  } >"$out" 2>&1 || rc=$?
  [[ $made_policy -eq 1 ]] && "${sudo[@]}" rm -f "$policy"
  if [[ $rc -ne 0 ]]; then
    cat "$out" >&2
    rm -f "$out"
    die "apt-get failed (exit $rc)"
  fi
  # Keep warnings and errors visible, drop the usual progress lines.
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
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  state=${stat##*) }
  state=${state%% *}
  [[ $state != Z && $state != X ]] || return 1
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmdline == *"$DATA/"* ]]
}

recorded_pids() {
  [[ -f $DATA/run/pids ]] || return 0
  awk '{print $1}' "$DATA/run/pids"
}

stop_cluster() {
  local pids=() pid deadline
  for pid in $(recorded_pids); do
    if is_ours "$pid"; then
      pids+=("$pid")
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  if [[ ${#pids[@]} -gt 0 ]]; then
    deadline=$((SECONDS + 5))
    while ((SECONDS < deadline)); do
      local alive=0
      for pid in "${pids[@]}"; do is_ours "$pid" && alive=1; done
      [[ $alive -eq 0 ]] && break
      sleep 0.1
    done
    for pid in "${pids[@]}"; do
      if is_ours "$pid"; then
        log "pid $pid ignored SIGTERM, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done
    for _ in $(seq 50); do
      local alive=0
      for pid in "${pids[@]}"; do is_ours "$pid" && alive=1; done
      [[ $alive -eq 0 ]] && break
      sleep 0.1
    done
  fi
  # Only a tmpfs that choose_fs mounted itself is unmounted (its objects go with it).
  if [[ -f $DATA/run/mounted ]] && mountpoint -q "$DATA/srv"; then
    umount "$DATA/srv" || log "could not unmount $DATA/srv"
  fi
  rm -f "$DATA/run/mounted"
}

# Can files under DIR carry user xattrs of SIZE bytes? Swift keeps object metadata in them.
xattrs_ok() {
  "$PY" - "$1" "$2" <<'EOF' 2>/dev/null
import os, sys, tempfile
fd, path = tempfile.mkstemp(dir=sys.argv[1])
try:
    os.setxattr(path, 'user.outlast.probe', b'x' * int(sys.argv[2]))
finally:
    os.close(fd)
    os.unlink(path)
EOF
}

# G5: ext4 holds about 4 KiB of xattrs per inode, so an object with large metadata gets a 507.
# auto: keep DATADIR's filesystem when it takes 8 KB xattrs (tmpfs on kernel >= 6.6, xfs), else
# mount a tmpfs on srv/ when root, else fall back to the plain directory (small metadata works).
choose_fs() {
  local want=${SWIFT_FS:-auto}
  mkdir -p "$DATA/srv"
  if mountpoint -q "$DATA/srv" && [[ -f $DATA/run/mounted ]]; then
    FS=tmpfs
    return
  fi
  case $want in
  dir | auto)
    if xattrs_ok "$DATA/srv" 8192; then
      FS=dir
      return
    fi
    if [[ $want == dir ]]; then
      xattrs_ok "$DATA/srv" 64 || die "$DATA/srv does not support user xattrs, which Swift needs"
      FS=dir
      return
    fi
    ;;
  tmpfs) ;;
  *) die "SWIFT_FS must be auto, dir or tmpfs" ;;
  esac
  if [[ $EUID -eq 0 ]] && mount -t tmpfs -o size=2g,mode=0700 tmpfs "$DATA/srv" 2>/dev/null; then
    touch "$DATA/run/mounted"
    if xattrs_ok "$DATA/srv" 8192; then
      FS=tmpfs
      return
    fi
    umount "$DATA/srv"
    rm -f "$DATA/run/mounted"
  fi
  [[ $want == tmpfs ]] && die "could not mount a tmpfs with user xattrs on $DATA/srv"
  xattrs_ok "$DATA/srv" 64 || die "$DATA/srv does not support user xattrs, which Swift needs"
  log "warning: $DATA/srv keeps only small xattrs; objects with > ~3.9 KB of metadata get 507 (G5)"
  FS=dir
}

port_taken() {
  # A connect that succeeds means something listens there already.
  (exec 3<>"/dev/tcp/$IP/$1") 2>/dev/null
}

write_configs() {
  local etc=$DATA/etc user
  user=$(id -un)
  rm -rf "$etc"
  mkdir -p "$etc"
  # bind_timeout: a server loses a race for its port to another start within seconds, not 30 s.
  local common="bind_ip = $IP
bind_timeout = 3
workers = 0
mount_check = false
disable_fallocate = true
user = $user
swift_dir = $etc
devices = $DATA/srv
log_level = INFO"

  local name port
  for name in object container account; do
    case $name in
    object) port=$OBJECT_PORT ;;
    container) port=$CONTAINER_PORT ;;
    account) port=$ACCOUNT_PORT ;;
    esac
    cat >"$etc/$name-server.conf" <<EOF
[DEFAULT]
bind_port = $port
log_name = $name-server
$common

[pipeline:main]
pipeline = healthcheck $name-server

[app:$name-server]
use = egg:swift#$name
EOF
    cat >>"$etc/$name-server.conf" <<EOF

[filter:healthcheck]
use = egg:swift#healthcheck
EOF
  done

  cat >"$etc/proxy-server.conf" <<EOF
[DEFAULT]
bind_port = $PORT
log_name = proxy-server
cors_allow_origin = ${SWIFT_CORS_ORIGIN:-}
$common

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache domain_remap listing_formats bulk tempurl ratelimit s3api tempauth staticweb copy slo dlo versioned_writes proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
allow_account_management = true
account_autocreate = true
# G5: with the default 60 s, one 507 from the only object node makes every request 503 for a
# minute; 0 also lets a killed and restarted server be used again at once.
error_suppression_interval = 0

[filter:tempauth]
use = egg:swift#tempauth
user_admin_admin = admin .admin .reseller_admin
user_test_tester = testing .admin
user_test_tester3 = testing3
user_test2_tester2 = testing2 .admin
# outlast:swiftdriver is the swift driver's tests' own (test/unit/storage-swift.test.ts revokes its
# token in memcache to test re-login; revoking a shared user's token would break other tests).
user_outlast_swiftdriver = swiftdriver .admin

[filter:s3api]
use = egg:swift#s3api
location = us-east-1
cors_preflight_allow_origin = ${SWIFT_S3_CORS_PREFLIGHT:-}

[filter:staticweb]
use = egg:swift#staticweb

[filter:domain_remap]
use = egg:swift#domain_remap
storage_domain = $WEB_DOMAIN

[filter:cache]
use = egg:swift#memcache
memcache_servers = $IP:$MEMCACHED_PORT

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:bulk]
use = egg:swift#bulk

[filter:tempurl]
use = egg:swift#tempurl

[filter:ratelimit]
use = egg:swift#ratelimit

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo

[filter:versioned_writes]
use = egg:swift#versioned_writes
allow_versioned_writes = true
EOF

}

# One Python run instead of nine swift-ring-builder calls (0.8 s each): 2^8 partitions,
# 1 replica, the single device d1. Only the proxy reads rings.
build_rings() {
  local etc=$DATA/etc
  "$PY" - "$etc" "$IP" "$OBJECT_PORT" "$CONTAINER_PORT" "$ACCOUNT_PORT" <<'EOF'
import sys
from swift.common.ring import RingBuilder
etc, ip = sys.argv[1], sys.argv[2]
for name, port in zip(('object', 'container', 'account'), map(int, sys.argv[3:6])):
    builder = RingBuilder(8, 1, 1)
    builder.add_dev({'id': 0, 'region': 1, 'zone': 1, 'ip': ip, 'port': port,
                     'device': 'd1', 'weight': 100, 'meta': ''})
    builder.rebalance()
    builder.get_ring().save(f'{etc}/{name}.ring.gz')
EOF
}

# Start COMMAND... in its own session (so a Ctrl-C meant for the caller's process group does not
# reach it; `stop` is what ends it), record its PID under NAME.
launch() {
  local name=$1
  shift
  setsid "$@" </dev/null >"$DATA/log/$name.log" 2>&1 &
  local pid=$! i
  echo "$pid $name" >>"$DATA/run/pids"
  # Until the fork has exec'd, its command line is this script's, which is_ours does not
  # recognise: wait for the exec so that every later check (and `stop`) sees the server.
  for ((i = 0; i < 250; i++)); do
    is_ours "$pid" && return 0
    [[ -e /proc/$pid ]] || break
    sleep 0.02
  done
  die "$name (pid $pid) did not start: $(tail -n 5 "$DATA/log/$name.log")"
}

http_code() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$@" 2>/dev/null || true
}

# One pass of the readiness checks; prints what is missing and returns 1 if not ready.
check_ready() {
  local name port
  for name in "${SERVERS[@]}"; do
    case $name in
    object) port=$OBJECT_PORT ;;
    container) port=$CONTAINER_PORT ;;
    account) port=$ACCOUNT_PORT ;;
    proxy) port=$PORT ;;
    esac
    [[ $(curl -s --max-time 2 "http://$IP:$port/healthcheck" 2>/dev/null || true) == OK ]] || {
      WAITING="$name /healthcheck"
      return 1
    }
  done
  local version
  version=$(
    exec 3<>"/dev/tcp/$IP/$MEMCACHED_PORT" || exit 0
    printf 'version\r\n' >&3
    timeout 2 head -c 8 <&3 || true
  ) 2>/dev/null
  [[ $version == VERSION* ]] || {
    WAITING=memcached
    return 1
  }
  local headers token storage
  headers=$(curl -s -D - -o /dev/null --max-time 3 -H "X-Auth-User: $USER1" -H "X-Auth-Key: $KEY1" \
    "$AUTH_URL" 2>/dev/null | tr -d '\r' || true)
  token=$(awk -F': ' 'tolower($1)=="x-auth-token"{print $2}' <<<"$headers")
  storage=$(awk -F': ' 'tolower($1)=="x-storage-url"{print $2}' <<<"$headers")
  [[ -n $token && $storage == "$STORAGE_URL" ]] || {
    WAITING="a tempauth token for $USER1 (storage url '${storage}')"
    return 1
  }
  local probe="$STORAGE_URL/outlast-readiness-$$" code
  code=$(http_code -X PUT -H "X-Auth-Token: $token" "$probe")
  [[ $code == 201 || $code == 202 ]] || {
    WAITING="PUT of a container ($code)"
    return 1
  }
  code=$(http_code -H "X-Auth-Token: $token" "$probe")
  [[ $code == 200 || $code == 204 ]] || {
    WAITING="GET of a container ($code)"
    return 1
  }
  code=$(http_code -X DELETE -H "X-Auth-Token: $token" "$probe")
  [[ $code == 204 ]] || {
    WAITING="DELETE of a container ($code)"
    return 1
  }
}

show_logs() {
  local f
  for f in "$DATA"/log/*.log; do
    [[ -f $f ]] || continue
    printf -- '--- last lines of %s\n' "$f" >&2
    tail -n 15 "$f" >&2
  done
}

cmd_start() {
  [[ $# -eq 3 ]] || usage
  local started=$SECONDS data_arg=$1
  IP=$2
  PORT=$3
  [[ $IP =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "IP must be a 127.x.y.z address, not '$IP'"
  [[ $PORT =~ ^[0-9]+$ ]] && ((PORT >= 1024 && PORT + 4 <= 65535)) || die "PORT must be in 1024..65531"
  [[ $data_arg != *[[:space:]\'\"\$\`\\]* ]] || die "DATADIR must not contain spaces, quotes or \$\`\\"
  [[ -f /etc/swift/swift.conf ]] || die "/etc/swift/swift.conf is missing: run '$0 install' first"
  mkdir -p "$data_arg"
  DATA=$(cd "$data_arg" && pwd -P)
  OBJECT_PORT=$((PORT + 1))
  CONTAINER_PORT=$((PORT + 2))
  ACCOUNT_PORT=$((PORT + 3))
  MEMCACHED_PORT=$((PORT + 4))
  WEB_DOMAIN=${SWIFT_WEB_DOMAIN:-web.localhost}
  BASE_URL="http://$IP:$PORT"
  AUTH_URL="$BASE_URL/auth/v1.0"
  STORAGE_URL="$BASE_URL/v1/AUTH_test"
  USER1=test:tester
  KEY1=testing

  local pid
  for pid in $(recorded_pids); do
    if is_ours "$pid"; then
      log "the cluster in $DATA is already running (pid $pid); stop it first"
      exit 3
    fi
  done
  local port
  for port in "$PORT" "$OBJECT_PORT" "$CONTAINER_PORT" "$ACCOUNT_PORT" "$MEMCACHED_PORT"; do
    if port_taken "$port"; then
      log "port $IP:$port is already in use"
      exit 3
    fi
  done

  mkdir -p "$DATA/run" "$DATA/log"
  : >"$DATA/run/pids"
  rm -f "$DATA/env" "$DATA/cluster.json"
  # From here on, a failure or an interruption stops whatever was started.
  # Signals are ignored during that clean-up, so that a second Ctrl-C cannot cut it short.
  trap 'rc=$?; trap "" INT TERM HUP; trap - EXIT; if [[ $rc -ne 0 ]]; then stop_cluster; fi; exit $rc' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM HUP

  choose_fs
  mkdir -p "$DATA/srv/d1"
  write_configs
  rm -f "$DATA"/log/*.log

  # G3: tempauth keeps tokens in memcache; memcached refuses to run as root without -u.
  # -P is only honoured with -d, but puts DATA in the command line that is_ours checks.
  launch memcached /usr/bin/memcached -l "$IP" -p "$MEMCACHED_PORT" -U 0 -m 64 -c 1024 \
    -u "$(id -un)" -P "$DATA/run/memcached.pid"
  local name
  for name in "${SERVERS[@]}"; do
    # The backends need no rings: build them while the backends start, then start the proxy.
    [[ $name == proxy ]] && build_rings
    # -v copies the log to the console (there is no /dev/log here, G7).
    launch "$name" "/usr/bin/swift-$name-server" "$DATA/etc/$name-server.conf" -v
  done

  local timeout=${SWIFT_START_TIMEOUT:-60}
  WAITING=starting
  while ! check_ready; do
    while read -r pid name; do
      if ! is_ours "$pid"; then
        log "$name (pid $pid) exited during start-up"
        show_logs
        # Another start took the port between our check and the bind: the caller may retry.
        if grep -qiE 'address already in use|could not bind' "$DATA/log/$name.log"; then exit 3; fi
        exit 1
      fi
    done <"$DATA/run/pids"
    if ((SECONDS - started >= timeout)); then
      log "not ready after ${timeout}s: still waiting for $WAITING"
      show_logs
      exit 1
    fi
    sleep 0.2
  done

  local env_text
  env_text="SWIFT_IP=$IP
SWIFT_PORT=$PORT
SWIFT_AUTH_URL=$AUTH_URL
SWIFT_STORAGE_URL=$STORAGE_URL
SWIFT_S3_ENDPOINT=$BASE_URL
SWIFT_S3_REGION=us-east-1
SWIFT_USER=$USER1
SWIFT_KEY=$KEY1
SWIFT_S3_ACCESS_KEY_ID=$USER1
SWIFT_S3_SECRET_ACCESS_KEY=$KEY1
SWIFT_USER2=test2:tester2
SWIFT_KEY2=testing2
SWIFT_STORAGE_URL2=$BASE_URL/v1/AUTH_test2
SWIFT_WEB_DOMAIN=$WEB_DOMAIN
SWIFT_MEMCACHED_PORT=$MEMCACHED_PORT
SWIFT_FS=$FS
SWIFT_DATA_DIR=$DATA"
  printf '%s\n' "$env_text" >"$DATA/env"
  cat >"$DATA/cluster.json" <<EOF
{
  "ip": "$IP",
  "port": $PORT,
  "authUrl": "$AUTH_URL",
  "storageUrl": "$STORAGE_URL",
  "s3Endpoint": "$BASE_URL",
  "s3Region": "us-east-1",
  "user": "$USER1",
  "key": "$KEY1",
  "s3AccessKeyId": "$USER1",
  "s3SecretAccessKey": "$KEY1",
  "user2": "test2:tester2",
  "key2": "testing2",
  "storageUrl2": "$BASE_URL/v1/AUTH_test2",
  "webDomain": "$WEB_DOMAIN",
  "dataDir": "$DATA"
}
EOF
  log "cluster on $BASE_URL ready in $((SECONDS - started))s (fs: $FS)"
  tr '\n' ' ' <<<"$env_text" | sed 's/ $//'
  echo
}

cmd_stop() {
  [[ $# -eq 1 ]] || usage
  [[ -d $1 ]] || return 0
  DATA=$(cd "$1" && pwd -P)
  stop_cluster
}

case ${1:-} in
install)
  shift
  [[ $# -eq 0 ]] || usage
  cmd_install
  ;;
start)
  shift
  cmd_start "$@"
  ;;
stop)
  shift
  cmd_stop "$@"
  ;;
*) usage ;;
esac
