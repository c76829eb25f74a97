package io.ualbridge;

/**
 * One request the fabric refused ({@code struct ual_fault}), as read by {@link UalDevice#readFaults}.
 *
 * @param seq       per-ring sequence number
 * @param address   the request's address (IOVA or routed physical address)
 * @param initiator accelerator that issued the request
 * @param target    accelerator that refused it, or -1 if the request never reached a target
 * @param access    {@link Access#READ} or {@link Access#WRITE}
 * @param reason    why it was refused
 * @param fromTlb   whether the decision came from a cached TLB entry
 * @param atTarget  whether this record was kept in the target's ring
 * @param length    bytes of the request
 */
public record Fault(long seq, FabricAddress address, int initiator, int target, int access, FaultReason reason,
                    boolean fromTlb, boolean atTarget, int length) {
}
