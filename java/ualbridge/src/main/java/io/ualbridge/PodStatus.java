package io.ualbridge;

import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A snapshot of a shared pod taken by {@link Pod#status(String)}: its configuration, the live domains attached,
 * its accelerators and its grants, all read under one pod lock.
 *
 * @param path             the pod file
 * @param acceleratorCount accelerators in the fabric
 * @param modes            addressing modes (bit 0 physical, bit 1 virtual)
 * @param memorySize       bytes of device memory per accelerator
 * @param heapSize         bytes of the pod file's heap (tables, device memory, grants)
 * @param heapUsed         bytes of the heap in use
 * @param poisoned         whether a domain died holding a pod lock: every call on the pod then fails with
 *                         {@link ErrorCode#EOWNERDEAD}
 * @param poisonReason     what poisoned the pod, empty if not poisoned
 * @param reaped           dead domains cleaned up since the pod was created
 * @param createdNanos     creation time, nanoseconds since the epoch ({@code CLOCK_REALTIME})
 * @param domains          the live domains, complete
 * @param accelerators     every accelerator, by id
 * @param grants           every grant entry, by target and PFN
 */
public record PodStatus(String path, int acceleratorCount, int modes, long memorySize, long heapSize,
                        long heapUsed, boolean poisoned, String poisonReason, int reaped, long createdNanos,
                        List<PodDomain> domains, List<PodAccel> accelerators, List<PodGrant> grants) {

    /**
     * Copies the lists so the snapshot is immutable.
     *
     * @throws NullPointerException if a list or string is null
     */
    public PodStatus {
        domains = List.copyOf(domains);
        accelerators = List.copyOf(accelerators);
        grants = List.copyOf(grants);
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(poisonReason, "poisonReason");
    }

    /**
     * Returns when the pod was created.
     *
     * @return {@link #createdNanos()} as an instant
     */
    public Instant created() {
        return Instant.ofEpochSecond(0, createdNanos);
    }

    /**
     * Tells whether the fabric supports physical mode.
     *
     * @return {@code true} if bit 0 of {@link #modes()} is set
     */
    public boolean supportsPhysical() {
        return (modes & 1) != 0;
    }

    /**
     * Tells whether the fabric supports virtual mode.
     *
     * @return {@code true} if bit 1 of {@link #modes()} is set
     */
    public boolean supportsVirtual() {
        return (modes & 2) != 0;
    }

    /**
     * Finds the live domain with a pid.
     *
     * @param pid a process id (as the pod records it: in the process's own pid namespace)
     * @return the domain, empty if no live domain has that pid
     */
    public Optional<PodDomain> domainOfPid(int pid) {
        return domains.stream().filter(d -> d.pid() == pid).findFirst();
    }

    /**
     * Returns an accelerator's entry.
     *
     * @param id the accelerator id
     * @return its entry
     * @throws IllegalArgumentException if the pod has no accelerator {@code id}
     */
    public PodAccel accelerator(int id) {
        return accelerators.stream().filter(a -> a.id() == id).findFirst().orElseThrow(
                () -> new IllegalArgumentException("pod " + path + " has no accelerator " + id + " (it has "
                        + acceleratorCount + ")"));
    }
}
