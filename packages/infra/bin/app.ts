#!/usr/bin/env node
/**
 * The enclave-custody CDK app: two stacks, `<stackName>-Keys` (sealing key, its policy, the roles it names,
 * the key alarm) and `<stackName>` (the fleet). Order (docs/deploy.md):
 *   1. cdk deploy <stackName>-Keys -c bootstrapKeys=true     the key with the bootstrap policy; output SealingKeyArn
 *   2. build-eif.sh --kms-key-arn <SealingKeyArn>            the ARN is measured into PCR0
 *   3. cdk deploy --all -c eifPath=… [-c kmsKeyArn=…]        attested policy on the key, then the fleet
 * Context (`-c key=value` or cdk.json):
 *   bootstrapKeys=true            step 1 only: the keys stack alone, nobody can use the key yet
 *   eifPath                       the prebuilt enclave image (required otherwise)
 *   kmsKeyArn                     the full key ARN the image was built with; else build-info.txt beside the EIF
 *   pcr0                          its PCR0; else read from <eif>.pcrs.json / pcrs.json beside it
 *   pcr1, pcr2, pcr8              further measurements the key policy requires
 *   previousPcr0 (pcr1/2/8), previousPcrsPath   the image being replaced: accepted too during a rotation
 *   lockKeyPolicy=true            IRREVERSIBLE: nobody can ever change the key policy again
 *   allowDebugEnclave=true        accept a debug-mode enclave (PCR0 = 0…0) — development only
 *   adminArn                      key administrators, comma-separated (default: the account root)
 *   importerPrincipalArn          who may assume the offline importer role (custody import-key), comma-separated
 *                                 IAM ARNs (default: the account root, i.e. IAM policies in the account decide)
 *   importerRequireMfa=false      let them assume it without MFA (default true; for a pipeline principal only)
 *   alarmEmail                    subscribed to the key-alarm topic
 *   certificateArn, domainName    the NLB's ACM certificate and the name it covers
 *                                 (else CloudFormation parameters CertificateArn / ProxyDomainName)
 *   instanceType (m6i.xlarge), minCapacity / desiredCapacity / maxCapacity (2), enableNat (false),
 *   allowedClientCidrs, keyId (default), stackName (EnclaveCustody),
 *   hostFilesPath                 host files directory (default packages/parent-proxy/host)
 */
import { App } from 'aws-cdk-lib'
import { buildCustodyApp } from '../lib/buildCustodyApp.js'
import { CustodyConfigError } from '../lib/config/readCustodyConfig.js'

try {
  buildCustodyApp(new App())
} catch (e) {
  // A context mistake is the operator's to fix: say which key and why, without a stack trace.
  if (!(e instanceof CustodyConfigError)) throw e
  process.stderr.write(`\n${e.message}\n\n`)
  process.exit(1)
}
