package io.ualbridge.conformance;

/** Progress of a conformance run (for progress bars and logs). Called on the running thread. */
public interface ConformanceListener {
    /** A listener that ignores everything. */
    ConformanceListener NONE = new ConformanceListener() {
    };

    /**
     * Called once the backend's capabilities are known, before the first check.
     *
     * @param uri   the URI
     * @param caps  its capabilities
     * @param total number of checks that will be reported
     */
    default void started(String uri, Capabilities caps, int total) {
    }

    /**
     * Called before a check runs (also for checks about to be skipped).
     *
     * @param check the check
     * @param index 0-based position
     * @param total number of checks
     */
    default void checkStarted(Check check, int index, int total) {
    }

    /**
     * Called with each result.
     *
     * @param result the result
     * @param index  0-based position
     * @param total  number of checks
     */
    default void checkFinished(CheckResult result, int index, int total) {
    }
}
