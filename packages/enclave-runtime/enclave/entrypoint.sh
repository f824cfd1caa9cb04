#!/usr/bin/env bash
# custody-enclave-entrypoint — start-up of the enclave-custody enclave (the image's command).
#
# Node has no vsock sockets, so the enclave's network is socat bridges around a loopback-only runtime:
#   1. `lo` up, kms.<region>.amazonaws.com → 127.0.0.1 and secretsmanager.<region>.amazonaws.com → 127.0.0.2 in
#      /etc/hosts (TLS still verifies the real names; two loopback addresses, so both stay on port 443 and the
#      runtime uses the regional endpoints unchanged);
#   2. socat TCP-LISTEN:127.0.0.1:5002 → VSOCK-CONNECT:3:5010  (the log channel: JSON lines to the parent's
#      log receiver; best effort, never waited for);
#   3. node dist/bin/seed-rng.js: the kernel RNG seeded from the NSM (GetRandom → RNDADDENTROPY), in a process
#      of its own and before the runtime starts, because Node seeds OpenSSL's generator — which makes the
#      runtime's RSA key — from the kernel at process start; nothing else starts unless it succeeds;
#   4. socat VSOCK-LISTEN:5000 → TCP 127.0.0.1:5001   (the parent proxy's connections → the runtime)
#      socat TCP-LISTEN:127.0.0.1:443 → VSOCK-CONNECT:3:8000   (the runtime → KMS, via the parent's vsock-proxy)
#      socat TCP-LISTEN:127.0.0.2:443 → VSOCK-CONNECT:3:8001   (the runtime → Secrets Manager, where it reads
#                                                                signing policies, via the parent's second vsock-proxy)
#   5. the runtime: node dist/bin/enclave.js --port 5001 --sealing kms --attestation nsm --region … --kms-key-arn …
#      --log-port 5002
# It supervises the five long-lived processes: SIGTERM/SIGINT stop them in order (no new connections, drain
# the runtime, then the KMS and Secrets Manager bridges, then the log bridge) and exit 0; if any of them exits on its own, the
# others are stopped and this script exits non-zero (the runtime's own status when it failed), which ends
# the enclave so that the parent's custody-enclave.service restarts it. Its own log lines go to stderr and,
# once the log bridge runs, to the log channel too.
#
# Environment (the image sets the first three; the rest have production defaults):
#   CUSTODY_REGION                 required, e.g. us-east-1
#   CUSTODY_KMS_KEY_ID             required, the pinned sealing key: full key ARN in CUSTODY_REGION
#   CUSTODY_APP_DIR                the deployed runtime (dist/, node_modules/)              [/opt/enclave-custody/runtime]
#   CUSTODY_ENCLAVE_VSOCK_PORT     vsock port the parent proxy connects to                  [5000]
#   CUSTODY_ENCLAVE_PORT           loopback TCP port of the runtime                         [5001]
#   CUSTODY_KMS_PROXY_CID          vsock CID of the parent                                  [3]
#   CUSTODY_KMS_PROXY_PORT         vsock port of the parent's vsock-proxy                   [8000]
#   CUSTODY_KMS_LOCAL_PORT         loopback port the KMS hostname is served on              [443]
#   CUSTODY_SECRETS_PROXY_PORT     vsock port of the parent's Secrets Manager vsock-proxy   [8001]
#   CUSTODY_SECRETS_LOCAL_ADDRESS  loopback address the Secrets Manager hostname maps to    [127.0.0.2]
#   CUSTODY_SECRETS_LOCAL_PORT     port the Secrets Manager hostname is served on           [443]
#   CUSTODY_LOG_VSOCK_PORT         vsock port of the parent's log receiver bridge           [5010]
#   CUSTODY_LOG_LOCAL_PORT         loopback port the runtime sends log lines to             [5002]
#   CUSTODY_HOSTS_FILE             hosts file to add the KMS mapping to                     [/etc/hosts]
#   CUSTODY_NODE                   node executable                                          [node]
#   CUSTODY_STOP_TIMEOUT           seconds each process gets to stop before SIGKILL         [10]
#   CUSTODY_BRIDGE_TRANSPORT       vsock | tcp                                              [vsock]
#     `tcp` is for tests outside an enclave only: the bridges use TCP on 127.0.0.1 (listen on
#     CUSTODY_ENCLAVE_VSOCK_PORT, connect to CUSTODY_KMS_PROXY_PORT, CUSTODY_SECRETS_PROXY_PORT and
#     CUSTODY_LOG_VSOCK_PORT) and `lo` is left alone. The image's environment
#     is measured into PCR0, so a production image cannot carry it unnoticed.
set -uo pipefail

CUSTODY_REGION="${CUSTODY_REGION:-}"
CUSTODY_KMS_KEY_ID="${CUSTODY_KMS_KEY_ID:-}"
APP_DIR="${CUSTODY_APP_DIR:-/opt/enclave-custody/runtime}"
VSOCK_PORT="${CUSTODY_ENCLAVE_VSOCK_PORT:-5000}"
RUNTIME_PORT="${CUSTODY_ENCLAVE_PORT:-5001}"
KMS_PROXY_CID="${CUSTODY_KMS_PROXY_CID:-3}"
KMS_PROXY_PORT="${CUSTODY_KMS_PROXY_PORT:-8000}"
KMS_LOCAL_PORT="${CUSTODY_KMS_LOCAL_PORT:-443}"
SECRETS_PROXY_PORT="${CUSTODY_SECRETS_PROXY_PORT:-8001}"
SECRETS_LOCAL_ADDRESS="${CUSTODY_SECRETS_LOCAL_ADDRESS:-127.0.0.2}"
SECRETS_LOCAL_PORT="${CUSTODY_SECRETS_LOCAL_PORT:-443}"
LOG_PROXY_PORT="${CUSTODY_LOG_VSOCK_PORT:-5010}"
LOG_LOCAL_PORT="${CUSTODY_LOG_LOCAL_PORT:-5002}"
HOSTS_FILE="${CUSTODY_HOSTS_FILE:-/etc/hosts}"
NODE_BIN="${CUSTODY_NODE:-node}"
STOP_TIMEOUT="${CUSTODY_STOP_TIMEOUT:-10}"
TRANSPORT="${CUSTODY_BRIDGE_TRANSPORT:-vsock}"

# One JSON line per event on stderr, like the runtime's pino logs, and on the log channel once its bridge
# runs. Messages are fixed text and numbers.
log_bridge_up=false
log() {
  local line
  line="$(printf '{"level":"%s","time":%s,"svc":"entrypoint","msg":"%s"}' "$1" "$(date +%s%3N)" "$2")"
  printf '%s\n' "$line" >&2
  send_log "$line"
}
# Send one line to the log channel: a connection of its own to the log bridge, given up after 2 s and
# silently when nothing listens (the parent may be absent: this never holds the enclave up).
send_log() {
  $log_bridge_up || return 0
  # shellcheck disable=SC2016 # $1 and $2 expand in the inner shell
  timeout 2 bash -c 'printf "%s\n" "$1" >"/dev/tcp/127.0.0.1/$2"' send-log "$1" "$LOG_LOCAL_PORT" 2>/dev/null || true
}
die() {
  log error "$1"
  exit 2
}

# ---------------------------------------------------------------------------------------- configuration
[[ "$CUSTODY_REGION" =~ ^[a-z]{2}(-[a-z]+)+-[0-9]+$ ]] || die "CUSTODY_REGION must be an AWS region such as us-east-1"
# The runtime checks it again (checkKmsKeyArn); failing here names the problem before anything starts.
key_arn_re='^arn:aws(-[a-z]+)*:kms:([a-z]{2}(-[a-z]+)+-[0-9]{1,2}):([0-9]{12}):key/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$'
[[ "$CUSTODY_KMS_KEY_ID" =~ $key_arn_re ]] || die "CUSTODY_KMS_KEY_ID must be the full key ARN of the sealing key (no alias, no bare key id)"
[[ "${BASH_REMATCH[2]}" == "$CUSTODY_REGION" ]] || die "CUSTODY_KMS_KEY_ID must be a key in CUSTODY_REGION"
for port in "$VSOCK_PORT" "$RUNTIME_PORT" "$KMS_PROXY_PORT" "$KMS_LOCAL_PORT" "$SECRETS_PROXY_PORT" "$SECRETS_LOCAL_PORT" "$LOG_PROXY_PORT" "$LOG_LOCAL_PORT"; do
  if ! [[ "$port" =~ ^[0-9]{1,5}$ ]] || ((10#$port < 1 || 10#$port > 65535)); then die "ports must be integers 1..65535"; fi
done
[[ "$KMS_PROXY_CID" =~ ^[0-9]{1,10}$ ]] || die "CUSTODY_KMS_PROXY_CID must be a vsock CID"
# Another loopback address than KMS's, so that both names are served on the same port.
[[ "$SECRETS_LOCAL_ADDRESS" =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ && "$SECRETS_LOCAL_ADDRESS" != 127.0.0.1 ]] ||
  die "CUSTODY_SECRETS_LOCAL_ADDRESS must be a loopback address other than 127.0.0.1"
[[ "$STOP_TIMEOUT" =~ ^[0-9]{1,4}$ ]] || die "CUSTODY_STOP_TIMEOUT must be whole seconds"
# At most 64 bridged connections at once, the runtime's own connection cap (ENCLAVE_SERVER_LIMITS): beyond it
# socat stops accepting (they wait in the backlog) instead of forking a process per connection.
BRIDGE_MAX_CHILDREN=64
case "$TRANSPORT" in
  vsock)
    INBOUND_LISTEN="VSOCK-LISTEN:${VSOCK_PORT},fork,reuseaddr,max-children=${BRIDGE_MAX_CHILDREN}"
    KMS_UPSTREAM="VSOCK-CONNECT:${KMS_PROXY_CID}:${KMS_PROXY_PORT}"
    SECRETS_UPSTREAM="VSOCK-CONNECT:${KMS_PROXY_CID}:${SECRETS_PROXY_PORT}"
    LOG_UPSTREAM="VSOCK-CONNECT:${KMS_PROXY_CID}:${LOG_PROXY_PORT}"
    ;;
  tcp)
    INBOUND_LISTEN="TCP-LISTEN:${VSOCK_PORT},bind=127.0.0.1,fork,reuseaddr,max-children=${BRIDGE_MAX_CHILDREN}"
    KMS_UPSTREAM="TCP:127.0.0.1:${KMS_PROXY_PORT}"
    SECRETS_UPSTREAM="TCP:127.0.0.1:${SECRETS_PROXY_PORT}"
    LOG_UPSTREAM="TCP:127.0.0.1:${LOG_PROXY_PORT}"
    ;;
  *) die "CUSTODY_BRIDGE_TRANSPORT must be vsock or tcp" ;;
esac
RUNTIME_MAIN="${APP_DIR}/dist/bin/enclave.js"
SEED_MAIN="${APP_DIR}/dist/bin/seed-rng.js"
[[ -f "$RUNTIME_MAIN" ]] || die "the runtime is missing: no dist/bin/enclave.js under CUSTODY_APP_DIR"
[[ -f "$SEED_MAIN" ]] || die "the RNG seeder is missing: no dist/bin/seed-rng.js under CUSTODY_APP_DIR"
command -v socat >/dev/null 2>&1 || die "socat is not installed"
command -v "$NODE_BIN" >/dev/null 2>&1 || die "node is not installed"
KMS_HOST="kms.${CUSTODY_REGION}.amazonaws.com"
SECRETS_HOST="secretsmanager.${CUSTODY_REGION}.amazonaws.com"

# -------------------------------------------------------------------------------------------- network
if [[ "$TRANSPORT" == vsock ]]; then
  command -v ip >/dev/null 2>&1 || die "ip (iproute2) is not installed"
  ip link set dev lo up || die "cannot bring the loopback interface up"
fi
# Whether the hosts file maps name $1 to address $2 (on any line, among any aliases).
maps_to() {
  [[ -f "$HOSTS_FILE" ]] && awk -v name="$1" -v addr="$2" '$1 == addr { for (i = 2; i <= NF; i++) if ($i == name) found = 1 } END { exit !found }' "$HOSTS_FILE"
}
# Whether the hosts file maps name $1 to any address but $2 (comments aside).
maps_elsewhere() {
  [[ -f "$HOSTS_FILE" ]] && awk -v name="$1" -v addr="$2" '$1 != addr && $1 !~ /^#/ { for (i = 2; i <= NF; i++) if ($i == name) found = 1 } END { exit !found }' "$HOSTS_FILE"
}
# getaddrinfo takes the first matching line: another address for either name would bypass its bridge.
maps_elsewhere "$KMS_HOST" 127.0.0.1 && die "the hosts file maps the KMS endpoint to another address"
maps_elsewhere "$SECRETS_HOST" "$SECRETS_LOCAL_ADDRESS" && die "the hosts file maps the Secrets Manager endpoint to another address"
missing_hosts=()
maps_to localhost 127.0.0.1 || missing_hosts+=("127.0.0.1 localhost")
maps_to "$KMS_HOST" 127.0.0.1 || missing_hosts+=("127.0.0.1 ${KMS_HOST}")
maps_to "$SECRETS_HOST" "$SECRETS_LOCAL_ADDRESS" || missing_hosts+=("${SECRETS_LOCAL_ADDRESS} ${SECRETS_HOST}")
for line in "${missing_hosts[@]}"; do
  printf '%s\n' "$line" >>"$HOSTS_FILE" || die "cannot write the hosts file"
done

# ------------------------------------------------------------------------------------------ processes
# Parallel arrays: the name and pid of each child, in start order.
names=()
pids=()
start() {
  local name="$1"
  shift
  "$@" &
  names+=("$name")
  pids+=("$!")
  log info "started ${name} (pid $!)"
}

# Stop one child: SIGTERM, up to STOP_TIMEOUT seconds, then SIGKILL. Returns its exit status.
stop_one() {
  local pid="$1" waited=0
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && ((waited < STOP_TIMEOUT * 10)); do
    sleep 0.1
    waited=$((waited + 1))
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null
}

# Stop every child still running: the inbound bridge first (no new requests), then the runtime (it drains
# what is in flight and may still need KMS and Secrets Manager), then their bridges, then the log bridge
# (last, so that the runtime's last lines can still leave).
stop_all() {
  local name i
  for name in inbound-bridge runtime kms-bridge secrets-bridge log-bridge; do
    for i in "${!names[@]}"; do
      [[ "${names[$i]}" == "$name" && -n "${pids[$i]}" ]] && stop_one "${pids[$i]}"
    done
  done
  return 0
}

on_signal() {
  trap '' TERM INT
  log info "received SIG$1: stopping"
  stop_all
  log info "stopped"
  exit 0
}
trap 'on_signal TERM' TERM
trap 'on_signal INT' INT

# The log channel first, so that what follows can be reported to the parent. Few connections: the runtime
# keeps one, and each entrypoint line opens one.
start log-bridge socat -lpsocat-log "TCP-LISTEN:${LOG_LOCAL_PORT},bind=127.0.0.1,fork,reuseaddr,max-children=8" "$LOG_UPSTREAM"
log_bridge_up=true

# Entropy before anything that makes keys: the seeder's one JSON line is passed on (stderr, log channel).
seed_output="$(timeout 60 "$NODE_BIN" "$SEED_MAIN" 2>&1)"
seed_status=$?
while IFS= read -r seed_line; do
  [[ -n "$seed_line" ]] || continue
  printf '%s\n' "$seed_line" >&2
  send_log "$seed_line"
done <<<"$seed_output"
if ((seed_status != 0)); then
  trap '' TERM INT
  log error "seeding the kernel RNG from the NSM failed (status ${seed_status}): not starting the runtime"
  stop_all
  exit 3
fi

start inbound-bridge socat -lpsocat-inbound "$INBOUND_LISTEN" "TCP:127.0.0.1:${RUNTIME_PORT}"
start kms-bridge socat -lpsocat-kms "TCP-LISTEN:${KMS_LOCAL_PORT},bind=127.0.0.1,fork,reuseaddr" "$KMS_UPSTREAM"
start secrets-bridge socat -lpsocat-secrets "TCP-LISTEN:${SECRETS_LOCAL_PORT},bind=${SECRETS_LOCAL_ADDRESS},fork,reuseaddr" "$SECRETS_UPSTREAM"
runtime_args=(--port "$RUNTIME_PORT" --sealing kms --attestation nsm --region "$CUSTODY_REGION" --kms-key-arn "$CUSTODY_KMS_KEY_ID" --log-port "$LOG_LOCAL_PORT")
start runtime "$NODE_BIN" "$RUNTIME_MAIN" "${runtime_args[@]}"

# ---------------------------------------------------------------------------------------- supervision
while :; do
  finished=''
  wait -n -p finished "${pids[@]}"
  status=$?
  [[ -n "$finished" ]] || continue # interrupted without a child exiting
  name='a child'
  for i in "${!pids[@]}"; do
    if [[ "${pids[$i]}" == "$finished" ]]; then
      name="${names[$i]}"
      pids[i]=''
    fi
  done
  trap '' TERM INT
  log error "${name} exited with status ${status}: stopping the enclave"
  stop_all
  if [[ "$name" == runtime && "$status" -ne 0 ]]; then exit "$status"; fi
  exit 1
done
