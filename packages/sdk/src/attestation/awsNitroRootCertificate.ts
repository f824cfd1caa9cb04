/**
 * The AWS Nitro Enclaves root certificate for the commercial AWS partitions (AWS_NitroEnclaves_Root-G1:
 * CN=aws.nitro-enclaves, O=Amazon, OU=AWS, C=US; P-384; valid 2019-10-28 to 2049-10-28). Every genuine
 * Nitro attestation document chains to it; `verifyAttestationDocument` trusts it by default.
 *
 * Published by AWS at https://aws-nitro-enclaves.amazonaws.com/AWS_NitroEnclaves_Root-G1.zip.
 *
 * @example
 * import { AWS_NITRO_ENCLAVES_ROOT_G1_PEM, verifyAttestationDocument } from '@enclave-custody/sdk'
 * verifyAttestationDocument(doc, { roots: [AWS_NITRO_ENCLAVES_ROOT_G1_PEM] })
 */
export const AWS_NITRO_ENCLAVES_ROOT_G1_PEM = `
-----BEGIN CERTIFICATE-----
MIICETCCAZagAwIBAgIRAPkxdWgbkK/hHUbMtOTn+FYwCgYIKoZIzj0EAwMwSTEL
MAkGA1UEBhMCVVMxDzANBgNVBAoMBkFtYXpvbjEMMAoGA1UECwwDQVdTMRswGQYD
VQQDDBJhd3Mubml0cm8tZW5jbGF2ZXMwHhcNMTkxMDI4MTMyODA1WhcNNDkxMDI4
MTQyODA1WjBJMQswCQYDVQQGEwJVUzEPMA0GA1UECgwGQW1hem9uMQwwCgYDVQQL
DANBV1MxGzAZBgNVBAMMEmF3cy5uaXRyby1lbmNsYXZlczB2MBAGByqGSM49AgEG
BSuBBAAiA2IABPwCVOumCMHzaHDimtqQvkY4MpJzbolL//Zy2YlES1BR5TSksfbb
48C8WBoyt7F2Bw7eEtaaP+ohG2bnUs990d0JX28TcPQXCEPZ3BABIeTPYwEoCWZE
h8l5YoQwTcU/9KNCMEAwDwYDVR0TAQH/BAUwAwEB/zAdBgNVHQ4EFgQUkCW1DdkF
R+eWw5b6cp3PmanfS5YwDgYDVR0PAQH/BAQDAgGGMAoGCCqGSM49BAMDA2kAMGYC
MQCjfy+Rocm9Xue4YnwWmNJVA44fA0P5W2OpYow9OYCVRaEevL8uO1XYru5xtMPW
rfMCMQCi85sWBbJwKKXdS6BptQFuZbT73o/gBh1qUxl/nNr12UO8Yfwr6wPLb+6N
IwLz3/Y=
-----END CERTIFICATE-----`.trim()

/**
 * SHA-256 fingerprint of the DER of {@link AWS_NITRO_ENCLAVES_ROOT_G1_PEM}, as `openssl x509 -fingerprint
 * -sha256` prints it. Compare it with the value AWS publishes before trusting an updated constant.
 *
 * @example
 * import { AWS_NITRO_ENCLAVES_ROOT_G1_SHA256 } from '@enclave-custody/sdk'
 * console.log(AWS_NITRO_ENCLAVES_ROOT_G1_SHA256)
 */
export const AWS_NITRO_ENCLAVES_ROOT_G1_SHA256 =
  '64:1A:03:21:A3:E2:44:EF:E4:56:46:31:95:D6:06:31:7E:D7:CD:CC:3C:17:56:E0:98:93:F3:C6:8F:79:BB:5B'
