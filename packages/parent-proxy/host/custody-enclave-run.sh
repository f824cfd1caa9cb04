#!/usr/bin/env bash
# custody-enclave-run.sh — start and watch, or stop, the enclave-custody enclave for custody-enclave.service.
#
#   custody-enclave-run.sh start <nitro-cli> run-enclave --enclave-name <name> [run-enclave options…]
#   custody-enclave-run.sh stop  <nitro-cli> terminate-enclave --enclave-name <name>
#
# start: refuses --debug-mode and --attach-console, terminates a leftover enclave of the same name, runs
#   the enclave, then stays in the foreground polling `nitro-cli describe-enclaves`. It exits 1 when the
#   enclave stops on its own or reports the DEBUG_MODE flag (so that Restart=on-failure starts a fresh one),
#   and 0 when the stop was requested (SIGTERM, or `stop` ran first).
# stop: records that the stop is intended, then terminates the enclave; an enclave that is already gone
#   is not an error.
#
# Environment: RUNTIME_DIRECTORY (set by systemd's RuntimeDirectory=; default /run/custody-enclave),
# CUSTODY_ENCLAVE_POLL_SECONDS (default 5). Needs python3 (present on Amazon Linux 2023) to read JSON.
set -uo pipefail

MARKER_DIR="${RUNTIME_DIRECTORY:-/run/custody-enclave}"
MARKER="${MARKER_DIR}/stopping"
POLL_SECONDS="${CUSTODY_ENCLAVE_POLL_SECONDS:-5}"

log() { echo "custody-enclave-run: $*" >&2; }
fail() {
  log "$*"
  exit 2
}

(($# >= 3)) || fail "usage: custody-enclave-run.sh start|stop <nitro-cli> <command> [options…]"
mode="$1"
nitro="$2"
shift 2
[[ "$POLL_SECONDS" =~ ^[0-9]+(\.[0-9]+)?$ ]] || fail "CUSTODY_ENCLAVE_POLL_SECONDS must be a number of seconds"

# The value following --enclave-name in the arguments.
enclave_name() {
  while (($# > 0)); do
    if [[ "$1" == --enclave-name && $# -ge 2 ]]; then
      echo "$2"
      return 0
    fi
    shift
  done
  return 1
}

# "<State> <Flags>" of the enclave named $1 in describe-enclaves JSON on stdin; nothing when it is absent;
# exit status 3 when the JSON is not a list of enclaves.
describe_one() {
  python3 -c '
import json, sys
try:
    enclaves = json.load(sys.stdin)
except ValueError:
    sys.exit(3)
if not isinstance(enclaves, list):
    sys.exit(3)
for enclave in enclaves:
    if isinstance(enclave, dict) and enclave.get("EnclaveName") == sys.argv[1]:
        print(enclave.get("State", ""), enclave.get("Flags", ""))
        break
' "$1"
}

name="$(enclave_name "$@")" || fail "the nitro-cli command must name the enclave with --enclave-name"
[[ "$name" =~ ^[A-Za-z0-9_.-]{1,64}$ ]] || fail "the enclave name must be 1..64 characters of [A-Za-z0-9_.-]"

case "$mode" in
  stop)
    [[ "${1:-}" == terminate-enclave ]] || fail "stop expects a nitro-cli terminate-enclave command"
    mkdir -p "$MARKER_DIR" && : >"$MARKER"
    if "$nitro" "$@"; then exit 0; fi
    # Already gone (it crashed, or start never succeeded) is what stop wants.
    if [[ -z "$("$nitro" describe-enclaves 2>/dev/null | describe_one "$name")" ]]; then exit 0; fi
    log "could not terminate enclave ${name}"
    exit 1
    ;;
  start) ;;
  *) fail "the first argument must be start or stop" ;;
esac

[[ "${1:-}" == run-enclave ]] || fail "start expects a nitro-cli run-enclave command"
for arg in "$@"; do
  case "$arg" in
    --debug-mode | --debug-mode=* | --attach-console | --attach-console=* | --config | --config=*)
      fail "refusing ${arg%%=*}: the enclave runs in production mode only (no debug console, options on the command line)"
      ;;
  esac
done

mkdir -p "$MARKER_DIR" && rm -f "$MARKER"
terminate() { "$nitro" terminate-enclave --enclave-name "$name" >/dev/null 2>&1 || true; }
on_signal() {
  trap '' TERM INT
  log "stopping enclave ${name} (SIG$1)"
  terminate
  exit 0
}
trap 'on_signal TERM' TERM
trap 'on_signal INT' INT

# A leftover of a previous run (this script killed hard) would make run-enclave fail on the name.
terminate
"$nitro" "$@" || fail "nitro-cli run-enclave failed"
log "enclave ${name} started; watching it every ${POLL_SECONDS}s"

failures=0
while :; do
  description="$("$nitro" describe-enclaves 2>/dev/null)"
  status=$?
  current="$(describe_one "$name" <<<"$description")"
  parsed=$?
  if ((status != 0 || parsed != 0)); then
    failures=$((failures + 1))
    log "nitro-cli describe-enclaves failed (${failures} in a row)"
    if ((failures >= 3)); then
      terminate
      exit 1
    fi
  else
    failures=0
    read -r state flags <<<"$current"
    if [[ "${state:-}" != RUNNING ]]; then
      if [[ -e "$MARKER" ]]; then exit 0; fi
      log "enclave ${name} is ${state:-gone}: exiting so that systemd restarts it"
      terminate
      exit 1
    fi
    if [[ "${flags:-}" == *DEBUG_MODE* ]]; then
      log "enclave ${name} runs in debug mode: terminating it"
      terminate
      exit 1
    fi
  fi
  sleep "$POLL_SECONDS" &
  wait $!
done
