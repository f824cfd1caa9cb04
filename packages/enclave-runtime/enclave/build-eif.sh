#!/usr/bin/env bash
# build-eif.sh — build the enclave-custody enclave image (.eif) and its PCR measurements.
# Run `build-eif.sh --help` for usage. See README.md in this directory for the build host's setup.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${SCRIPT_DIR}/../../.." && pwd)"
DOCKERFILE="${SCRIPT_DIR}/Dockerfile"
# What the image is built from (the Docker context allowlist in Dockerfile.dockerignore): a change here,
# committed or not, changes PCR0.
CONTEXT_PATHS=(package.json pnpm-lock.yaml pnpm-workspace.yaml tsconfig.base.json tsup.base.ts packages/sdk packages/enclave-runtime)

usage() {
  cat <<'EOF'
build-eif.sh — build the enclave-custody enclave image (.eif) and print its PCR0/1/2

Usage:
  build-eif.sh --region <aws-region> --kms-key-arn <key ARN> [--output-dir <dir>] [--tag <image>]
               [--pins <file>] [--allow-dirty] [--dry-run]
  build-eif.sh --print-pcrs <nitro-cli JSON file>
  build-eif.sh --help

Steps (on a Linux build host with Docker Engine + buildx >= 0.13 and nitro-cli, of the same CPU
architecture as the enclave instances):
  1. docker buildx build of packages/enclave-runtime/enclave/Dockerfile with the pinned inputs of pins.env,
     SOURCE_DATE_EPOCH = the commit time of HEAD, and rewrite-timestamp, loaded into the local daemon;
  2. nitro-cli build-enclave --docker-uri <image> --output-file <dir>/custody.eif > <dir>/pcrs.json;
  3. prints PCR0, PCR1 and PCR2 (PCR0 goes into the KMS key policy: custody key-policy --pcr0 …).

Options:
  --region <r>        AWS region of the KMS endpoint the enclave calls (measured into PCR0). Required.
  --kms-key-arn <arn> the sealing KMS key, pinned (measured into PCR0): its full key ARN
                      arn:aws:kms:<region>:<account>:key/<key id>, in --region. Required. An alias or a
                      bare key id is refused: the enclave refuses records and KMS answers of any other key.
  --legacy-owners <k> comma-separated API public keys (0x-hex P-256) that may use key records sealed
                      before owners existed (measured into PCR0). Default: none (such records unusable).
  --output-dir <dir>  where custody.eif, pcrs.json and build-info.txt go            [./enclave-out]
  --tag <image>       local image name                         [enclave-custody/enclave:<commit>]
  --pins <file>       pinned inputs (NODE_IMAGE, DEBIAN_SNAPSHOT)  [enclave/pins.env]
  --allow-dirty       build although the image's sources differ from HEAD (PCR0 then matches no commit)
  --dry-run           print the commands instead of running them (no Docker or nitro-cli needed)
  --print-pcrs <f>    print PCR0/1/2 from the JSON of nitro-cli build-enclave, describe-eif or
                      describe-enclaves, and exit
  -h, --help          this help

Environment: NODE_IMAGE and DEBIAN_SNAPSHOT override the pins file; SOURCE_DATE_EPOCH overrides the commit
time. NODE_IMAGE must be pinned by digest (name@sha256:<64 hex>).
EOF
}

fail() {
  echo "build-eif.sh: $*" >&2
  exit 2
}

# Print PCR0..PCR2 of a nitro-cli JSON output as NAME=hex lines (the first enclave's, for describe-enclaves).
print_pcrs() {
  local file="$1" name value
  [[ -f "$file" ]] || fail "no such file: $file"
  for name in PCR0 PCR1 PCR2; do
    value="$(grep -o "\"${name}\"[[:space:]]*:[[:space:]]*\"[0-9a-fA-F]*\"" "$file" | head -n 1 | sed 's/.*"\([0-9a-fA-F]*\)"$/\1/' || true)"
    [[ "$value" =~ ^[0-9a-fA-F]{96}$ ]] || fail "$file has no 48-byte ${name} (is it nitro-cli JSON output?)"
    echo "${name}=${value,,}"
  done
}

region=''
kms_key_arn=''
legacy_owners=''
output_dir="${PWD}/enclave-out"
tag=''
pins="${SCRIPT_DIR}/pins.env"
allow_dirty=false
dry_run=false
while (($# > 0)); do
  case "$1" in
    -h | --help)
      usage
      exit 0
      ;;
    --print-pcrs)
      (($# >= 2)) || fail "--print-pcrs needs a file"
      print_pcrs "$2"
      exit 0
      ;;
    --kms-key-id) fail "--kms-key-id was replaced by --kms-key-arn (the full key ARN; aliases and bare key ids are refused)" ;;
    --region | --kms-key-arn | --legacy-owners | --output-dir | --tag | --pins)
      (($# >= 2)) || fail "$1 needs a value"
      case "$1" in
        --region) region="$2" ;;
        --kms-key-arn) kms_key_arn="$2" ;;
        --legacy-owners) legacy_owners="$2" ;;
        --output-dir) output_dir="$2" ;;
        --tag) tag="$2" ;;
        --pins) pins="$2" ;;
      esac
      shift 2
      ;;
    --allow-dirty)
      allow_dirty=true
      shift
      ;;
    --dry-run)
      dry_run=true
      shift
      ;;
    *) fail "unknown argument: $1 (see --help)" ;;
  esac
done

# ------------------------------------------------------------------------------------------ inputs
[[ "$region" =~ ^[a-z]{2}(-[a-z]+)+-[0-9]+$ ]] || fail "--region must be an AWS region such as us-east-1"
# The same rule as the runtime's checkKmsKeyArn (src/trust/checkKmsKeyArn.ts), which checks it again at start.
key_arn_re='^arn:aws(-[a-z]+)*:kms:([a-z]{2}(-[a-z]+)+-[0-9]{1,2}):([0-9]{12}):key/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$'
[[ -n "$kms_key_arn" ]] || fail "--kms-key-arn is required: the full ARN of the sealing key (arn:aws:kms:<region>:<account>:key/<key id>)"
[[ "$kms_key_arn" =~ $key_arn_re ]] || fail "--kms-key-arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>), not an alias or a bare key id"
[[ "${BASH_REMATCH[2]}" == "$region" ]] || fail "--kms-key-arn must be a key in --region ${region}"
[[ -f "$pins" ]] || fail "no pins file at $pins"
pinned() { sed -n "s/^$1=\\(.*\\)$/\\1/p" "$pins" | tail -n 1; }
NODE_IMAGE="${NODE_IMAGE:-$(pinned NODE_IMAGE)}"
DEBIAN_SNAPSHOT="${DEBIAN_SNAPSHOT:-$(pinned DEBIAN_SNAPSHOT)}"
[[ "$NODE_IMAGE" =~ ^[a-z0-9./:_-]+@sha256:[0-9a-f]{64}$ ]] ||
  fail "NODE_IMAGE must be pinned by digest (name@sha256:<64 hex>); resolve one with: docker buildx imagetools inspect node:22.23.3-bookworm-slim"
[[ "$DEBIAN_SNAPSHOT" =~ ^[0-9]{8}T[0-9]{6}Z$ ]] || fail "DEBIAN_SNAPSHOT must be a snapshot.debian.org timestamp such as 20261101T000000Z"
PNPM_VERSION="$(sed -n 's/.*"packageManager"[[:space:]]*:[[:space:]]*"pnpm@\([0-9][0-9.]*\).*/\1/p' "${REPO_ROOT}/package.json")"
[[ -n "$PNPM_VERSION" ]] || fail "package.json has no packageManager pnpm@<version>"

commit="$(git -C "$REPO_ROOT" rev-parse HEAD 2>/dev/null || true)"
if [[ -z "${SOURCE_DATE_EPOCH:-}" ]]; then
  [[ -n "$commit" ]] || fail "not a git checkout: set SOURCE_DATE_EPOCH"
  SOURCE_DATE_EPOCH="$(git -C "$REPO_ROOT" log -1 --format=%ct)"
fi
[[ "$SOURCE_DATE_EPOCH" =~ ^[0-9]+$ ]] || fail "SOURCE_DATE_EPOCH must be seconds since the epoch"
if [[ -n "$commit" ]]; then
  dirty="$(git -C "$REPO_ROOT" status --porcelain --untracked-files=all -- "${CONTEXT_PATHS[@]}")"
  if [[ -n "$dirty" ]]; then
    $allow_dirty || fail "the image's sources differ from HEAD (commit or stash them, or pass --allow-dirty):
$dirty"
    echo "build-eif.sh: WARNING: building from a dirty tree; PCR0 will match no commit" >&2
  fi
fi
[[ -n "$tag" ]] || tag="enclave-custody/enclave:${commit:0:12}"
[[ "$tag" =~ ^[a-z0-9./_-]+(:[A-Za-z0-9._-]+)?$ && "$tag" != *: ]] || fail "--tag must be a local image name such as enclave-custody/enclave:dev"

case "$(uname -m)" in
  x86_64) platform=linux/amd64 ;;
  aarch64 | arm64) platform=linux/arm64 ;;
  *) fail "unsupported build host architecture $(uname -m) (Nitro Enclaves run x86_64 and aarch64)" ;;
esac

build=(docker buildx build
  --file "$DOCKERFILE"
  --platform "$platform"
  --build-arg "NODE_IMAGE=${NODE_IMAGE}"
  --build-arg "DEBIAN_SNAPSHOT=${DEBIAN_SNAPSHOT}"
  --build-arg "PNPM_VERSION=${PNPM_VERSION}"
  --build-arg "SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH}"
  --build-arg "CUSTODY_REGION=${region}"
  --build-arg "CUSTODY_KMS_KEY_ID=${kms_key_arn}"
  --build-arg "CUSTODY_LEGACY_OWNERS=${legacy_owners}"
  --provenance=false
  --output "type=docker,name=${tag},rewrite-timestamp=true"
  "$REPO_ROOT")
eif=(nitro-cli build-enclave --docker-uri "$tag" --output-file "${output_dir}/custody.eif")

if $dry_run; then
  printf '%q ' "${build[@]}"
  echo
  printf '%q ' "${eif[@]}"
  printf '> %q\n' "${output_dir}/pcrs.json"
  exit 0
fi

# ------------------------------------------------------------------------------------------ tools
command -v docker >/dev/null 2>&1 || fail "docker is not installed"
buildx="$(docker buildx version 2>/dev/null | grep -o 'v[0-9][0-9]*\.[0-9][0-9]*' | head -n 1 || true)"
[[ -n "$buildx" ]] || fail "docker buildx is not installed (needed for rewrite-timestamp)"
IFS=. read -r major minor <<<"${buildx#v}"
((major > 0 || minor >= 13)) || fail "docker buildx ${buildx} is too old: rewrite-timestamp needs >= v0.13"
command -v nitro-cli >/dev/null 2>&1 || fail "nitro-cli is not installed (aws-nitro-enclaves-cli)"

# ------------------------------------------------------------------------------------------ build
mkdir -p "$output_dir"
echo "build-eif.sh: building ${tag} for ${platform} (commit ${commit:-none}, SOURCE_DATE_EPOCH ${SOURCE_DATE_EPOCH})" >&2
"${build[@]}"
echo "build-eif.sh: converting ${tag} to ${output_dir}/custody.eif" >&2
"${eif[@]}" >"${output_dir}/pcrs.json"
{
  echo "commit=${commit:-none}"
  echo "source_date_epoch=${SOURCE_DATE_EPOCH}"
  echo "platform=${platform}"
  echo "node_image=${NODE_IMAGE}"
  echo "debian_snapshot=${DEBIAN_SNAPSHOT}"
  echo "pnpm_version=${PNPM_VERSION}"
  echo "aws_region=${region}"
  echo "kms_key_arn=${kms_key_arn}"
  echo "image=${tag}"
  echo "image_id=$(docker image inspect --format '{{.Id}}' "$tag")"
  echo "nitro_cli=$(nitro-cli --version 2>/dev/null | head -n 1)"
} >"${output_dir}/build-info.txt"
print_pcrs "${output_dir}/pcrs.json"
