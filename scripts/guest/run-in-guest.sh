#!/usr/bin/env bash
# Boot Debian's kernel under QEMU, load a kernel module, run a command as root
# in a chroot of the host's / (read-only; the repo at its host path) and
# return the command's output and exit code. See scripts/guest/README.md.
#
# Exit codes: the command's own code when it fails; 0 when it and every guest
# check passed; 100 when the command passed but a guest check failed (insmod,
# rmmod, suspicious dmesg); 124 when the guest hit --timeout; 2 usage error.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage() {
    cat <<'USAGE'
usage: scripts/guest/run-in-guest.sh [options] -- CMD [ARG...]
  --module PATH         module to insmod (default native/build/kmod/ualmock.ko)
  --no-module           load no module
  --module-params "..." module parameters, e.g. "accels=4 mem=64M"
  --timeout SECONDS     limit for the command (default 600); the guest as a
                        whole gets 120 s more, then QEMU is killed
  --env NAME=VALUE      set a variable for CMD (repeatable); JAVA_HOME and
                        UAL_* variables of the caller are passed on anyway
  --results DIR         host directory shared writable with the guest (at the
                        same path); kept afterwards. Default: a temp dir,
                        removed unless the run failed or --keep is given
  --keep                keep the temp results dir
  --stream              show the command's output live (stdout+stderr merged)
  --verbose             show the guest console live
  --qemu-arg ARG        extra QEMU argument (repeatable), e.g. -device edu
  --append ARGS         extra kernel command line
  --smp N / --mem MB    guest CPUs (default 2) / memory (default 2048)
USAGE
}

module="$UAL_ROOT/native/build/kmod/ualmock.ko"
params="" timeout=600 results="" keep=0 stream=0 verbose=0 append="" smp=2 mem=2048
envs=() qemu_extra=()
while [ $# -gt 0 ]; do
    case "$1" in
    --module) module="$(realpath "$2")"; shift 2 ;;
    --no-module) module=""; shift ;;
    --module-params) params="$2"; shift 2 ;;
    --timeout) timeout="$2"; shift 2 ;;
    --env) envs+=("$2"); shift 2 ;;
    --results) results="$2"; keep=1; shift 2 ;;
    --keep) keep=1; shift ;;
    --stream) stream=1; shift ;;
    --verbose) verbose=1; shift ;;
    --qemu-arg) qemu_extra+=("$2"); shift 2 ;;
    --append) append="$2"; shift 2 ;;
    --smp) smp="$2"; shift 2 ;;
    --mem) mem="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    *) usage >&2; ual_log "error: unknown option '$1' (the command goes after --)"; exit 2 ;;
    esac
done
[ $# -gt 0 ] || { usage >&2; ual_log "error: no command given after --"; exit 2; }
[[ "$timeout" =~ ^[1-9][0-9]*$ ]] || { ual_log "error: --timeout must be a positive number of seconds, got '$timeout'"; exit 2; }
if [ -n "$module" ] && [ ! -f "$module" ]; then
    ual_log "error: module $module does not exist (build it: make -C native kmod; or pass --no-module)"
    exit 2
fi

ual_guest_ensure_packages
kver="$(ual_guest_kver)"
initrd="$(ual_guest_initramfs "$kver")"

if [ -n "$results" ]; then
    mkdir -p "$results"; results="$(realpath "$results")"
    rm -f "$results"/{status,stdout,stderr,dmesg,dmesg.bad,cmd.rc,insmod.err,rmmod.err,ps.after,console.log}
else
    results="$(mktemp -d "${TMPDIR:-/tmp}/ualguest.XXXXXX")"
fi
chmod 777 "$results"   # the command may run tests as another user

# The job: variables for /init, and the command as a bash script.
{
    printf 'RESULTS=%q\nMODULE=%q\nMODULE_PARAMS=%q\nCMD_TIMEOUT=%q\nSTREAM=%q\n' \
        "$results" "$module" "$params" "$timeout" "$stream"
    # Host directories the guest's fresh /tmp and /run must not hide: the
    # repository (a CI clone may live under /tmp) and the working directory.
    printf 'KEEP_DIRS=%q\n' "$UAL_ROOT $(pwd)"
} >"$results/job.env"
{
    echo '#!/bin/bash'
    echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
    echo 'export HOME=/tmp/home LANG=C.UTF-8'
    echo 'mkdir -p "$HOME"'
    printf 'export UAL_GUEST_RESULTS=%q\n' "$results"
    # JAVA_HOME and our own settings follow the caller into the guest.
    while IFS='=' read -r name value; do
        printf 'export %s=%q\n' "$name" "$value"
    done < <(env | grep -E '^(JAVA_HOME|UAL_[A-Z0-9_]*)=' | grep -v '^UAL_GUEST_' || true)
    for e in "${envs[@]}"; do
        printf 'export %s=%q\n' "${e%%=*}" "${e#*=}"
    done
    printf 'cd %q || exit 126\n' "$PWD"
    printf 'exec'; printf ' %q' "$@"; echo
} >"$results/cmd.sh"

qemu=(qemu-system-x86_64
    # KVM hangs on our machines: TCG. Single-threaded TCG: with one host
    # thread per vCPU, QEMU 7.2 let a vCPU run a stale translation of code
    # the JVM was patching on the other (SIGILL/SIGSEGV in freshly patched
    # JIT entries); one thread round-robins both vCPUs and keeps code
    # invalidation synchronous, while the guest still has 2 CPUs.
    -machine q35 -accel tcg,thread=single -cpu max -smp "$smp" -m "$mem"
    -nographic -no-reboot
    -kernel "/boot/vmlinuz-$kver" -initrd "$initrd"
    -append "console=ttyS0 quiet panic=-1 $append"
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
    -virtfs "local,path=$results,mount_tag=results,security_model=none,multidevs=remap"
    "${qemu_extra[@]}")

ual_log "guest: kernel $kver, module ${module:-none}${params:+ ($params)}, timeout ${timeout}s"
start=$(date +%s.%N)
# Margin for boot, rmmod and dmesg; TCG boots in ~2 s.
host_limit=$((timeout + ${UAL_GUEST_MARGIN:-120}))
set +e
if [ "$verbose" = 1 ] || [ "$stream" = 1 ]; then
    timeout -k 5 "$host_limit" "${qemu[@]}" </dev/null 2>&1 | tee "$results/console.log" \
        | if [ "$verbose" = 1 ]; then cat >&2; else awk '/ualguest: running the command/ { on = 1; next } /reboot: Power down/ { next } on' >&2; fi
    qrc=${PIPESTATUS[0]}
else
    timeout -k 5 "$host_limit" "${qemu[@]}" </dev/null >"$results/console.log" 2>&1
    qrc=$?
fi
set -e
wall=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')

# Last value of a key in the guest's status file (empty if absent).
st() { [ -f "$results/status" ] && sed -n "s/^$1=//p" "$results/status" | tail -n1 || true; }
fail=""
if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
    fail="guest did not power off within ${host_limit}s: QEMU killed (hung kernel or command?)"
elif [ "$qrc" -ne 0 ]; then
    fail="QEMU exited with $qrc"
fi
if [ -z "$fail" ] && [ ! -s "$results/status" ]; then
    fail="the guest wrote no status (init failed before mounting the results share)"
fi

# Replay the command's output (unless it was streamed already).
if [ "$stream" = 0 ]; then
    [ -f "$results/stdout" ] && cat "$results/stdout"
    [ -f "$results/stderr" ] && cat "$results/stderr" >&2
fi

rc=0
cmd_rc="$(st cmd)"
if [ -n "$(st error)" ]; then
    fail="${fail:+$fail; }$(st error)"
fi
if [ -n "$module" ] && [ "$(st insmod)" != "" ] && [ "$(st insmod)" != 0 ]; then
    fail="${fail:+$fail; }insmod $(basename "$module") ${params} failed: $(cat "$results/insmod.err" 2>/dev/null)"
fi
if [ "$cmd_rc" = 124 ] || [ "$cmd_rc" = 137 ]; then
    fail="${fail:+$fail; }the command timed out after ${timeout}s (killed)"
fi
if [ -n "$module" ] && [ -n "$(st rmmod)" ] && [ "$(st rmmod)" != 0 ]; then
    fail="${fail:+$fail; }rmmod failed: $(cat "$results/rmmod.err" 2>/dev/null) (processes left: $results/ps.after)"
fi
if [ -n "$(st dmesg_bad)" ] && [ "$(st dmesg_bad)" != 0 ]; then
    fail="${fail:+$fail; }kernel log has $(st dmesg_bad) suspicious line(s) (full log: $results/dmesg):"$'\n'"$(head -n 20 "$results/dmesg.bad")"
fi
if [ -z "$fail" ] && [ "$(st done)" != 1 ]; then
    fail="the guest did not finish its job (see $results/console.log)"
fi

if [ -n "$cmd_rc" ] && [ "$cmd_rc" != 0 ]; then
    rc="$cmd_rc"
elif [ -n "$fail" ]; then
    rc=100
fi
[ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ] || [ "$cmd_rc" = 124 ] && rc=124

boot="$(st booted)"
ual_log "guest: wall ${wall}s (kernel up after ${boot:-?}s guest time), command exit ${cmd_rc:-none}"
if [ -n "$fail" ]; then
    ual_log "guest FAILED: $fail"
    if [ -s "$results/dmesg" ] && [ "$(st done)" != 1 ]; then
        ual_log "last kernel log lines:"; tail -n 15 "$results/dmesg" >&2
    elif [ ! -s "$results/status" ] || [ "$(st done)" != 1 ]; then
        ual_log "last console lines:"; tail -n 25 "$results/console.log" >&2 || true
    fi
    keep=1
fi
if [ "$keep" = 1 ]; then ual_log "guest results in $results"; else rm -rf "$results"; fi
exit "$rc"
