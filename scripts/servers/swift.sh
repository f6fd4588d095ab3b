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
# "A port is taken" covers a port found in use before the launch and one lost afterwards to another
# start (or any other process): a daemon that cannot bind (EADDRINUSE in its log, or it dies while
# something else holds its port), and a Swift server that shares its port with a process that is
# not this start's (eventlet binds with SO_REUSEPORT, so both come up); the start then stops what
# it launched and exits 3, and the caller tries PORT+10.
set -euo pipefail

# G1: `python3` on PATH may be pyenv's, which has no `swift` module.
PY=/usr/bin/python3
PACKAGES=(swift swift-proxy swift-object swift-container swift-account memcached curl)
SERVERS=(object container account proxy)

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# What memcached and Swift's servers log when their port is taken (start_failed then exits 3):
# memcached "failed to listen on one of interface(s) IP: Address already in use", Swift (after
# bind_timeout) "Could not bind to IP:PORT after trying for 3 seconds".
IN_USE='address already in use|could not bind|eaddrinuse'
# NAME -> the PID launch gave it.
declare -A PID_OF=()

# The recorded processes, then the tmpfs that choose_fs mounted itself (its objects go with it).
stop_cluster() {
  local rc=0
  stop_recorded || rc=$?
  if [[ -f $DATA/run/mounted ]] && mountpoint -q "$DATA/srv"; then
    umount "$DATA/srv" || log "could not unmount $DATA/srv"
  fi
  rm -f "$DATA/run/mounted"
  return $rc
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

# The port of server NAME (one of SERVERS).
server_port() {
  case $1 in
  object) echo "$OBJECT_PORT" ;;
  container) echo "$CONTAINER_PORT" ;;
  account) echo "$ACCOUNT_PORT" ;;
  proxy) echo "$PORT" ;;
  esac
}

# DATA/etc/NAME-server.conf for every server, from templates/swift-*.conf.tmpl.
write_configs() {
  local etc=$DATA/etc common name
  rm -rf "$etc"
  mkdir -p "$etc"
  common=$(render swift-common.conf.tmpl USER_NAME="$(id -un)")
  for name in object container account; do
    render swift-backend-server.conf.tmpl NAME="$name" BIND_PORT="$(server_port "$name")" \
      COMMON="$common" >"$etc/$name-server.conf"
  done
  render swift-proxy-server.conf.tmpl COMMON="$common" CORS_ORIGIN="${SWIFT_CORS_ORIGIN:-}" \
    S3_CORS_PREFLIGHT="${SWIFT_S3_CORS_PREFLIGHT:-}" >"$etc/proxy-server.conf"
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

http_code() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$@" 2>/dev/null || true
}

# Do this start's processes alone listen on the ports of memcached and the servers (BINDS)?
# Returns 1 (WAITING) while one of them has no listener yet; exits 3 when another process listens
# on one, alone (it won the race for the port, and our server will not bind it) or beside ours
# (SO_REUSEPORT: the kernel would hand it some of our connections).
own_ports() {
  local names=(memcached "${SERVERS[@]}") ports=() pids=() holders=() name i
  for name in "${names[@]}"; do
    ports+=("${BINDS[$name]##*:}")
    pids+=("${PID_OF[$name]}")
  done
  mapfile -t holders < <(port_holders "$IP" "${ports[@]}" -- "${pids[@]}")
  for i in "${!names[@]}"; do
    if [[ ${holders[i]:-} == *" other" ]]; then
      port_lost "${names[i]}" "${BINDS[${names[i]}]}" "$(port_users "$IP" "${ports[i]}") listens on it"
    fi
  done
  for i in "${!names[@]}"; do
    if [[ ${holders[i]:-} != *" ours" ]]; then
      WAITING="${names[i]} listening on ${BINDS[${names[i]}]}"
      return 1
    fi
  done
}

# One pass of the readiness checks (wait_ready's CHECK); sets WAITING to what is missing and
# returns 1 if not ready. Every port must be held by this start's own process alone first, so
# that no answer below comes from another cluster's server.
check_ready() {
  own_ports || return 1
  local name
  for name in "${SERVERS[@]}"; do
    [[ $(curl -s --max-time 2 "http://$IP:$(server_port "$name")/healthcheck" 2>/dev/null || true) == OK ]] || {
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

cmd_start() {
  [[ $# -eq 3 ]] || usage
  start_clock
  IP=$2
  PORT=$3
  [[ $IP =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "IP must be a 127.x.y.z address, not '$IP'"
  require_port "$PORT" 65531
  [[ -f /etc/swift/swift.conf ]] || die "/etc/swift/swift.conf is missing: run '$0 install' first"
  set_data_dir "$1"
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

  BINDS=([memcached]=$IP:$MEMCACHED_PORT)
  local name
  for name in "${SERVERS[@]}"; do BINDS[$name]=$IP:$(server_port "$name"); done

  refuse_if_running cluster
  for name in memcached "${SERVERS[@]}"; do
    if port_listening "$IP" "${BINDS[$name]##*:}"; then
      log "port ${BINDS[$name]} ($name's) is already in use by $(port_users "$IP" "${BINDS[$name]##*:}")"
      exit 3
    fi
  done

  mkdir -p "$DATA/run" "$DATA/log"
  : >"$DATA/run/pids"
  rm -f "$DATA/env" "$DATA/cluster.json"
  stop_on_failure stop_cluster

  choose_fs
  mkdir -p "$DATA/srv/d1"
  write_configs
  rm -f "$DATA"/log/*.log

  # G3: tempauth keeps tokens in memcache; memcached refuses to run as root without -u.
  # -P is only honoured with -d, but puts DATA in the command line that is_ours checks.
  launch memcached /usr/bin/memcached -l "$IP" -p "$MEMCACHED_PORT" -U 0 -m 64 -c 1024 \
    -u "$(id -un)" -P "$DATA/run/memcached.pid"
  PID_OF[memcached]=$LAUNCHED
  # memcached binds without SO_REUSEPORT, within milliseconds: holding its port first makes it the
  # lock of the block, so that of two starts on one IP:PORT the loser gives up (exit 3) before its
  # Swift servers (which would share their ports, SO_REUSEPORT) are launched at all.
  wait_bound memcached "$LAUNCHED" "$IP" "$MEMCACHED_PORT"
  for name in "${SERVERS[@]}"; do
    # The backends need no rings: build them while the backends start, then start the proxy.
    [[ $name == proxy ]] && build_rings
    # -v copies the log to the console (there is no /dev/log here, G7).
    launch "$name" "/usr/bin/swift-$name-server" "$DATA/etc/$name-server.conf" -v
    PID_OF[$name]=$LAUNCHED
  done
  wait_ready "${SWIFT_START_TIMEOUT:-60}" 0.2 check_ready

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
  log "cluster on $BASE_URL ready in $((SECONDS - STARTED))s (fs: $FS)"
  publish_env "$env_text"
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
  install_packages "${PACKAGES[@]}"
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
