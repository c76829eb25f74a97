package io.ualbridge.conformance;

/** The outcome of one conformance check. */
public enum Outcome {
    /** The backend behaved as the ABI documents. */
    PASS,
    /** The backend did not; the result's message says how. */
    FAIL,
    /** The check could not run on this backend; the result's message says why. */
    SKIP
}
