package io.ualbridge;

import java.lang.foreign.MemorySegment;

import io.ualbridge.internal.ual_faddr;

/**
 * A fabric address as an initiator puts it on the wire ({@code struct ual_faddr}): either a routed physical-mode
 * address (routing bit, 10-bit target accelerator id, 57-bit physical address at the target) or an unrouted IOVA
 * in the initiator's fabric domain.
 *
 * @param routed  {@code true} for a physical-mode address routed by target id, {@code false} for an IOVA
 * @param target  the target accelerator id (0..1023) of a routed address; 0 for an IOVA
 * @param address the physical address at the target (below 2<sup>57</sup>) or the IOVA
 */
public record FabricAddress(boolean routed, int target, long address) {
    /** Bits of a physical address at an accelerator. */
    static final int PHYS_BITS = 57;
    /** Routing bit of the route word. */
    static final int ROUTE_PHYS = 1 << 31;
    /** Target id bits of the route word. */
    static final int ROUTE_TARGET_MASK = 0x3ff;

    /**
     * Validates the components.
     *
     * @throws IllegalArgumentException if a routed address has a target outside 0..1023 or an address of
     *                                  2<sup>57</sup> or more, or an IOVA has a non-zero target
     */
    public FabricAddress {
        routeWord(routed, target, address);
    }

    /** Validates components as the constructor does and returns their route word, without allocating. */
    static int routeWord(boolean routed, int target, long address) {
        if (routed) {
            if (target < 0 || target > ROUTE_TARGET_MASK) {
                throw new IllegalArgumentException("target " + target + " outside 0..1023");
            }
            if (address < 0 || address >>> PHYS_BITS != 0) {
                throw new IllegalArgumentException(
                        "physical address 0x" + Long.toHexString(address) + " does not fit 57 bits");
            }
            return ROUTE_PHYS | target;
        }
        if (target != 0) {
            throw new IllegalArgumentException("an IOVA has no target (got " + target + ")");
        }
        return 0;
    }

    /**
     * Creates a routed physical-mode address.
     *
     * @param target the target accelerator id, 0..1023
     * @param phys   the physical address at the target, below 2<sup>57</sup>
     * @return the address
     * @throws IllegalArgumentException if a component is out of range
     */
    public static FabricAddress physical(int target, long phys) {
        return new FabricAddress(true, target, phys);
    }

    /**
     * Creates an unrouted address: an IOVA in the initiator's fabric domain.
     *
     * @param iova the IOVA
     * @return the address
     */
    public static FabricAddress iova(long iova) {
        return new FabricAddress(false, 0, iova);
    }

    /**
     * Returns this address moved by a number of bytes (same route).
     *
     * @param bytes bytes to add, may be negative
     * @return the moved address
     * @throws ArithmeticException      if the address wraps around 2<sup>64</sup>
     * @throws IllegalArgumentException if a routed address leaves the 57-bit physical space
     */
    public FabricAddress plus(long bytes) {
        long sum = address + bytes;
        if (bytes >= 0 ? Long.compareUnsigned(sum, address) < 0 : Long.compareUnsigned(sum, address) > 0) {
            throw new ArithmeticException("fabric address wraps");
        }
        return new FabricAddress(routed, target, sum);
    }

    /**
     * Returns the route word of this address ({@code UAL_ROUTE(target)} or 0).
     *
     * @return bit 31 set and the target in bits 9..0 for a routed address, 0 for an IOVA
     */
    public int routeWord() {
        return routed ? ROUTE_PHYS | target : 0;
    }

    /**
     * Renders the address as {@code phys[route=1 target=3 addr=0x0000000001234000]} or
     * {@code iova[0x0000000000200000]}.
     *
     * @return the text form
     */
    @Override
    public String toString() {
        return routed
                ? String.format("phys[route=1 target=%d addr=0x%016x]", target, address)
                : String.format("iova[0x%016x]", address);
    }

    /** Writes this address as a {@code struct ual_faddr} at the start of {@code seg}. */
    void writeTo(MemorySegment seg) {
        ual_faddr.addr(seg, address);
        ual_faddr.route(seg, routeWord());
        ual_faddr.rsvd(seg, 0);
    }

    /** Reads a {@code struct ual_faddr}; a route word with reserved bits yields an IllegalArgumentException. */
    static FabricAddress readFrom(MemorySegment seg) {
        return fromWire(ual_faddr.addr(seg), ual_faddr.route(seg));
    }

    static FabricAddress fromWire(long addr, int route) {
        if ((route & ROUTE_PHYS) != 0) {
            if ((route & ~(ROUTE_PHYS | ROUTE_TARGET_MASK)) != 0) {
                throw new IllegalArgumentException("route word 0x" + Integer.toHexString(route) + " has reserved bits");
            }
            return physical(route & ROUTE_TARGET_MASK, addr);
        }
        if (route != 0) {
            throw new IllegalArgumentException("route word 0x" + Integer.toHexString(route) + " has reserved bits");
        }
        return iova(addr);
    }
}
