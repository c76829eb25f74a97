#!/usr/bin/env bash
# The steps of scripts/guest/kmod-tests.sh, run INSIDE the guest (root, in the
# chroot of the host's /, ualmock loaded). Each step appends one line to
# $UAL_GUEST_RESULTS/summary.tsv:
#   name <TAB> passed <TAB> failed <TAB> calls <TAB> note
# and keeps its output in <name>.log. A step never stops the others.
set -uo pipefail
R="${UAL_GUEST_RESULTS:?run me through scripts/guest/run-in-guest.sh}"
cd "$(dirname "$0")/../.."
ROOT="$PWD"
URI="kmod:/dev/ualmock"
FAKE_URI="fake:?$(echo $UAL_KMOD_PARAMS | tr ' ' '&')"	# the same fabric in the fake backend
SEED="${UAL_KMOD_SEED:-1}"
STRESS_SECONDS="${UAL_KMOD_STRESS_SECONDS:-20}"
JAR="$ROOT/java/ualctl/target/ualctl.jar"
JAVA="${JAVA_HOME:?JAVA_HOME must name a JDK >= 23}/bin/java"
# A JVM crash report must survive the guest: write it to the results.
export JAVA_TOOL_OPTIONS="${JAVA_TOOL_OPTIONS:-} -XX:ErrorFile=$R/hs_err_pid%p.log"
STATE=/sys/kernel/debug/ualmock/state
: >"$R/summary.tsv"

record() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$R/summary.tsv"; }
say() { printf '== %s\n' "$*"; }

# Sum an attribute over the <testsuite> elements of JUnit XML files.
junit_sum() {
    local attr="$1"; shift
    cat "$@" 2>/dev/null | grep -o "<testsuite [^>]*" | grep -o " $attr=\"[0-9]*\"" \
        | grep -o '[0-9]*' | awk '{ s += $1 } END { print s + 0 }'
}

# Counters of the module's debugfs state that show something still held, as
# "name value" lines: every object count must be zero; a domain keeps at most
# its root table once used (empty tables are reclaimed, never the root).
state_leaks() {
    awk -v roots="$ACCELS" '
        /^(open_files|pinned_pages|host_regs|iova_ranges|mapped_pages|mem_blocks|grants) / && $2 != 0
        /^pt_pages_used / && $2 > roots' "$STATE"
}

# rmmod + insmod with the same parameters; rmmod must succeed (no file open).
reload_module() {
    rmmod ualmock || return 1
    # shellcheck disable=SC2086 # a list of name=value words
    insmod "${UAL_KMOD_KO:?}" $UAL_KMOD_PARAMS || return 1
    for _ in $(seq 50); do [ -e /dev/ualmock ] && return 0; sleep 0.1; done
    echo "/dev/ualmock did not appear"; return 1
}

[ -e /dev/ualmock ] || { record setup 0 1 0 "/dev/ualmock missing: is ualmock loaded?"; exit 1; }
say "fabric: $UAL_KMOD_PARAMS; state before the tests:"; cat "$STATE"
ACCELS="$(cat /sys/module/ualmock/parameters/accels 2>/dev/null || echo "$UAL_KMOD_PARAMS" | sed -n 's/.*accels=\([0-9]*\).*/\1/p')"
ACCELS="${ACCELS:-4}"

# (a) C cmocka suites that take UAL_TEST_URI, against the module.
for src in "$ROOT"/native/tests/test_*.c; do
    grep -q UAL_TEST_URI "$src" || continue
    name="$(basename "$src" .c)"
    bin="$ROOT/native/build/obj/tests/$name"
    say "C suite $name on $URI"
    rm -f "$R/cmocka-$name"-*.xml
    UAL_TEST_URI="$URI" CMOCKA_MESSAGE_OUTPUT=xml CMOCKA_XML_FILE="$R/cmocka-$name-%g.xml" \
        timeout 600 "$bin" >"$R/c-$name.log" 2>&1
    rc=$?
    tests=$(junit_sum tests "$R/cmocka-$name"-*.xml)
    bad=$(( $(junit_sum failures "$R/cmocka-$name"-*.xml) + $(junit_sum errors "$R/cmocka-$name"-*.xml) ))
    skipped=$(junit_sum skipped "$R/cmocka-$name"-*.xml)
    note="$skipped skipped"
    if [ "$tests" = 0 ]; then bad=1; note="no results (exit $rc), see c-$name.log"
    elif [ "$rc" != 0 ] && [ "$bad" = 0 ]; then bad=1; note="exit $rc with no failed test, see c-$name.log"; fi
    record "c:$name" $((tests - bad - skipped)) "$bad" "-" "$note"
done

# (b) Java conformance suite on kmod, then the fake-vs-kmod differential.
say "Java conformance on $URI"
timeout 900 "$JAVA" -jar "$JAR" conformance --uri "$URI" --no-progress \
    --junit-xml "$R/conformance-kmod.xml" >"$R/conformance.log" 2>&1
rc=$?
tests=$(junit_sum tests "$R/conformance-kmod.xml")
bad=$(( $(junit_sum failures "$R/conformance-kmod.xml") + $(junit_sum errors "$R/conformance-kmod.xml") ))
skipped=$(junit_sum skipped "$R/conformance-kmod.xml")
note="$skipped skipped"
if [ "$tests" = 0 ]; then bad=1; note="no results (exit $rc), see conformance.log"
elif [ "$rc" != 0 ] && [ "$bad" = 0 ]; then bad=1; note="exit $rc, see conformance.log"; fi
record "java:conformance" $((tests - bad - skipped)) "$bad" "-" "$note"

say "differential: $URI vs $FAKE_URI"
"$JAVA" -jar "$JAR" --help >"$R/ualctl-help.log" 2>&1
if ! grep -q '^ *diff ' "$R/ualctl-help.log"; then
    record "java:diff" 0 1 0 "not available: 'ualctl --help' lists no 'diff' subcommand (ualctl-help.log)"
else
    ops=3000 failed=0 note=""
    for s in "$SEED" $((SEED + 1)) $((SEED + 2)); do
        # The module's fabric outlives its files (TLB, counters, fault rings):
        # reload it so both sides start from a fresh fabric.
        if ! reload_module >"$R/reload-$s.log" 2>&1; then
            failed=$((failed + 1)); note="${note}seed $s: module reload failed (reload-$s.log) "; continue
        fi
        timeout 600 "$JAVA" -jar "$JAR" diff --uri "$URI" --against "$FAKE_URI" --ops "$ops" --seed "$s" \
            >"$R/diff-$s.log" 2>&1
        rc=$?
        if [ "$rc" != 0 ]; then failed=$((failed + 1)); note="${note}seed $s: exit $rc (diff-$s.log) "; fi
    done
    record "java:diff" $((3 - failed)) "$failed" $((3 * ops * 2)) "${note:-3 seeds x $ops ops, both sides}"
fi

# (c) raw-ioctl stress.
say "ioctl stress: ${STRESS_SECONDS}s, 4 threads, seed $SEED"
timeout $((STRESS_SECONDS + 120)) "$ROOT/native/build/tests/ioctl_stress" --seconds "$STRESS_SECONDS" \
    --seed "$SEED" --threads 4 >"$R/stress.log" 2>&1
rc=$?
line="$(grep '^ioctl_stress: [0-9]* calls' "$R/stress.log" | tail -n1)"
calls="$(echo "$line" | awk '{ print $2 }')"
tail -n 25 "$R/stress.log"
if [ "$rc" = 0 ] && [ -n "$line" ]; then
    record stress 1 0 "$calls" "$(echo "$line" | sed 's/^ioctl_stress: //')"
else
    record stress 0 1 "${calls:-0}" "exit $rc: $(grep -m1 VIOLATION "$R/stress.log" || echo "see stress.log")"
fi

# (d) SIGKILL a process in the middle of heavy ioctls: the module must release
# every file, pin, range, link and grant of it.
say "kill mid-call"
"$ROOT/native/build/tests/ioctl_stress" --hold --threads 4 >"$R/hold.log" 2>&1 &
pid=$!
ok=0 note=""
for _ in $(seq 100); do grep -q 'hold: ready' "$R/hold.log" && { ok=1; break; }; sleep 0.1; done
if [ "$ok" = 0 ]; then
    note="holder never got ready: $(tail -n3 "$R/hold.log" | tr '\n' ' ')"
else
    sleep 1
    cp "$STATE" "$R/state-holding.txt"
    held="$(state_leaks)"
    kill -KILL "$pid"; wait "$pid" 2>/dev/null
    # Release runs when the last reference goes: give it a moment.
    for _ in $(seq 50); do [ -z "$(state_leaks)" ] && break; sleep 0.1; done
    cp "$STATE" "$R/state-after-kill.txt"
    left="$(state_leaks)"
    if ! echo "$held" | grep -q '^pinned_pages' || ! echo "$held" | grep -q '^open_files'; then
        ok=0; note="the holder had nothing pinned/open while running (state-holding.txt): the check proves nothing"
    elif [ -n "$left" ]; then
        ok=0; note="left after SIGKILL: $(echo $left)"
    else
        note="held $(echo "$held" | tr '\n' ' ')-> all zero after SIGKILL"
    fi
fi
kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
record kill-mid-call "$ok" $((1 - ok)) - "$note"

# Everything above closed its files: nothing may be left behind.
left="$(state_leaks)"
cp "$STATE" "$R/state-final.txt"
if [ -z "$left" ]; then record leaks 1 0 - "debugfs state all zero"; else record leaks 0 1 - "$(echo $left)"; fi
say "state after the tests:"; cat "$STATE"
exit 0
