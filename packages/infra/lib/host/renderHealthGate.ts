export type RenderHealthGateParameters = {
  /** Stack whose resource is signalled (token allowed: `Aws.STACK_NAME`). */
  stackName: string
  /** Logical id of the Auto Scaling group in that stack (its CreationPolicy / UpdatePolicy waits for the signals). */
  logicalId: string
  /** What must answer `200 {"status":"ok",…}`: the parent proxy's `/healthz`, which answers only after an enclave round trip. */
  healthUrl: string
  /** How long to wait for it before signalling FAILURE, in seconds. */
  timeoutSeconds: number
  /** Pause between attempts, in seconds. @default 5 */
  intervalSeconds?: number
  /** Instance metadata service (IMDSv2), where the instance id comes from. @default 'http://169.254.169.254' */
  imdsEndpoint?: string
}

export type RenderHealthGateReturnType = {
  /** Goes right after `fail()` and `REGION=` at the top: `signal_cfn`, `wait_healthy` and an EXIT trap that signals FAILURE (and removes `$WORK`). */
  prelude: string[]
  /** Goes last: wait for `/healthz`, then signal SUCCESS. */
  gate: string[]
}

const SAFE = /^[^'\n\\]*$/

/**
 * The part of the parent bootstrap that tells CloudFormation whether this instance works: SUCCESS only once
 * the parent proxy's `/healthz` has answered 200 with `"status":"ok"` — which it does only after a
 * `system.health` round trip through the enclave — and FAILURE as soon as any bootstrap step fails or the
 * health check times out. The signal is `aws cloudformation signal-resource` with the instance id from
 * IMDSv2 as the unique id (the instance role may signal this stack only), so the Auto Scaling group's
 * CreationPolicy / rolling UpdatePolicy fails — and CloudFormation rolls back — when an image does not come up.
 *
 * Unverified here: CloudFormation's handling of the signals; it is exercised against fakes only (a local
 * healthz/IMDS server and a fake `aws` on PATH).
 *
 * @returns Bash lines; the script must run with `set -euo pipefail`, define `fail` and `REGION` before the prelude.
 * @throws Error when a value contains a quote, backslash or newline, or a number is out of range.
 * @example
 * import { renderHealthGate } from './renderHealthGate.js'
 * const { prelude, gate } = renderHealthGate({ stackName: 'EnclaveCustody', logicalId: 'FleetGroupASG1234', healthUrl: 'https://127.0.0.1:8443/healthz', timeoutSeconds: 600 })
 */
export function renderHealthGate({ stackName, logicalId, healthUrl, timeoutSeconds, intervalSeconds = 5, imdsEndpoint = 'http://169.254.169.254' }: RenderHealthGateParameters): RenderHealthGateReturnType {
  for (const [name, value] of Object.entries({ stackName, logicalId, healthUrl, imdsEndpoint })) {
    if (!SAFE.test(value)) throw new Error(`renderHealthGate: ${name} contains a quote, backslash or newline`)
  }
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > 3600) throw new Error('renderHealthGate: timeoutSeconds must be 1 to 3600')
  if (!Number.isInteger(intervalSeconds) || intervalSeconds < 1 || intervalSeconds > 60) throw new Error('renderHealthGate: intervalSeconds must be 1 to 60')
  return {
    prelude: [
      '# CloudFormation resource signal for this instance (SUCCESS or FAILURE); the instance id comes from IMDSv2.',
      'signal_cfn() {',
      '  local token id',
      `  token="$(curl -sS --max-time 5 -X PUT '${imdsEndpoint}/latest/api/token' -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')" || return 1`,
      `  id="$(curl -sS --max-time 5 -H "X-aws-ec2-metadata-token: $token" '${imdsEndpoint}/latest/meta-data/instance-id')" || return 1`,
      `  aws cloudformation signal-resource --region "$REGION" --stack-name '${stackName}' --logical-resource-id '${logicalId}' --unique-id "$id" --status "$1"`,
      '}',
      '# /healthz answers 200 {"status":"ok",…} only after a round trip through the enclave. Loopback, and the',
      "# proxy's certificate is this instance's own self-signed one: --insecure (a liveness gate, not a trust decision).",
      'wait_healthy() {',
      `  local deadline=$((SECONDS + ${timeoutSeconds})) body`,
      '  while :; do',
      `    if body="$(curl -sS --insecure --fail --max-time 5 '${healthUrl}' 2>/dev/null)" && [[ "$body" == *'"status":"ok"'* ]]; then`,
      '      echo "enclave-custody bootstrap: /healthz answered through the enclave: $body"',
      '      return 0',
      '    fi',
      '    [ "$SECONDS" -lt "$deadline" ] || return 1',
      `    sleep ${intervalSeconds}`,
      '  done',
      '}',
      '# Any failure from here on signals FAILURE at once, so CloudFormation fails (and rolls back) instead of waiting out the timeout.',
      'on_exit() {',
      '  local rc=$?',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion, not a JS template
      '  [ -z "${WORK:-}" ] || rm -rf "$WORK"',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion, not a JS template
      '  if [ "$rc" -ne 0 ] && [ -z "${SIGNALLED:-}" ]; then',
      '    echo "enclave-custody bootstrap: failed (exit $rc); signalling FAILURE to CloudFormation" >&2',
      '    signal_cfn FAILURE || echo "enclave-custody bootstrap: could not signal CloudFormation" >&2',
      '  fi',
      '  exit "$rc"',
      '}',
      'trap on_exit EXIT',
    ],
    gate: [
      `wait_healthy || fail "/healthz did not answer through the enclave within ${timeoutSeconds} s"`,
      'signal_cfn SUCCESS',
      'SIGNALLED=1',
      'echo "enclave-custody bootstrap: signalled SUCCESS to CloudFormation"',
    ],
  }
}
