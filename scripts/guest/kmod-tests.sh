#!/usr/bin/env bash
# The whole ualmock test run in one QEMU guest: build the module, the C suites,
# the ioctl stress and the jars on the host; boot once; inside run
# scripts/guest/kmod-steps.sh (C suites and Java conformance on kmod:, the
# fake-vs-kmod differential, the ioctl stress, a SIGKILL-mid-call release
# check, a leak check); the guest's /init then rmmods the module and checks
# dmesg. Prints a table and "N passed, N failed"; exits non-zero on any failure.
#
# Environment: UAL_KMOD_PARAMS (module parameters, default "accels=4 mem=1G"),
# UAL_KMOD_SEED (default 1), UAL_KMOD_STRESS_SECONDS (default 20).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

params="${UAL_KMOD_PARAMS:-accels=4 mem=1G}"
R="$UAL_GUEST_BUILD/kmod-results"

ual_ensure_build_deps
ual_guest_ensure_packages
kver="$(ual_guest_kver)"

ual_log "building ualmock.ko for $kver, the C suites, the ioctl stress"
make -s -C "$UAL_ROOT/native" kmod KVER="$kver" >/dev/null
suites=()
for src in "$UAL_ROOT"/native/tests/test_*.c; do
    grep -q UAL_TEST_URI "$src" && suites+=("$UAL_ROOT/native/build/obj/tests/$(basename "$src" .c)")
done
make -s -C "$UAL_ROOT/native" lib stress "${suites[@]}"
if ual_jar_stale; then
    ual_log "building the jars"
    ual_mvn -q -DskipTests package >&2
fi

rm -rf "$R"; mkdir -p "$R"
ual_log "booting the guest (module parameters: $params)"
start=$(date +%s.%N)
set +e
"$UAL_GUEST_DIR/run-in-guest.sh" --results "$R" --stream --timeout 2400 \
    --module-params "$params" --env "UAL_KMOD_PARAMS=$params" --env "UAL_KMOD_KO=$UAL_ROOT/native/build/kmod/ualmock.ko" \
    -- "$UAL_GUEST_DIR/kmod-steps.sh"
grc=$?
set -e
wall=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')

# The guest's own checks (/init): rmmod and the kernel log.
st() { [ -f "$R/status" ] && sed -n "s/^$1=//p" "$R/status" | tail -n1 || true; }
[ -f "$R/summary.tsv" ] || printf 'guest\t0\t1\t-\tno summary: guest run exited %s (see %s)\n' "$grc" "$R" >"$R/summary.tsv"
if [ "$(st rmmod)" = 0 ]; then
    printf 'rmmod\t1\t0\t-\tualmock unloaded\n' >>"$R/summary.tsv"
else
    printf 'rmmod\t0\t1\t-\trmmod exit %s: %s\n' "$(st rmmod)" "$(cat "$R/rmmod.err" 2>/dev/null)" >>"$R/summary.tsv"
fi
if [ "$(st dmesg_bad)" = 0 ]; then
    printf 'dmesg\t1\t0\t-\tno BUG/WARNING/Oops/Call Trace\n' >>"$R/summary.tsv"
else
    printf 'dmesg\t0\t1\t-\t%s suspicious lines: %s\n' "$(st dmesg_bad)" \
        "$(head -n1 "$R/dmesg.bad" 2>/dev/null)" >>"$R/summary.tsv"
fi
if [ "$grc" = 124 ]; then
    printf 'guest\t0\t1\t-\ttimed out (see %s/console.log)\n' "$R" >>"$R/summary.tsv"
elif [ "$grc" != 0 ] && ! awk -F'\t' '$3 > 0 { bad = 1 } END { exit !bad }' "$R/summary.tsv"; then
    printf 'guest\t0\t1\t-\tguest run exited %s with no failed step (see %s)\n' "$grc" "$R" >>"$R/summary.tsv"
fi

echo
printf '%-26s %7s %7s %10s  %s\n' step passed failed calls note
awk -F'\t' '{ printf "%-26s %7s %7s %10s  %s\n", $1, $2, $3, $4, $5 }' "$R/summary.tsv"
passed=$(awk -F'\t' '{ s += $2 } END { print s + 0 }' "$R/summary.tsv")
failed=$(awk -F'\t' '{ s += $3 } END { print s + 0 }' "$R/summary.tsv")
calls=$(awk -F'\t' '$4 ~ /^[0-9]+$/ { s += $4 } END { print s + 0 }' "$R/summary.tsv")
t_cmd=$(awk -v a="$(st cmd_start)" -v b="$(st cmd_end)" 'BEGIN { if (a != "" && b != "") printf "%.1f", b - a; else print "?" }')
echo
echo "guest wall time ${wall}s (boot to tests $(st booted)s, tests ${t_cmd}s in the guest); calls counted: $calls (stress ioctls + differential ops); results in $R"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
