#!/usr/bin/env bash
# Regenerate the FFM bindings of native/include/ual.h into the library's
# internal package, and record the header's hash so a test notices when the
# header changes without the bindings being regenerated.
#
# Needs a jextract for JDK 22+ on PATH (or in $JEXTRACT). jextract is not
# vendored: get it from the openjdk/jextract project.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
jextract="${JEXTRACT:-jextract}"
command -v "$jextract" >/dev/null || { echo "jextract.sh: no jextract on PATH (set JEXTRACT)" >&2; exit 1; }

header="$root/native/include/ual.h"
src="$root/java/ualbridge/src/main/java"
pkg=io.ualbridge.internal
out="$src/${pkg//.//}"
res="$root/java/ualbridge/src/main/resources/${pkg//.//}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT

# Only what ual.h itself declares: not the typedefs of stdint.h and stddef.h.
"$jextract" --dump-includes "$tmp/all.txt" "$header" >/dev/null
grep -E "header: .*/ual\.h\$" "$tmp/all.txt" | sed 's/ *#.*$//' > "$tmp/ual.args"

rm -rf "$out"
# No --library: the generated code looks symbols up through the class
# loader, where NativeLoader has put libual.so (extracted from the jar).
"$jextract" @"$tmp/ual.args" \
    --output "$src" --target-package "$pkg" --header-class-name UalNative \
    "$header"

mkdir -p "$res"
(cd "$root/native/include" && sha256sum ual.h) | cut -d' ' -f1 > "$res/ual.h.sha256"
echo "jextract.sh: bindings in $out, header hash $(cat "$res/ual.h.sha256")"
