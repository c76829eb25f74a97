#!/usr/bin/env bash
# The vfio: backend on a real PCI device: QEMU's edu, in two guests.
#  1. virtual mode: -device intel-iommu + edu, kernel intel_iommu=on, edu bound
#     to vfio-pci: test_vfio (planner, refusals, round trip, unlinked-IOVA
#     fault), ualctl info/map/conformance on vfio:<BDF>, the Java test
#     (a Java-owned buffer through the IOMMU into the device and back).
#  2. physical mode: no IOMMU, edu bound to uio_pci_generic, a 256 MiB guest
#     (every page below edu's 28-bit DMA limit): the same, by physical address.
# Prints a table and "N passed, N failed"; exits non-zero on any failure.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

R="$UAL_GUEST_BUILD/vfio-results"
G="$UAL_GUEST_BUILD"
export UAL_GUEST_EXTRA_MODULES="${UAL_GUEST_EXTRA_MODULES:-} vfio_pci vfio_iommu_type1 uio_pci_generic"

ual_ensure_build_deps
ual_guest_ensure_packages
ual_log "building libual, test_vfio, the jars and the Java test classpath"
make -s -C "$UAL_ROOT/native" lib "$UAL_ROOT/native/build/obj/tests/test_vfio"
# The jars carry libual.so: repackage when any source is newer than them.
if ual_jar_stale; then
    ual_mvn -q -Dmaven.test.skip=true package >&2
fi
ual_mvn -q -pl java/ualbridge dependency:build-classpath -Dmdep.includeScope=test \
    -Dmdep.outputFile="$G/vfio-java-cp.txt" >&2
[ -f "$G/junit-console.jar" ] || { ual_mvn -q dependency:copy \
    -Dartifact=org.junit.platform:junit-platform-console-standalone:1.14.1 \
    -DoutputDirectory="$G" -Dmdep.stripVersion=true >&2 && \
    mv "$G/junit-platform-console-standalone.jar" "$G/junit-console.jar"; }
# Only the vfio test class: the guest runs it with the JUnit console launcher.
rm -rf "$G/vfio-test-classes"
"$JAVA_HOME/bin/javac" -d "$G/vfio-test-classes" \
    -cp "$UAL_ROOT/java/ualbridge/target/classes:$(cat "$G/vfio-java-cp.txt")" \
    "$UAL_ROOT/java/ualbridge/src/test/java/io/ualbridge/vfio/VfioDeviceTest.java"

rm -rf "$R"; mkdir -p "$R"
: >"$R/summary.tsv"
boot() { # mode, extra run-in-guest args...
    local mode="$1" rc; shift
    ual_log "booting the $mode-mode guest"
    set +e
    "$UAL_GUEST_DIR/run-in-guest.sh" --no-module --results "$R/$mode" --timeout 600 "$@" \
        --qemu-arg -device --qemu-arg edu -- "$UAL_GUEST_DIR/vfio-steps.sh" "$mode" >"$R/$mode.log" 2>&1
    rc=$?
    set -e
    local st="$R/$mode/status"
    [ -f "$R/$mode/summary.tsv" ] && cat "$R/$mode/summary.tsv" >>"$R/summary.tsv"
    [ -f "$R/$mode/summary.tsv" ] || printf '%s:guest\t0\t1\t-\tno summary: run exited %s (%s)\n' "$mode" "$rc" "$R/$mode.log" >>"$R/summary.tsv"
    if [ "$(sed -n 's/^dmesg_bad=//p' "$st" 2>/dev/null | tail -n1)" = 0 ]; then
        printf '%s:dmesg\t1\t0\t-\tno BUG/WARNING/Oops/Call Trace\n' "$mode" >>"$R/summary.tsv"
    else
        printf '%s:dmesg\t0\t1\t-\tsuspicious kernel lines: %s\n' "$mode" "$(head -n1 "$R/$mode/dmesg.bad" 2>/dev/null)" >>"$R/summary.tsv"
    fi
    # QEMU itself must still be alive at the end: an aborting edu kills it mid-run.
    if grep -q "EDU: DMA range\|hw_error\|Aborted" "$R/$mode/console.log" 2>/dev/null; then
        printf '%s:qemu\t0\t1\t-\tQEMU aborted: %s\n' "$mode" "$(grep -m1 'EDU' "$R/$mode/console.log")" >>"$R/summary.tsv"
    elif [ "$(sed -n 's/^done=//p' "$st" 2>/dev/null)" = 1 ]; then
        printf '%s:qemu\t1\t0\t-\tQEMU ran to power-off (no abort)\n' "$mode" >>"$R/summary.tsv"
    else
        printf '%s:qemu\t0\t1\t-\tthe guest did not finish (exit %s, see %s/console.log)\n' "$mode" "$rc" "$R/$mode" >>"$R/summary.tsv"
    fi
}
start=$(date +%s.%N)
boot virtual --qemu-arg -machine --qemu-arg q35,kernel-irqchip=split \
    --qemu-arg -device --qemu-arg intel-iommu,intremap=on --append "intel_iommu=on iommu=nopt"
boot physical --mem 256
wall=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')

echo
printf '%-30s %7s %7s %8s  %s\n' step passed failed seconds note
awk -F'\t' '{ printf "%-30s %7s %7s %8s  %s\n", $1, $2, $3, $4, $5 }' "$R/summary.tsv"
for m in virtual physical; do
    [ -f "$R/$m/$m-conformance.log" ] || continue
    echo; echo "conformance on vfio: ($m mode), skipped checks:"
    grep -E 'SKIP' "$R/$m/$m-conformance.log" | sed 's/^/  /' || true
done
passed=$(awk -F'\t' '{ s += $2 } END { print s + 0 }' "$R/summary.tsv")
failed=$(awk -F'\t' '{ s += $3 } END { print s + 0 }' "$R/summary.tsv")
echo
echo "two guests, wall time ${wall}s; results in $R"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
