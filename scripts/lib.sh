# Shared helpers for ualbridge scripts. Source it; do not run it.
# shellcheck shell=bash

UAL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

ual_log() { printf '[ualbridge] %s\n' "$*" >&2; }
ual_die() { printf '[ualbridge] error: %s\n' "$*" >&2; exit 1; }

# Print the feature release of the JDK at $1 (e.g. 25), or nothing.
ual_jdk_release() {
    local rel="$1/release"
    [ -x "$1/bin/java" ] && [ -x "$1/bin/javac" ] && [ -f "$rel" ] || return 0
    sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$rel"
}

# Export JAVA_HOME as a JDK >= 23 (FFM is final from 22; the jextract bindings use 23 APIs). Honour a suitable
# JAVA_HOME, else take the newest JDK under /usr/lib/jvm.
ual_find_jdk() {
    local best="" best_rel=0 cand rel
    if [ -n "${JAVA_HOME:-}" ]; then
        rel="$(ual_jdk_release "$JAVA_HOME")"
        if [ -n "$rel" ] && [ "$rel" -ge 23 ]; then export JAVA_HOME; return 0; fi
    fi
    for cand in /usr/lib/jvm/*; do
        [ -L "$cand" ] && continue
        rel="$(ual_jdk_release "$cand")"
        if [ -n "$rel" ] && [ "$rel" -ge 23 ] && [ "$rel" -gt "$best_rel" ]; then
            best="$cand"; best_rel="$rel"
        fi
    done
    [ -n "$best" ] || ual_die "no JDK >= 23 found (JAVA_HOME or /usr/lib/jvm/*); install one, e.g. Temurin 25"
    export JAVA_HOME="$best"
    export PATH="$JAVA_HOME/bin:$PATH"
}

# Install the Debian packages named, if missing (needs root or sudo).
ual_ensure_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    ual_log "installing Debian packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || ual_die "apt-get install ${missing[*]} failed"
}

# Everything a build needs: C toolchain, cmocka, Maven, a JDK >= 23.
ual_ensure_build_deps() {
    ual_ensure_packages gcc make libc6-dev libcmocka-dev pkg-config maven
    ual_find_jdk
}

# True when the ualctl jar (which also carries libual.so and the library's
# classes) is missing or older than a source it is built from.
ual_jar_stale() {
    local jar="$UAL_ROOT/java/ualctl/target/ualctl.jar"
    [ ! -f "$jar" ] && return 0
    [ -n "$(find "$UAL_ROOT/pom.xml" "$UAL_ROOT/native" "$UAL_ROOT/java" -newer "$jar" -type f \
        \( -name '*.c' -o -name '*.h' -o -name '*.java' -o -name pom.xml -o -name Makefile \) \
        -not -path '*/target/*' -not -path '*/build/*' -print -quit)" ]
}

# Maven in batch mode, quiet about downloads.
ual_mvn() {
    mvn -B -ntp -f "$UAL_ROOT/pom.xml" "$@"
}
