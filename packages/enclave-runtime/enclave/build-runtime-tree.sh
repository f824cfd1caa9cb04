#!/usr/bin/env bash
# build-runtime-tree.sh — build the file tree the enclave image ships: the runtime with its production
# dependencies and the entrypoint, byte for byte the same on every run of the same sources.
#
#   build-runtime-tree.sh <source dir> <output dir>
#
# <source dir> holds the image's build context (Dockerfile.dockerignore: the root manifests, packages/sdk,
# packages/enclave-runtime). <output dir> must not exist or be empty; it receives
#   runtime/                          → /opt/enclave-custody/runtime in the image (dist/, node_modules/, package.json)
#   bin/custody-enclave-entrypoint    → /usr/local/bin/custody-enclave-entrypoint
# The Dockerfile's builder stage RUNs this script and nothing else, and test/imageTree.slow.test.ts runs it
# twice outside Docker (different directories, TZ, umask, source mtimes, cold stores) and compares the two
# trees file by file, so what the test shows is what the image gets.
#
# Environment:
#   SOURCE_DATE_EPOCH   required: every file's mtime (the commit time; build-eif.sh passes it)
#   PNPM_STORE_DIR      optional: pnpm's content-addressable store              [pnpm's default]
#   PNPM_CACHE_DIR      optional: pnpm's metadata cache                         [pnpm's default]
#   PNPM_STATE_DIR      optional: pnpm's state directory                        [pnpm's default]
#
# What would otherwise differ between two runs, and what this script does about it:
#   - `pnpm deploy` writes runtime/package.json with its dependencies in a different order on each run, and
#     with the absolute path of the SDK's source (`file:///<source>/packages/sdk`): the file is replaced by
#     one written here from the workspace manifest, with sorted keys;
#   - the deployed SDK's directory under node_modules/.pnpm is named after that absolute path
#     (`@enclave-custody+sdk@file++++<source>+packages+sdk`): renamed to `<name>@workspace`, links rewritten;
#   - node_modules/**/.bin shims carry the absolute path of the output directory (which is not even where
#     the image puts the runtime): deleted, the runtime runs no package binaries;
#   - pnpm's state files (.modules.yaml, .pnpm-workspace-state-v1.json, lock copies) hold timestamps and
#     paths: deleted;
#   - files are imported from the store by copy, never hard-linked (links to the store would make the tree
#     depend on the store's file system, and the mode and mtime changes below would alter the store);
#   - modes follow the umask: directories and executables become 0755, other files 0644; owners root:root
#     when run as root (the Dockerfile's COPY --chown sets them in any case); every mtime SOURCE_DATE_EPOCH.
# It then refuses a tree that still names the source or output directory anywhere, has a symbolic link
# that is absolute or leaves the tree, or has a hard link.
set -euo pipefail

fail() {
  echo "build-runtime-tree.sh: $*" >&2
  exit 2
}

(($# == 2)) || fail "usage: build-runtime-tree.sh <source dir> <output dir>"
[[ "${SOURCE_DATE_EPOCH:-}" =~ ^[0-9]+$ ]] || fail "SOURCE_DATE_EPOCH must be seconds since the epoch"
[[ -f "$1/package.json" && -f "$1/pnpm-lock.yaml" ]] || fail "$1 is not the build context (no package.json and pnpm-lock.yaml)"
src="$(cd "$1" && pwd -P)"
mkdir -p "$2"
out="$(cd "$2" && pwd -P)"
[[ -z "$(ls -A "$out")" ]] || fail "the output directory $out is not empty"
case "$out/" in "$src"/*) fail "the output directory must lie outside the source directory" ;; esac

# The pnpm that writes the tree is the one the repository names (its output format is part of the image).
wanted="$(sed -n 's/.*"packageManager"[[:space:]]*:[[:space:]]*"pnpm@\([0-9][0-9.]*\).*/\1/p' "$src/package.json")"
[[ -n "$wanted" ]] || fail "package.json has no packageManager pnpm@<version>"
have="$(pnpm --version 2>/dev/null || true)"
[[ "$have" == "$wanted" ]] || fail "pnpm ${have:-is not installed}: this tree is built with pnpm ${wanted} (package.json packageManager)"

export CI=true
pnpm_options=(--config.package-import-method=copy)
[[ -n "${PNPM_STORE_DIR:-}" ]] && pnpm_options+=(--store-dir "$PNPM_STORE_DIR")
[[ -n "${PNPM_CACHE_DIR:-}" ]] && pnpm_options+=(--config.cache-dir="$PNPM_CACHE_DIR")
[[ -n "${PNPM_STATE_DIR:-}" ]] && pnpm_options+=(--state-dir "$PNPM_STATE_DIR")
runtime="$out/runtime"

# ------------------------------------------------------------------------------------------- build
cd "$src"
# Lifecycle scripts are skipped here (nothing built here needs one); `deploy` runs koffi's, which installs
# the prebuilt binary shipped inside the koffi package (no download).
pnpm install --frozen-lockfile --ignore-scripts --filter '@enclave-custody/enclave-runtime...' "${pnpm_options[@]}"
pnpm --filter '@enclave-custody/enclave-runtime...' run build
pnpm --filter @enclave-custody/enclave-runtime deploy --prod "${pnpm_options[@]}" "$runtime"

# --------------------------------------------------------------------------------------- normalise
# The runtime needs dist/ and node_modules/; its sources and pnpm's bookkeeping stay behind.
rm -rf "$runtime/src" "$runtime/pnpm-lock.yaml" "$runtime/pnpm-workspace.yaml" \
  "$runtime/node_modules/.modules.yaml" "$runtime/node_modules/.pnpm-workspace-state-v1.json" \
  "$runtime/node_modules/.pnpm/lock.yaml"
find "$runtime/node_modules" -type d -name .bin -prune -exec rm -rf {} +

# Workspace packages deployed as `file:` dependencies: a directory name without the source path.
store="$runtime/node_modules/.pnpm"
for old in "$store"/*@file+*; do
  [[ -e "$old" ]] || continue
  name="${old##*/}"
  new="${name%%@file+*}@workspace"
  [[ ! -e "$store/$new" ]] || fail "two workspace packages deploy to node_modules/.pnpm/$new"
  mv "$old" "$store/$new"
  while IFS= read -r -d '' link; do
    target="$(readlink "$link")"
    ln -sfn "${target//"$name"/"$new"}" "$link"
  done < <(find "$runtime" -type l -lname "*${name}*" -print0)
done

# package.json: what the runtime needs (`type` makes dist/*.js ES modules) and the dependencies it was
# deployed with, from the workspace manifest, keys sorted.
node --input-type=module - "$src/packages/enclave-runtime/package.json" "$runtime/package.json" <<'EOF'
import { readFileSync, writeFileSync } from 'node:fs'
const [from, to] = process.argv.slice(2)
const manifest = JSON.parse(readFileSync(from, 'utf8'))
const sorted = (o) => Object.fromEntries(Object.entries(o ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
const written = { name: manifest.name, version: manifest.version, private: true, license: manifest.license, type: manifest.type, dependencies: sorted(manifest.dependencies) }
writeFileSync(to, `${JSON.stringify(written, null, 2)}\n`)
EOF

mkdir -p "$out/bin"
cp "$src/packages/enclave-runtime/enclave/entrypoint.sh" "$out/bin/custody-enclave-entrypoint"
chmod 0755 "$out/bin/custody-enclave-entrypoint"

# ------------------------------------------------------------------------------------------ checks
named="$(grep -rlF -e "$src" -e "$out" "$out" || true)"
[[ -z "$named" ]] || fail "these files name the build directories (the tree would depend on them):
$named"
while IFS= read -r -d '' link; do
  target="$(readlink "$link")"
  [[ "$target" != /* ]] || fail "absolute symbolic link ${link#"$out"/} -> $target"
  resolved="$(realpath -m "$(dirname "$link")/$target")"
  [[ "$resolved" == "$out"/* ]] || fail "symbolic link ${link#"$out"/} -> $target leaves the tree"
done < <(find "$out" -type l -print0)
linked="$(find "$out" -type f -links +1 -print -quit)"
[[ -z "$linked" ]] || fail "hard link in the tree: ${linked#"$out"/}"
# The image holds only the trusted code: the parent's side (packages/parent-proxy) never enters it.
# (Third-party packages keep their own file names: the AWS SDK has an ImdsCredentials.js of its own.)
parent="$(find "$out" -path "$runtime/node_modules" -prune -o \( -iname '*parentProxy*' -o -iname '*parent-proxy*' -o -iname '*recordSource*' \
  -o -iname '*imdsCredentials*' -o -iname '*logReceiver*' -o -iname '*log-receiver*' -o -path "$runtime/dist/bin/proxy.*" \) -print -quit)"
[[ -z "$parent" ]] || fail "parent-side code in the enclave tree: ${parent#"$out"/}"
parent="$(find "$runtime/node_modules" -maxdepth 3 -iname '*parent-proxy*' -print -quit)"
[[ -z "$parent" ]] || fail "parent-side code in the enclave tree: ${parent#"$out"/}"
parent="$(grep -rlE 'startParentProxy|createSecretsManagerRecordSource|createImdsCredentialsProvider|startLogReceiver' "$runtime/dist" || true)"
[[ -z "$parent" ]] || fail "parent-side code in the enclave runtime's dist: ${parent//"$out"\//}"

# ------------------------------------------------------------------------------------------ metadata
find "$out" -type d -exec chmod 0755 {} +
find "$out" -type f -perm -u+x -exec chmod 0755 {} +
find "$out" -type f ! -perm -u+x -exec chmod 0644 {} +
if [[ "$(id -u)" == 0 ]]; then chown -hR 0:0 "$out"; fi
find "$out" -exec touch --no-dereference --date="@${SOURCE_DATE_EPOCH}" {} +
echo "build-runtime-tree.sh: built $out ($(find "$out" | wc -l) entries)" >&2
