#!/usr/bin/env bash
# A real etcd cluster (Debian bookworm's etcd-server, 3.4) for the tests of outlast's watcher cluster.
#
#   etcd.sh install                         install the Debian packages when missing (etcd, and
#                                           faketime and openssl, which the cluster tests use)
#   etcd.sh start DATADIR HOST PORT [N]     N members (default 3) on HOST: member i (1..N) serves
#                                           clients on PORT+2(i-1) and peers on PORT+2(i-1)+1
#   etcd.sh start-member DATADIR I          start member I again, as it was started (after a kill)
#   etcd.sh stop DATADIR                    stop exactly the processes recorded in DATADIR/run/pids
#
# The cluster is new on every `start` (a fresh token, empty data). Members keep their data in
# DATADIR/m<i> (put DATADIR on tmpfs: each member preallocates a 62 MB WAL), with heartbeats every
# 100 ms and an election timeout of 1 s, so a killed raft leader is replaced in about 2 s.
#
# DATADIR holds: etc/m<i>.args (member i's command line, for start-member), log/m<i>.log,
# run/pids ("PID m<i>" lines), env and server.json ({ host, endpoints: [...], members: [{ name,
# clientUrl, peerUrl, pid }], dataDir }). On success `start` prints the env facts as one line.
#
# Optional environment: ETCD_START_TIMEOUT (seconds, default 30).
# Exit codes: 0 ok, 1 failure, 2 usage, 3 a port is taken or DATADIR's cluster is already running.
set -euo pipefail

PACKAGES=(etcd-server etcd-client)
ETCD=/usr/bin/etcd
ETCDCTL=/usr/bin/etcdctl
IN_USE='address already in use|bind: address'

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

client_port() { echo $((PORT + 2 * ($1 - 1))); }
peer_port() { echo $((PORT + 2 * ($1 - 1) + 1)); }

# True when every member answers its health endpoint.
cluster_ready() {
  local endpoints=$1
  if ! ETCDCTL_API=3 "$ETCDCTL" --endpoints="$endpoints" --dial-timeout=1s --command-timeout=2s \
    endpoint health >/dev/null 2>&1; then
    WAITING="every member of $endpoints to answer endpoint health"
    return 1
  fi
}

launch_member() {
  local i=$1 args=()
  mapfile -t args <"$DATA/etc/m$i.args"
  BINDS[m$i]=$HOST:$(client_port "$i")
  launch "m$i" "$ETCD" "${args[@]}"
}

cmd_start() {
  [[ $# -ge 3 && $# -le 4 ]] || usage
  local data_arg=$1 n=${4:-3} i cluster='' endpoints='' token
  HOST=$2
  PORT=$3
  [[ $n =~ ^[1-9]$ ]] || die "N must be 1..9, not '$n'"
  require_port "$PORT" $((65535 - 2 * n))
  [[ -x $ETCD ]] || die "etcd is missing: run '$0 install' first"
  start_clock
  set_data_dir "$data_arg"
  refuse_if_running cluster
  rm -rf "$DATA"/m* "$DATA/run" "$DATA/log" "$DATA/etc"
  mkdir -p "$DATA/run" "$DATA/log" "$DATA/etc"
  : >"$DATA/run/pids"
  for ((i = 1; i <= n; i++)); do
    port_taken "$(client_port "$i")" && port_lost "m$i" "$HOST:$(client_port "$i")" "it is taken"
    port_taken "$(peer_port "$i")" && port_lost "m$i" "$HOST:$(peer_port "$i")" "it is taken"
    cluster+="${cluster:+,}m$i=http://$HOST:$(peer_port "$i")"
    endpoints+="${endpoints:+,}http://$HOST:$(client_port "$i")"
  done
  token="outlast-$(date +%s%N)-$$"
  for ((i = 1; i <= n; i++)); do
    printf '%s\n' --name "m$i" --data-dir "$DATA/m$i" \
      --listen-client-urls "http://$HOST:$(client_port "$i")" \
      --advertise-client-urls "http://$HOST:$(client_port "$i")" \
      --listen-peer-urls "http://$HOST:$(peer_port "$i")" \
      --initial-advertise-peer-urls "http://$HOST:$(peer_port "$i")" \
      --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token "$token" \
      --heartbeat-interval 100 --election-timeout 1000 --logger zap --log-level warn \
      >"$DATA/etc/m$i.args"
  done
  stop_on_failure stop_recorded
  for ((i = 1; i <= n; i++)); do launch_member "$i"; done
  wait_ready "${ETCD_START_TIMEOUT:-30}" 0.1 cluster_ready "$endpoints"
  write_facts "$n" "$endpoints"
  trap - EXIT
}

cmd_start_member() {
  [[ $# -eq 2 ]] || usage
  local i=$2 pid
  [[ -d $1 && -f $1/etc/m$i.args ]] || die "no member $i in $1"
  DATA=$(cd "$1" && pwd -P)
  while read -r pid name; do
    if [[ $name == "m$i" ]] && is_ours "$pid"; then
      log "member m$i is running (pid $pid)"
      exit 3
    fi
  done <"$DATA/run/pids"
  # Dead members' lines go (this one's, and any other killed one's): wait_ready would take a
  # recorded process that is gone for a failed start.
  local live='' p n
  while read -r p n; do
    if is_ours "$p"; then live+="$p $n"$'\n'; fi
  done <"$DATA/run/pids"
  printf '%s' "$live" >"$DATA/run/pids"
  HOST=$(jq -r .host "$DATA/server.json")
  PORT=$(jq -r .port "$DATA/server.json")
  start_clock
  launch_member "$i"
  wait_ready "${ETCD_START_TIMEOUT:-30}" 0.1 cluster_ready "http://$HOST:$(client_port "$i")"
  log "m$i on $HOST:$(client_port "$i") ready again in $(elapsed_ms) ms (pid $LAUNCHED)"
  echo "ETCD_MEMBER=m$i ETCD_MEMBER_PID=$LAUNCHED"
}

# DATADIR/server.json and DATADIR/env, then the one-line summary on stdout.
write_facts() {
  local n=$1 endpoints=$2 members='' i pid name
  for ((i = 1; i <= n; i++)); do
    pid=''
    while read -r p name; do [[ $name == "m$i" ]] && pid=$p; done <"$DATA/run/pids"
    members+="${members:+,
}    { \"name\": \"m$i\", \"clientUrl\": \"http://$HOST:$(client_port "$i")\", \"peerUrl\": \"http://$HOST:$(peer_port "$i")\", \"pid\": $pid }"
  done
  cat >"$DATA/server.json" <<EOF
{
  "host": "$HOST",
  "port": $PORT,
  "endpoints": ["${endpoints//,/\", \"}"],
  "members": [
$members
  ],
  "dataDir": "$DATA"
}
EOF
  log "etcd: $n members on $HOST:$PORT.. ready in $(elapsed_ms) ms"
  publish_env "ETCD_ENDPOINTS=$endpoints
ETCD_DATA_DIR=$DATA"
}

cmd_stop() {
  [[ $# -eq 1 ]] || usage
  [[ -d $1 ]] || return 0
  DATA=$(cd "$1" && pwd -P)
  # The data is thrown away, and a member whose peers are gone can take 5 s to honour SIGTERM
  # (it tries to hand its leadership over first): SIGKILL, then make sure they are gone.
  local pid
  for pid in $(recorded_pids); do
    if is_ours "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
  stop_recorded
}

case ${1:-} in
install)
  shift
  [[ $# -eq 0 ]] || usage
  install_packages "${PACKAGES[@]}" jq faketime openssl
  ;;
start)
  shift
  cmd_start "$@"
  ;;
start-member)
  shift
  cmd_start_member "$@"
  ;;
stop)
  shift
  cmd_stop "$@"
  ;;
*) usage ;;
esac
