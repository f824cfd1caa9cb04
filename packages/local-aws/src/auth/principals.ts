const IAM_ARN = /^arn:aws:iam::(\d{12}):(root|user\/[\w+=,.@/-]+|role\/[\w+=,.@/-]+)$/
const STS_ARN = /^arn:aws:sts::(\d{12}):(assumed-role\/[\w+=,.@-]+\/[\w+=,.@-]+|federated-user\/[\w+=,.@-]+)$/

/** Whether `arn` names an IAM principal local-aws understands (account root, user, role, assumed-role session). */
export function isPrincipalArn(arn: string): boolean {
  return IAM_ARN.test(arn) || STS_ARN.test(arn)
}

/**
 * The 12-digit account of a principal ARN.
 *
 * @throws Error when `arn` is not a principal ARN (callers validate configuration first)
 */
export function accountOfArn(arn: string): string {
  const match = IAM_ARN.exec(arn) ?? STS_ARN.exec(arn)
  if (match === null) throw new Error(`not a principal ARN: ${arn.slice(0, 128)}`)
  return match[1]!
}

/**
 * The ARN that identity-based matching uses (`aws:PrincipalArn`): for an assumed-role session
 * `arn:aws:sts::<acct>:assumed-role/<role>/<session>` this is the role, `arn:aws:iam::<acct>:role/<role>`;
 * anything else is returned unchanged.
 */
export function principalArnOf(arn: string): string {
  const match = /^arn:aws:sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/.exec(arn)
  return match === null ? arn : `arn:aws:iam::${match[1]}:role/${match[2]}`
}
