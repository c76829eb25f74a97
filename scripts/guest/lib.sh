# Shared helpers for the QEMU guest harness. Source it; do not run it.
# shellcheck shell=bash
#
# The guest is Debian's own kernel booted by QEMU (TCG: KVM hangs on the
# machines we run on) with a tiny busybox initramfs. The initramfs only loads
# the virtio/9p modules, mounts the host's / read-only over 9p and a writable
# 9p share for results, and chroots into the host root: the guest sees the
# repository, the JDK and the test binaries at their host paths.

# shellcheck source=../lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"

UAL_GUEST_DIR="$UAL_ROOT/scripts/guest"
UAL_GUEST_BUILD="$UAL_ROOT/native/build/guest"

# Kernel modules the initramfs loads before anything else, in this order
# (dependencies are added and ordered automatically). Extend here, or per run
# with the environment variable UAL_GUEST_EXTRA_MODULES (space separated),
# e.g. "intel_iommu vfio vfio_iommu_type1 vfio_pci" for VFIO tests.
UAL_GUEST_MODULES=(virtio_pci 9pnet_virtio 9p)

# Debian packages the guest needs on the host.
ual_guest_ensure_packages() {
    ual_ensure_packages qemu-system-x86 linux-image-amd64 linux-headers-amd64 busybox-static kmod cpio
}

# Print the Debian kernel version the guest boots. NOT `uname -r`: the host may
# run another kernel. Take the newest /lib/modules/*-amd64 that has the kernel
# image and a build dir (needed to build out-of-tree modules for it).
# UAL_GUEST_KVER overrides.
ual_guest_kver() {
    if [ -n "${UAL_GUEST_KVER:-}" ]; then echo "$UAL_GUEST_KVER"; return 0; fi
    local d v best=""
    for d in /lib/modules/*-amd64; do
        v="${d##*/}"
        [ -f "/boot/vmlinuz-$v" ] && [ -d "$d/build" ] && [ -d "$d/kernel" ] || continue
        best="$(printf '%s\n%s\n' "$best" "$v" | sed '/^$/d' | sort -V | tail -n1)"
    done
    [ -n "$best" ] || ual_die "no Debian guest kernel: need /lib/modules/<ver>-amd64 with /boot/vmlinuz-<ver> and a build dir (apt-get install linux-image-amd64 linux-headers-amd64)"
    echo "$best"
}

# Print the modules named (and their dependencies) in load order, one name per
# line, dependencies first, each once. Built-in modules are left out.
# $1 = kernel version, rest = module names.
ual_guest_module_closure() {
    local kver="$1"; shift
    local -A seen=()
    local out=()
    _ual_guest_visit() {
        local m="${1//-/_}" f deps d
        [ -n "${seen[$m]:-}" ] && return 0
        seen[$m]=1
        f="$(modinfo -k "$kver" -F filename "$m" 2>/dev/null)" \
            || ual_die "guest kernel $kver has no module '$m' (modinfo -k $kver $m)"
        [ "$f" = "(builtin)" ] && return 0
        deps="$(modinfo -k "$kver" -F depends "$m")"
        for d in ${deps//,/ }; do _ual_guest_visit "$d"; done
        out+=("$m")
    }
    local m
    for m in "$@"; do _ual_guest_visit "$m"; done
    printf '%s\n' "${out[@]}"
}

# Build (or reuse) the initramfs for kernel $1; print its path. It is cached
# under native/build/guest/ and rebuilt when its inputs change: kernel
# version, module list, busybox binary, init script.
ual_guest_initramfs() {
    local kver="$1" mods key img stamp tmp m f
    # shellcheck disable=SC2086
    mods="$(ual_guest_module_closure "$kver" "${UAL_GUEST_MODULES[@]}" ${UAL_GUEST_EXTRA_MODULES:-})"
    key="$( { echo "$kver"; echo "$mods"; sha256sum /bin/busybox "$UAL_GUEST_DIR/init"; } | sha256sum | cut -c1-16)"
    img="$UAL_GUEST_BUILD/initramfs-$kver-$key.cpio.gz"
    if [ -f "$img" ]; then echo "$img"; return 0; fi
    mkdir -p "$UAL_GUEST_BUILD"
    tmp="$(mktemp -d "$UAL_GUEST_BUILD/initramfs.XXXXXX")"
    mkdir -p "$tmp"/{bin,dev,proc,sys,mnt,results,lib/modules}
    cp /bin/busybox "$tmp/bin/busybox"
    cp "$UAL_GUEST_DIR/init" "$tmp/init"
    chmod 755 "$tmp/init" "$tmp/bin/busybox"
    for m in $mods; do
        f="$(modinfo -k "$kver" -F filename "$m")"
        # busybox insmod wants plain .ko files.
        case "$f" in
        *.ko) cp "$f" "$tmp/lib/modules/$m.ko" ;;
        *.ko.xz) xz -dc "$f" >"$tmp/lib/modules/$m.ko" ;;
        *.ko.zst) zstd -qdc "$f" >"$tmp/lib/modules/$m.ko" ;;
        *.ko.gz) gzip -dc "$f" >"$tmp/lib/modules/$m.ko" ;;
        *) ual_die "unexpected module file $f" ;;
        esac
        echo "$m" >>"$tmp/lib/modules/load-order"
    done
    (cd "$tmp" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 | gzip -1) >"$img.part"
    mv "$img.part" "$img"
    rm -rf "$tmp"
    # Drop stale images of earlier keys.
    for stamp in "$UAL_GUEST_BUILD"/initramfs-*.cpio.gz; do
        [ "$stamp" = "$img" ] || rm -f "$stamp"
    done
    ual_log "built guest initramfs $(basename "$img") (modules: $(echo $mods))"
    echo "$img"
}
