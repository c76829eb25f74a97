package io.ualbridge.conformance;

/**
 * Thrown by a check that finds at run time that it cannot run here (for example device memory too small for a
 * 2 MiB block): the check is reported as SKIP with the reason.
 */
public final class CheckSkipped extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates a skip.
     *
     * @param reason why the check cannot run on this backend
     */
    public CheckSkipped(String reason) {
        super(reason);
    }
}
