package io.ualbridge;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.ualbridge.internal.UalNative;
import io.ualbridge.internal.ual_pod_accel;
import io.ualbridge.internal.ual_pod_domain;
import io.ualbridge.internal.ual_pod_grant;
import io.ualbridge.internal.ual_pod_info;

/**
 * Shared pods of the fake backend: a fabric living in a file ({@code fake:/PATH}, on {@code /dev/shm} or another
 * tmpfs) that several processes join, each one an OS domain owning the accelerators it opens. Join a pod with
 * {@link UalDevice#open(String)} on {@code "fake:/PATH?local=N"}; this class creates pods without joining them
 * and reports who is attached and what is granted to whom.
 *
 * <p>The file outlives its processes: delete it to destroy the pod.
 */
public final class Pod {
    /** Most processes attached to one pod at a time ({@code UAL_POD_MAX_DOMAINS}). */
    public static final int MAX_DOMAINS = 64;

    private static final Logger LOG = LoggerFactory.getLogger(Pod.class);
    private static final String SCHEME = "fake:/";
    /** Rounds of ual_pod_status before giving up on a pod that grows faster than the snapshots are sized. */
    private static final int MAX_ROUNDS = 32;

    private Pod() {
    }

    /**
     * Creates a pod file without joining it. Processes then join it by opening {@code "fake:/PATH?local=N"} with
     * the same (or no) fabric options.
     *
     * @param uri     {@code "fake:/PATH[?opt=val&...]"} with the fabric options of {@link UalDevice#open(String)}
     *                ({@code accels}, {@code mem}, {@code mode}, ...), without {@code local}
     * @param replace whether to replace an existing file (processes attached to the old pod keep it; later opens
     *                get the new one)
     * @throws UalException         {@code EINVAL} for a malformed URI, a URI that is not {@code fake:/PATH}, or
     *                              {@code local=}; {@code EEXIST} if the file exists and {@code replace} is false;
     *                              {@code EACCES} if the file can't be created; {@code ENOMEM} if the pod would be
     *                              too large
     * @throws UnsatisfiedLinkError if libual cannot be loaded
     */
    public static void create(String uri, boolean replace) {
        Objects.requireNonNull(uri, "uri");
        NativeLoader.load();
        try (Arena a = Arena.ofConfined()) {
            int flags = replace ? UalNative.UAL_POD_REPLACE() : 0;
            Native.check(UalNative.ual_pod_create(a.allocateFrom(uri), flags), "pod_create");
        }
        LOG.debug("created pod {}{}", uri, replace ? " (replacing any existing file)" : "");
    }

    /**
     * Describes a pod: its configuration, the live domains attached, each accelerator's owner and use, and every
     * grant. Dead domains are cleaned up first (as by any call on the pod), so only live ones are listed. Works on
     * a poisoned pod ({@link PodStatus#poisoned()} says so and why).
     *
     * @param path the pod file, for example {@code "/dev/shm/pod0"}
     * @return one consistent snapshot, with complete lists
     * @throws UalException         {@code ENOENT} if there is no such file, {@code EINVAL} if it is not a pod,
     *                              {@code EACCES} if it can't be opened
     * @throws UnsatisfiedLinkError if libual cannot be loaded
     */
    public static PodStatus status(String path) {
        Objects.requireNonNull(path, "path");
        NativeLoader.load();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cpath = a.allocateFrom(path);
            MemorySegment info = ual_pod_info.allocate(a);
            // First learn the counts, then ask again with room for them; the pod may grow in between (a process
            // attaches, a grant is added), so repeat with more room until everything fits in one snapshot.
            long maxd = 0;
            long maxa = 0;
            long maxg = 0;
            MemorySegment domains = MemorySegment.NULL;
            MemorySegment accels = MemorySegment.NULL;
            MemorySegment grants = MemorySegment.NULL;
            for (int round = 0; round < MAX_ROUNDS; round++) {
                Native.check(UalNative.ual_pod_status(cpath, info, domains, (int) maxd, accels, (int) maxa, grants,
                        (int) maxg), "pod_status");
                long nd = Integer.toUnsignedLong(ual_pod_info.ndomains(info));
                long na = Integer.toUnsignedLong(ual_pod_info.num_accels(info));
                long ng = Integer.toUnsignedLong(ual_pod_info.ngrants(info));
                if (nd <= maxd && na <= maxa && ng <= maxg) {
                    return snapshot(path, info, domains, nd, accels, na, grants, ng);
                }
                // Exact room on the first sized round (it usually fits); slack on later ones, as the pod is busy.
                long slack = round == 0 ? 0 : 8L * round;
                maxd = nd + slack;
                maxa = na;
                maxg = Math.min(ng + slack + (round == 0 ? 0 : ng / 4), 0xffff_ffffL);
                domains = maxd == 0 ? MemorySegment.NULL : ual_pod_domain.allocateArray(maxd, a);
                accels = maxa == 0 ? MemorySegment.NULL : ual_pod_accel.allocateArray(maxa, a);
                grants = maxg == 0 ? MemorySegment.NULL : ual_pod_grant.allocateArray(maxg, a);
            }
            throw new IllegalStateException("pod_status: " + path + " kept growing over " + MAX_ROUNDS
                    + " snapshots; try again");
        }
    }

    private static PodStatus snapshot(String path, MemorySegment info, MemorySegment d, long nd, MemorySegment ac,
            long na, MemorySegment g, long ng) {
        List<PodDomain> domains = new ArrayList<>((int) nd);
        for (long i = 0; i < nd; i++) {
            MemorySegment s = ual_pod_domain.asSlice(d, i);
            domains.add(new PodDomain(ual_pod_domain.slot(s), ual_pod_domain.pid(s),
                    Native.cString(ual_pod_domain.host(s), ual_pod_domain.host$layout().byteSize()),
                    Native.cString(ual_pod_domain.comm(s), ual_pod_domain.comm$layout().byteSize()),
                    ual_pod_domain.handles(s), ual_pod_domain.accels(s), ual_pod_domain.attached_ns(s)));
        }
        List<PodAccel> accels = new ArrayList<>((int) na);
        for (long i = 0; i < na; i++) {
            MemorySegment s = ual_pod_accel.asSlice(ac, i);
            accels.add(new PodAccel(ual_pod_accel.accel(s), PodAccel.State.of(ual_pod_accel.state(s)),
                    ual_pod_accel.slot(s), ual_pod_accel.pid(s), ual_pod_accel.mem_used(s),
                    ual_pod_accel.grants(s)));
        }
        List<PodGrant> grants = new ArrayList<>((int) Math.min(ng, Integer.MAX_VALUE));
        for (long i = 0; i < ng; i++) {
            MemorySegment s = ual_pod_grant.asSlice(g, i);
            grants.add(new PodGrant(Short.toUnsignedInt(ual_pod_grant.target(s)),
                    Short.toUnsignedInt(ual_pod_grant.initiator(s)), ual_pod_grant.pfn(s), ual_pod_grant.npages(s),
                    ual_pod_grant.prot(s)));
        }
        boolean poisoned = (ual_pod_info.flags(info) & UalNative.UAL_POD_POISONED()) != 0;
        return new PodStatus(path, ual_pod_info.num_accels(info), ual_pod_info.modes(info),
                ual_pod_info.mem_size(info), ual_pod_info.heap_size(info), ual_pod_info.heap_used(info), poisoned,
                Native.cString(ual_pod_info.poison(info), ual_pod_info.poison$layout().byteSize()),
                ual_pod_info.reaped(info), ual_pod_info.created_ns(info), domains, accels, grants);
    }

    /**
     * Returns the pod file a URI names, if it names one.
     *
     * @param uri a device URI
     * @return the path of a {@code "fake:/PATH[?...]"} URI, empty for any other URI
     */
    public static Optional<String> pathOf(String uri) {
        Objects.requireNonNull(uri, "uri");
        if (!uri.startsWith(SCHEME)) {
            return Optional.empty();
        }
        int q = uri.indexOf('?');
        return Optional.of(uri.substring("fake:".length(), q < 0 ? uri.length() : q));
    }
}
