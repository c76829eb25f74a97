package io.ualbridge.conformance;

/** Thrown by a check when the backend did not behave as the ABI documents: the check FAILs with the message. */
public final class CheckFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates a failure.
     *
     * @param message what the backend did and what the ABI says it should do
     */
    public CheckFailure(String message) {
        super(message);
    }

    /**
     * Creates a failure caused by an unexpected exception.
     *
     * @param message what was being done
     * @param cause   the exception
     */
    public CheckFailure(String message, Throwable cause) {
        super(message, cause);
    }
}
