package io.ualbridge.conformance;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * The results of a conformance run on one URI.
 *
 * @param uri          the URI
 * @param backend      the backend's name from info() ("fake", "kmod", "vfio")
 * @param capabilities what the backend can do
 * @param results      one result per check, in suite order
 */
public record ConformanceReport(String uri, String backend, Capabilities capabilities, List<CheckResult> results) {
    /**
     * Copies the components.
     */
    public ConformanceReport {
        Objects.requireNonNull(uri, "uri");
        Objects.requireNonNull(backend, "backend");
        Objects.requireNonNull(capabilities, "capabilities");
        results = List.copyOf(results);
    }

    /**
     * Counts the results with an outcome.
     *
     * @param o the outcome
     * @return how many checks ended so
     */
    public long count(Outcome o) {
        return results.stream().filter(r -> r.outcome() == o).count();
    }

    /**
     * Tells whether no check failed.
     *
     * @return true if there is no FAIL
     */
    public boolean passed() {
        return count(Outcome.FAIL) == 0;
    }

    /**
     * Sums the checks' times.
     *
     * @return the total time
     */
    public Duration totalTime() {
        return results.stream().map(CheckResult::time).reduce(Duration.ZERO, Duration::plus);
    }
}
