package io.ualbridge;

/** Why the fabric refused a request ({@code UAL_FAULT_*}). */
public enum FaultReason {
    /** No translation for the IOVA. */
    NOT_PRESENT(1, "no translation for the IOVA"),
    /** The mapping does not allow this access. */
    PROT(2, "the mapping does not allow this access"),
    /** The target holds no grant of the page for the initiator. */
    NO_GRANT(3, "the initiator holds no grant for the page"),
    /** The grant does not allow this access. */
    GRANT_PROT(4, "the grant does not allow this access"),
    /** The route names no accelerator of the fabric. */
    BAD_TARGET(5, "the route names no accelerator of the fabric"),
    /** The address lies outside the target's memory. */
    OUT_OF_RANGE(6, "address outside the target's memory"),
    /** The addressing mode is not enabled. */
    MODE(7, "addressing mode not enabled");

    private static final FaultReason[] VALUES = values();

    private final int code;
    private final String description;

    FaultReason(int code, String description) {
        this.code = code;
        this.description = description;
    }

    /**
     * Returns the libual code of this reason.
     *
     * @return the {@code UAL_FAULT_*} value
     */
    public int code() {
        return code;
    }

    /**
     * Returns a human description of this reason.
     *
     * @return for example {@code "no translation for the IOVA"}
     */
    public String description() {
        return description;
    }

    /**
     * Maps a libual fault reason code to its constant.
     *
     * @param code a {@code UAL_FAULT_*} value
     * @return the constant
     * @throws IllegalArgumentException if the code is not a known reason
     */
    public static FaultReason of(int code) {
        for (FaultReason r : VALUES) {
            if (r.code == code) {
                return r;
            }
        }
        throw new IllegalArgumentException("unknown fault reason " + code);
    }
}
