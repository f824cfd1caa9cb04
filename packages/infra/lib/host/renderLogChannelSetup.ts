import { HOST_FILES, HOST_LAYOUT } from './hostLayout.js'

export type RenderLogChannelSetupParameters = {
  /** The stack's log group for the hosts (a CDK token allowed); replaces the agent fragment's `log_group_name`. */
  logGroupName: string
}

const SAFE_VALUE = /^[^'\n\\]*$/

/** The receiver unit first: custody-enclave-log-bridge.service is ordered after it (After=/Wants=). */
const UNITS = [HOST_FILES.logUnit, HOST_FILES.logBridgeUnit].map((u) => u.slice('systemd/'.length))

/**
 * The boot script's step for the enclave's log channel (the host files' `custody-enclave-logs.service`,
 * `custody-enclave-log-bridge.service`, `cloudwatch-agent-enclave-logs.json`, `logrotate-enclave-custody`):
 * install the CloudWatch agent and logrotate, the receiver bundle, the log directory (which the receiver unit
 * asserts) and its logrotate rule, render the agent's configuration from the host files' fragment with every
 * `log_group_name` set to the stack's group, start the receiver and its vsock bridge, and start the agent with
 * that configuration. Run after custody.env is written (the units read it) and before the enclave starts, so
 * the enclave's boot lines reach CloudWatch Logs too. Expects the bootstrap's `$WORK` (the unzipped host files
 * under `$WORK/host`) and `fail`.
 *
 * Unverified here (no systemd, dnf or CloudWatch agent): that AL2023's `amazon-cloudwatch-agent` package puts
 * `amazon-cloudwatch-agent-ctl` at {@link HOST_LAYOUT.cloudWatchAgentCtl}, that its `logrotate` package has
 * `logrotate.timer`, and the agent shipping the file. The tests run these lines in bash with fakes for those.
 *
 * @returns Script lines (bash, `set -euo pipefail` in force).
 * @throws Error when the log group name contains a quote, backslash or newline.
 * @example
 * import { renderLogChannelSetup } from './renderLogChannelSetup.js'
 * lines.push(...renderLogChannelSetup({ logGroupName: hostLogGroup.logGroupName }))
 */
export function renderLogChannelSetup({ logGroupName }: RenderLogChannelSetupParameters): string[] {
  if (!SAFE_VALUE.test(logGroupName)) throw new Error('bootstrap: logGroupName contains a quote, backslash or newline')
  const L = HOST_LAYOUT
  // Sets log_group_name on every collected file; refuses a fragment without any (the agent would ship nothing).
  const renderAgentConfig = [
    'import json, sys',
    'config = json.load(open(sys.argv[1]))',
    'entries = config.get("logs", {}).get("logs_collected", {}).get("files", {}).get("collect_list", [])',
    'if not entries: sys.exit("no logs.logs_collected.files.collect_list entry")',
    'for entry in entries: entry["log_group_name"] = sys.argv[2]',
    'json.dump(config, sys.stdout, indent=2)',
  ].join('\n')
  return [
    "# The enclave's log channel, before the enclave starts (its boot lines are kept): receiver, vsock bridge, log",
    "# directory and rotation, and the CloudWatch agent shipping the file to this stack's log group.",
    'dnf install -y amazon-cloudwatch-agent logrotate',
    `install -m 0644 "$WORK/host/proxy/log-receiver.js" '${L.logReceiverScript}'`,
    `install -d -m 0755 '${L.enclaveLogDir}'`,
    `install -m 0644 "$WORK/host/${HOST_FILES.logrotateConfig}" '${L.logrotateConfig}'`,
    `LOG_GROUP='${logGroupName}'`,
    `[ -n "$LOG_GROUP" ] || fail "no log group for the enclave's logs"`,
    `python3 -c '${renderAgentConfig}' "$WORK/host/${HOST_FILES.cloudWatchAgentConfig}" "$LOG_GROUP" > "$WORK/cloudwatch-agent.json" || fail "cannot render the CloudWatch agent configuration from ${HOST_FILES.cloudWatchAgentConfig}"`,
    `install -m 0644 "$WORK/cloudwatch-agent.json" '${L.cloudWatchAgentConfig}'`,
    `install -m 0644 ${[HOST_FILES.logUnit, HOST_FILES.logBridgeUnit].map((u) => `"$WORK/host/${u}"`).join(' ')} '${L.systemdDir}/'`,
    'systemctl daemon-reload',
    `systemctl enable --now ${UNITS.join(' ')}`,
    'systemctl enable --now logrotate.timer',
    `'${L.cloudWatchAgentCtl}' -a fetch-config -m ec2 -s -c 'file:${L.cloudWatchAgentConfig}'`,
  ]
}
