package io.ualbridge;

import java.time.Instant;

/**
 * One live process attached to a shared pod ({@code struct ual_pod_domain}): an OS domain, as listed by
 * {@link Pod#status(String)}.
 *
 * @param slot          its attach slot in the pod, 0..{@link Pod#MAX_DOMAINS}-1
 * @param pid           its process id, in its own pid namespace (a container's)
 * @param host          its host name (in a container: the container's id)
 * @param comm          its command name (at most 15 characters)
 * @param handles       handles it has open on the pod
 * @param accelerators  accelerators it owns
 * @param attachedNanos when it attached, nanoseconds since the epoch ({@code CLOCK_REALTIME})
 */
public record PodDomain(int slot, int pid, String host, String comm, int handles, int accelerators,
                        long attachedNanos) {

    /**
     * Returns when the domain attached.
     *
     * @return {@link #attachedNanos()} as an instant
     */
    public Instant attached() {
        return Instant.ofEpochSecond(0, attachedNanos);
    }
}
