#!/usr/bin/env bash
# The steps of scripts/guest/vfio-tests.sh, run INSIDE a guest (root, chroot of
# the host's /) that has QEMU's edu device. $1 = virtual (intel-iommu, bind
# edu to vfio-pci) or physical (no IOMMU, bind edu to uio_pci_generic). Each
# step appends "name<TAB>passed<TAB>failed<TAB>seconds<TAB>note" to
# $UAL_GUEST_RESULTS/summary.tsv and keeps its output in <mode>-<step>.log.
set -uo pipefail
MODE="${1:?usage: vfio-steps.sh virtual|physical}"
R="${UAL_GUEST_RESULTS:?run me through scripts/guest/run-in-guest.sh}"
cd "$(dirname "$0")/../.."
ROOT="$PWD"
JAR="$ROOT/java/ualctl/target/ualctl.jar"
JAVA="${JAVA_HOME:?JAVA_HOME must name a JDK >= 23}/bin/java"
export JAVA_TOOL_OPTIONS="${JAVA_TOOL_OPTIONS:-} -XX:ErrorFile=$R/hs_err_pid%p.log"
# The physical-mode guest is small (every page below edu's 28-bit limit).
[ "$MODE" = physical ] && export JAVA_TOOL_OPTIONS="$JAVA_TOOL_OPTIONS -Xmx96m -XX:+UseSerialGC -XX:TieredStopAtLevel=1"

record() { printf '%s\t%s\t%s\t%s\t%s\n' "$MODE:$1" "$2" "$3" "$4" "$5" >>"$R/summary.tsv"; }
say() { printf '== [%s] %s\n' "$MODE" "$*"; }
now() { date +%s.%N; }
since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.1f", e - s }'; }
junit_sum() {
    local attr="$1"; shift
    cat "$@" 2>/dev/null | grep -o "<testsuite [^>]*" | grep -o " $attr=\"[0-9]*\"" \
        | grep -o '[0-9]*' | awk '{ s += $1 } END { print s + 0 }'
}
# Record a step from JUnit XML files: passed = tests - failures - errors - skipped.
record_junit() {
    local name="$1" t0="$2" note="$3"; shift 3
    local tests bad skipped
    tests=$(junit_sum tests "$@"); skipped=$(junit_sum skipped "$@")
    bad=$(( $(junit_sum failures "$@") + $(junit_sum errors "$@") ))
    [ "$tests" -gt 0 ] || bad=$((bad + 1))
    record "$name" $((tests - bad - skipped)) "$bad" "$(since "$t0")" "$skipped skipped; $note"
}

# ---- find and bind edu -----------------------------------------------------
BDF=""
for d in /sys/bus/pci/devices/*; do
    if [ "$(cat "$d/vendor")" = 0x1234 ] && [ "$(cat "$d/device")" = 0x11e8 ]; then BDF="${d##*/}"; fi
done
[ -n "$BDF" ] || { record setup 0 1 0 "no edu device (1234:11e8) in the guest"; exit 1; }
DRIVER=vfio-pci
[ "$MODE" = physical ] && DRIVER=uio_pci_generic
t0=$(now)
echo "$DRIVER" >"/sys/bus/pci/devices/$BDF/driver_override"
echo "$BDF" >/sys/bus/pci/drivers_probe 2>/dev/null
bound="$(basename "$(readlink "/sys/bus/pci/devices/$BDF/driver" 2>/dev/null)" 2>/dev/null)"
if [ "$bound" != "$DRIVER" ]; then
    record bind 0 1 0 "edu $BDF bound to '${bound:-nothing}', not $DRIVER"; exit 1
fi
note="edu $BDF bound to $DRIVER"
if [ "$MODE" = virtual ]; then
    group="$(basename "$(readlink "/sys/bus/pci/devices/$BDF/iommu_group")")"
    [ -e "/dev/vfio/$group" ] || { record bind 0 1 0 "no /dev/vfio/$group"; exit 1; }
    note="$note, IOMMU group $group (/dev/vfio/$group)"
elif [ -e "/sys/bus/pci/devices/$BDF/iommu_group" ]; then
    record bind 0 1 0 "physical mode wants no IOMMU, but $BDF has an IOMMU group"; exit 1
fi
record bind 1 0 "$(since "$t0")" "$note"
URI="vfio:$BDF"
[ "$MODE" = physical ] && URI="vfio:$BDF?mode=physical"
say "$note; URI $URI"

# ---- (a) C suite: planner, refusals, round trip, unlinked IOVA ----------------
say "C suite test_vfio"
t0=$(now)
rm -f "$R/cmocka-$MODE-"*.xml
UAL_VFIO_URI="$URI" CMOCKA_MESSAGE_OUTPUT=xml CMOCKA_XML_FILE="$R/cmocka-$MODE-%g.xml" \
    "$ROOT/native/build/obj/tests/test_vfio" >"$R/$MODE-c.log" 2>&1
UAL_VFIO_URI="$URI" "$ROOT/native/build/obj/tests/test_vfio" >"$R/$MODE-c-text.log" 2>&1
record_junit c-test_vfio "$t0" "$(grep -h -E '^(unlinked|never linked):' "$R/$MODE-c-text.log" | head -n1 | cut -c1-160)" \
    "$R/cmocka-$MODE-"*.xml

# ---- (b) ualctl on vfio: info, map, conformance ------------------------------
say "ualctl info / map / copy"
t0=$(now)
ok=0; bad=0; notes=""
if "$JAVA" -jar "$JAR" info --uri "$URI" >"$R/$MODE-info.log" 2>&1 && grep -q vfio "$R/$MODE-info.log"; then ok=$((ok+1)); else bad=$((bad+1)); notes="$notes info failed;"; fi
# edu has one page of device memory.
if "$JAVA" -jar "$JAR" map --uri "$URI" --mode "$MODE" --pages 1 >"$R/$MODE-map.log" 2>&1; then ok=$((ok+1)); else bad=$((bad+1)); notes="$notes map failed;"; fi
# edu has no CPU window and one accelerator: ualctl copy makes a host round
# trip (host buffer -> edu -> host buffer) and verifies every byte. 4032 bytes
# stay clear of the buffer's last byte, which QEMU 7.2 cannot take.
if "$JAVA" -jar "$JAR" copy --uri "$URI" --mode "$MODE" --size 4032 --no-progress >"$R/$MODE-copy.log" 2>&1 \
        && grep -q "host round trip" "$R/$MODE-copy.log" && grep -q "PASS (every byte)" "$R/$MODE-copy.log"; then
    ok=$((ok+1)); notes="$notes copy round trip verified;"
else bad=$((bad+1)); notes="$notes copy failed;"; fi
record ualctl-info-map-copy "$ok" "$bad" "$(since "$t0")" "$notes see $MODE-{info,map,copy}.log"

say "ualctl conformance"
t0=$(now)
"$JAVA" -jar "$JAR" conformance --uri "$URI" --junit-xml "$R/conformance-$MODE.xml" >"$R/$MODE-conformance.log" 2>&1
record_junit conformance "$t0" "skips listed in $MODE-conformance.log" "$R/conformance-$MODE.xml"

# ---- (c) Java: a Java-owned buffer through the device and back --------------
say "Java VfioDeviceTest"
t0=$(now)
CP="$(cat "$ROOT/native/build/guest/vfio-java-cp.txt")"
"$JAVA" --enable-native-access=ALL-UNNAMED -Dualbridge.vfio.uri="$URI" \
    -jar "$ROOT/native/build/guest/junit-console.jar" execute --disable-banner --include-engine junit-jupiter \
    --class-path "$ROOT/native/build/guest/vfio-test-classes:$ROOT/java/ualbridge/target/classes:$CP" \
    --select-class io.ualbridge.vfio.VfioDeviceTest --reports-dir "$R/java-$MODE" >"$R/$MODE-java.log" 2>&1
record_junit java-VfioDeviceTest "$t0" "$(grep -h 'bytes' "$R/$MODE-java.log" | head -n1 | cut -c1-160)" \
    "$R/java-$MODE/"*.xml

dmesg | grep -E 'DMAR|edu|vfio' | tail -n 20 >"$R/$MODE-dmesg-dmar.log"
exit 0
