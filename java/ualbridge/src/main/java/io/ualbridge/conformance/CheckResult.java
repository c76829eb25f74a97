package io.ualbridge.conformance;

import java.time.Duration;
import java.util.Objects;

/**
 * The result of one check on one URI.
 *
 * @param check   the check's name
 * @param uri     the URI it ran against
 * @param outcome PASS, FAIL or SKIP
 * @param message empty for PASS; what went wrong for FAIL; the reason for SKIP
 * @param time    how long the check ran (open and close of its device included)
 */
public record CheckResult(String check, String uri, Outcome outcome, String message, Duration time) {
    /**
     * Validates the components.
     *
     * @throws NullPointerException     for a null component
     * @throws IllegalArgumentException if a FAIL or SKIP has no message
     */
    public CheckResult {
        Objects.requireNonNull(check, "check");
        Objects.requireNonNull(uri, "uri");
        Objects.requireNonNull(outcome, "outcome");
        Objects.requireNonNull(message, "message");
        Objects.requireNonNull(time, "time");
        if (outcome != Outcome.PASS && message.isBlank()) {
            throw new IllegalArgumentException(outcome + " of " + check + " needs a message");
        }
    }
}
