# shellcheck shell=bash
# What the server scripts of this folder (dns.sh, swift.sh, browser.sh) share; sourced, not run.
#
#   messages      log, die, usage (the script's header comment)
#   packages      install_packages: apt-get, without letting a package start a system-wide daemon
#   processes     set_data_dir, launch, is_ours, stop_recorded, refuse_if_running, stop_on_failure,
#                 show_logs, start_failed: every process a start launches is recorded in
#                 DATA/run/pids ("PID name" lines) and stopped by that PID only, after checking it
#                 is still ours
#   ports         require_port, port_sockets, port_taken, port_listening, owns_port, sole_owner,
#                 port_holder, port_users, port_lost, wait_bound
#   readiness     start_clock, elapsed_ms, wait_ready
#   configs       render: templates/NAME with ${VAR}s filled in
#   facts         publish_env: DATA/env, and its facts as one line on stdout
#
# Globals: DATA (the absolute data dir, set by set_data_dir), LAUNCHED (the PID launch started),
# STARTED and START_US (start_clock), WAITING and TIMEOUT_EXIT (set by wait_ready's check), IN_USE
# (a script may put its servers' own words in it), BINDS (NAME -> the HOST:PORT that the process
# launched as NAME listens on, when the script tells: a death at start-up while something else
# holds that port is a lost port, exit 3).

SERVERS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
TEMPLATES=$SERVERS_DIR/templates
SCRIPT_NAME=${0##*/}
DATA=''
# A log line that means a server could not bind its port (start_failed then exits 3, "port taken").
IN_USE='address (already )?in use|eaddrinuse'
declare -gA BINDS=()

# --- messages ---------------------------------------------------------------------------------

log() { printf '%s: %s\n' "$SCRIPT_NAME" "$*" >&2; }
die() {
  log "$*"
  exit 1
}

# The script's header comment up to its second bare `#` line (the list of commands), then exit 2.
usage() {
  awk 'NR == 1 { next } /^#$/ && ++bare == 2 { exit } { print }' "$0" >&2
  exit 2
}

# --- packages ---------------------------------------------------------------------------------

# Installs those of PACKAGE... that dpkg does not have yet (a fast no-op when it has them all), as
# root or through sudo.
install_packages() {
  local missing=() pkg status
  for pkg in "$@"; do
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
  # On a host whose init may start services, installing pdns-server, knot, bind9, memcached or
  # the swift-* servers starts a system-wide daemon (on port 53, or memcached on 0.0.0.0:11211,
  # which would outlive the tests). policy-rc.d (exit 101) is Debian's way to forbid that for the
  # install only; an existing one is kept. (With systemd they would still be enabled for the next
  # boot: `systemctl disable pdns knot named memcached` there.)
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
  # Another apt run (another of these scripts' install, say) may hold the lists lock, and
  # `apt-get update` does not wait for it (DPkg::Lock::Timeout covers only the dpkg lock that
  # `install` takes): retry while the failure is about a lock, for up to 10 minutes.
  while true; do
    rc=0
    "${sudo[@]}" apt-get update -qq >"$out" 2>&1 || rc=$?
    if [[ $rc -eq 0 ]] || ! grep -qi 'could not get lock' "$out" || ((++tries >= 120)); then break; fi
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
  # Keep warnings and errors visible, drop the usual progress lines.
  grep -Ei '^(E:|W:|dpkg: error)' "$out" >&2 || true
  rm -f "$out"
  log "installed ${missing[*]}"
}

# --- processes --------------------------------------------------------------------------------

# DATA := the absolute path of DIR, created if need be. Configs and command lines hold it
# unquoted, hence the characters it may not contain.
set_data_dir() {
  [[ $1 != *[[:space:]\'\"\$\`\\]* ]] || die "DATADIR must not contain spaces, quotes or \$\`\\"
  mkdir -p "$1"
  DATA=$(cd "$1" && pwd -P)
}

# True when PID is a live process (not a zombie). Builtins only: wait_ready runs this for every
# recorded process on every pass, and forks cost tens of ms each on a busy machine.
alive() {
  local pid=$1 stat='' state
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  { read -r stat <"/proc/$pid/stat"; } 2>/dev/null || [[ -n $stat ]] || return 1
  state=${stat##*) }
  state=${state%% *}
  [[ $state != Z && $state != X ]]
}

# True when PID is a live (not zombie) process whose command line mentions DATA: the check that
# keeps a reused PID from being killed.
is_ours() {
  local pid=$1 args=() IFS=' ' i
  for ((i = 0; i < 100; i++)); do
    alive "$pid" || return 1
    { mapfile -d '' args <"/proc/$pid/cmdline"; } 2>/dev/null || return 1
    # An empty command line is a live process between two programs: execve has replaced its
    # memory and not yet set the new arguments (setsid's exec of the server, under load, for
    # milliseconds). Ask again, for up to 1 s, rather than take it for a stranger or a death.
    ((${#args[@]} == 0)) || break
    sleep 0.01
  done
  [[ "${args[*]} " == *"$DATA/"* ]]
}

recorded_pids() {
  [[ -f $DATA/run/pids ]] || return 0
  awk '{print $1}' "$DATA/run/pids"
}

# Exits 3 when a process recorded in DATA is still running: WHAT ("server", "cluster") in DATA
# must be stopped before it is started again.
refuse_if_running() {
  local pid
  for pid in $(recorded_pids); do
    if is_ours "$pid"; then
      log "the $1 in $DATA is already running (pid $pid); stop it first"
      exit 3
    fi
  done
}

# Sends SIGTERM to every recorded process that is still ours, SIGKILL to those left after 5 s;
# fails when one outlives that by 5 s more.
stop_recorded() {
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

# From here on, a failure or an interruption runs STOP (a command that stops whatever was started).
# Signals are ignored during that clean-up, so that a second Ctrl-C cannot cut it short.
stop_on_failure() {
  # shellcheck disable=SC2064 # STOP is expanded now on purpose
  trap "rc=\$?; trap '' INT TERM HUP; trap - EXIT; if [[ \$rc -ne 0 ]]; then $1 || true; fi; exit \$rc" EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM HUP
}

# Starts COMMAND... in its own session (a Ctrl-C meant for the caller's process group does not
# reach it; `stop` is what ends it), its output in DATA/log/NAME.log, and records its PID under
# NAME; LAUNCHED := that PID. A process that ends at once is start_failed's (exit 3 when it lost
# its port: a server that cannot bind may exit before the exec is even seen).
launch() {
  local name=$1 i
  shift
  setsid "$@" </dev/null >"$DATA/log/$name.log" 2>&1 &
  local pid=$!
  echo "$pid $name" >>"$DATA/run/pids"
  # Until the fork has exec'd, its command line is this script's, which is_ours does not
  # recognise: wait for the exec so that every later check (and `stop`) sees the server.
  # setsid's own command line names DATA too: wait until it has exec'd the server itself.
  for ((i = 0; i < 250; i++)); do
    if is_ours "$pid" && [[ $(readlink "/proc/$pid/exe" 2>/dev/null) != */setsid ]]; then
      # shellcheck disable=SC2034 # the sourcing script's
      LAUNCHED=$pid
      return 0
    fi
    alive "$pid" || start_failed "$name" "$pid"
    sleep 0.02
  done
  die "$name (pid $pid) did not start: $(tail -n 5 "$DATA/log/$name.log")"
}

# NAME (PID) ended during start-up: exit 3 (port_lost) when it lost its port, that is when its
# log says it could not bind (IN_USE) or when its port (BINDS[NAME]) is now held by a process
# that is not one of this start's; else exit 1. Either way the caller's stop_on_failure trap
# stops what this start launched.
start_failed() {
  local name=$1 pid=$2 bind=${BINDS[$1]:-} line
  line=$(grep -iE "$IN_USE" "$DATA/log/$name.log" 2>/dev/null | tail -n 1 || true)
  if [[ -n $line ]]; then
    port_lost "$name" "$bind" "$name (pid $pid) could not bind it: $line"
  fi
  if [[ -n $bind ]]; then
    # shellcheck disable=SC2046 # one word per PID
    if [[ $(port_holder "${bind%:*}" "${bind##*:}" $(recorded_pids)) == other ]]; then
      port_lost "$name" "$bind" "$name (pid $pid) exited while $(port_users "${bind%:*}" "${bind##*:}") listens on it"
    fi
  fi
  log "$name (pid $pid) exited during start-up"
  show_logs
  exit 1
}

# The last lines of every log in DATA/log, on stderr.
show_logs() {
  local f
  for f in "$DATA"/log/*.log; do
    [[ -f $f ]] || continue
    printf -- '--- last lines of %s\n' "$f" >&2
    tail -n 20 "$f" >&2
  done
}

# --- ports ------------------------------------------------------------------------------------

# Dies unless PORT is a number in 1024..MAX (default 65535).
require_port() {
  local max=${2:-65535}
  if [[ ! $1 =~ ^[0-9]+$ ]] || (($1 < 1024 || $1 > max)); then
    die "ports must be in 1024..$max, not '$1'"
  fi
}

# Sockets bound to PORT... (UDP, and TCP in LISTEN), as "proto local-address inode" lines. ss asks
# the kernel through netlink with the filter applied there: reading /proc/net/tcp takes 0.1-0.2 s
# with the tens of thousands of TIME_WAIT sockets a test run leaves, and ss -p reads every
# process's fds.
port_sockets() {
  local filter="sport = :$1" port
  shift
  for port in "$@"; do filter+=" or sport = :$port"; done
  # Parsed with read, not awk: one process less per call, on every pass of a readiness loop.
  local netid addr rest fields field inode
  while read -r netid _ _ _ addr _ rest; do
    read -ra fields <<<"$rest"
    inode=''
    for field in "${fields[@]}"; do [[ $field != ino:* ]] || inode=${field#ino:}; done
    echo "$netid $addr $inode"
  done < <(ss -H -tulne "( $filter )" 2>/dev/null)
}

# Is anything bound to PORT (TCP listening or UDP) on any address? Conservative on purpose: a
# wildcard socket on the port would steal or share our queries.
port_taken() {
  [[ -n $(port_sockets "$1") ]]
}

# Does something accept TCP connections on IP:PORT? (Servers on other loopback addresses may hold
# the same port.)
port_listening() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# Does PID own both the UDP and the listening TCP socket on HOST:PORT? (Not someone else's server
# that answers in our stead; BIND, for one, keeps running when its bind() fails.)
owns_port() {
  local pid=$1 host=$2 port=$3 fds proto addr inode udp=0 tcp=0
  fds=$(ls -l "/proc/$pid/fd" 2>/dev/null) || return 1
  while read -r proto addr inode; do
    [[ $addr == "$host:$port" && $fds == *"socket:[$inode]"* ]] || continue
    [[ $proto == udp ]] && udp=1
    [[ $proto == tcp ]] && tcp=1
  done < <(port_sockets "$port")
  [[ $udp -eq 1 && $tcp -eq 1 ]]
}

# Who listens for TCP on HOST:PORT, or on the wildcard address of PORT (which takes HOST's
# connections too), for each PORT... given before `--`? Prints one "PORT HOLDER" line per PORT, in
# order, HOLDER being `none`; `ours` when every such socket belongs to one of PID... (after `--`);
# or `other` when any belongs to another process, which then won the race for the port or shares
# it (SO_REUSEPORT, which eventlet sets on Swift's sockets and BIND and Knot on theirs, lets two
# servers of one user listen on one port, and the kernel splits the connections between them).
# One ss and one ls for all the ports.
port_holders() {
  local host=$1 ports=() dirs=() sockets fds='' port pid proto addr inode
  local -A holder=()
  shift
  while [[ $# -gt 0 && $1 != -- ]]; do
    ports+=("$1")
    holder[$1]=none
    shift
  done
  [[ $# -eq 0 ]] || shift
  # The sockets first, the fds after: a socket's fd exists before it is bound, so a socket that a
  # PID opens meanwhile is never taken for someone else's.
  sockets=$(port_sockets "${ports[@]}")
  if [[ -n $sockets ]]; then
    for pid in "$@"; do [[ ! $pid =~ ^[0-9]+$ ]] || dirs+=("/proc/$pid/fd"); done
    [[ ${#dirs[@]} -eq 0 ]] || fds=$(ls -l "${dirs[@]}" 2>/dev/null || true)
  fi
  while read -r proto addr inode; do
    port=${addr##*:}
    [[ $proto == tcp && -v holder[$port] ]] || continue
    [[ $addr == "$host:$port" || $addr == "0.0.0.0:$port" || $addr == "[::]:$port" || $addr == "*:$port" ]] || continue
    if [[ -n $inode && $fds == *"socket:[$inode]"* ]]; then
      [[ ${holder[$port]} == other ]] || holder[$port]=ours
    else
      holder[$port]=other
    fi
  done <<<"$sockets"
  for port in "${ports[@]}"; do echo "$port ${holder[$port]}"; done
}

# port_holders for one port: prints none, ours or other.
port_holder() {
  local host=$1 port=$2 line
  shift 2
  line=$(port_holders "$host" "$port" -- "$@")
  echo "${line#* }"
}

# The processes listening for TCP on HOST:PORT (or its wildcard address), for messages: "COMM pid
# N" words as `ss -p` sees them, or "another process" (a socket without a visible owner, of another
# user, or one that is bound without listening).
port_users() {
  local host=$1 port=$2 users
  users=$(ss -H -tlnp "sport = :$port" 2>/dev/null | awk -v a="$host:$port" -v p=":$port" '
    $4 == a || $4 == "0.0.0.0" p || $4 == "[::]" p || $4 == "*" p {
      s = $0
      while (match(s, /"[^"]*",pid=[0-9]+/)) {
        w = substr(s, RSTART, RLENGTH); s = substr(s, RSTART + RLENGTH)
        gsub(/"/, "", w); sub(/,pid=/, " pid ", w); out = out (out == "" ? "" : ", ") w
      }
    }
    END { print out }')
  echo "${users:-another process}"
}

# The start lost NAME's port HOST:PORT (empty when the script did not say which) to another
# process: says so, shows the logs, and exits 3, on which the caller tries other ports.
port_lost() {
  local name=$1 bind=$2 what
  if [[ -n $bind ]]; then what="port $bind ($name's)"; else what="a port of $name"; fi
  log "$what is taken: $3; giving up the start (exit 3)"
  show_logs
  exit 3
}

# Waits (up to 10 s) until NAME (PID) alone listens on HOST:PORT; exit 3 when another process
# holds the port (port_lost), start_failed when PID ends. A server that takes its port first this
# way is a lock on the port for the servers launched after it.
wait_bound() {
  local name=$1 pid=$2 host=$3 port=$4 deadline=$((${EPOCHREALTIME/./} + 10000000))
  while true; do
    is_ours "$pid" || start_failed "$name" "$pid"
    case $(port_holder "$host" "$port" "$pid") in
    ours) return 0 ;;
    other) port_lost "$name" "$host:$port" "$(port_users "$host" "$port") listens on it" ;;
    esac
    ((${EPOCHREALTIME/./} < deadline)) || die "$name (pid $pid) did not listen on $host:$port within 10 s"
    sleep 0.02
  done
}

# True when no other process has a socket on HOST:PORT. BIND and Knot bind with SO_REUSEPORT, so
# two servers started at once on one port both come up and the kernel splits the queries between
# them; the loser of such a race must see it and give the port up (exit 3, the caller tries another).
sole_owner() {
  local pid=$1 host=$2 port=$3 fds proto addr inode
  fds=$(ls -l "/proc/$pid/fd" 2>/dev/null) || return 1
  while read -r proto addr inode; do
    [[ $addr == "$host:$port" ]] || continue
    [[ $fds == *"socket:[$inode]"* ]] || return 1
  done < <(port_sockets "$port")
  return 0
}

# --- readiness --------------------------------------------------------------------------------

start_clock() {
  STARTED=$SECONDS
  START_US=${EPOCHREALTIME/./}
}

elapsed_ms() { echo $(((${EPOCHREALTIME/./} - START_US) / 1000)); }

# Polls CHECK... every INTERVAL seconds until it passes. CHECK sets WAITING to what it still waits
# for, and TIMEOUT_EXIT to 3 when that is because something else holds our port. A recorded
# process that exits meanwhile ends the start (start_failed: exit 3 when it lost its port, else 1).
# After TIMEOUT seconds since start_clock, exit TIMEOUT_EXIT (default 1).
wait_ready() {
  local timeout=$1 interval=$2 pid name
  shift 2
  WAITING=starting
  TIMEOUT_EXIT=1
  while true; do
    while read -r pid name; do
      # Another start may have taken the port between our check and the bind: then exit 3, and
      # the caller retries elsewhere.
      is_ours "$pid" || start_failed "$name" "$pid"
    done <"$DATA/run/pids"
    "$@" && return 0
    if ((SECONDS - STARTED >= timeout)); then
      log "not ready after ${timeout}s: still waiting for $WAITING"
      show_logs
      exit "$TIMEOUT_EXIT"
    fi
    sleep "$interval"
  done
}

# --- configs ----------------------------------------------------------------------------------

# render NAME [VAR=value...]: prints templates/NAME with every ${VAR} replaced by the value of
# the shell variable VAR (upper case; the VAR=value arguments set some for this call only; an unset
# VAR is an error, so that a typo does not become an empty setting), and without the template's
# lines that start with `##` (its own comments). Nothing else is expanded: $VAR without braces,
# $(...) and backslashes stay as they are, and a value is inserted as it is.
render() {
  local file=$TEMPLATES/$1 text out='' var
  shift
  for var in "$@"; do [[ $var =~ ^[A-Z_][A-Z0-9_]*= ]] || die "render: '$var' is not VAR=value"; done
  [[ $# -eq 0 ]] || local -- "$@"
  [[ -f $file ]] || die "no template $file"
  text=$(sed '/^##/d' "$file")
  while [[ $text =~ \$\{([A-Z_][A-Z0-9_]*)\} ]]; do
    var=${BASH_REMATCH[1]}
    [[ -v $var ]] || die "${file##*/}: \${$var} is not set"
    out+=${text%%"${BASH_REMATCH[0]}"*}${!var}
    text=${text#*"${BASH_REMATCH[0]}"}
  done
  printf '%s\n' "$out$text"
}

# --- facts ------------------------------------------------------------------------------------

# Writes ENV_TEXT (KEY=value lines) to DATA/env and prints it on stdout as one line of KEY=value
# pairs, which is what `start` answers on success.
publish_env() {
  printf '%s\n' "$1" >"$DATA/env"
  tr '\n' ' ' <<<"$1" | sed 's/ $//'
  echo
}
