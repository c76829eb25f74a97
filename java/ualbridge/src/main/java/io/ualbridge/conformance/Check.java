package io.ualbridge.conformance;

import java.util.Collections;
import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;

/**
 * One named behavioural check of the ABI.
 *
 * @param name        short kebab-case name ("stale-tlb-until-sync")
 * @param description what the ABI promises and the check verifies, one sentence
 * @param needs       capabilities the backend must have; without them the check is SKIPPED with the reason
 * @param body        the check: runs on a fresh device, throws {@link CheckFailure} to fail
 */
public record Check(String name, String description, Set<Capability> needs, Body body) {
    /** The code of a check. */
    @FunctionalInterface
    public interface Body {
        /**
         * Runs the check.
         *
         * @param c the context: a fresh device opened from the URI, helpers to expect outcomes
         * @throws Exception anything unexpected fails the check with the exception's message
         */
        void run(CheckContext c) throws Exception;
    }

    /**
     * Validates and copies the components.
     */
    public Check {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(description, "description");
        Objects.requireNonNull(body, "body");
        needs = Collections.unmodifiableSet(needs.isEmpty() ? EnumSet.noneOf(Capability.class) : EnumSet.copyOf(needs));
    }

    /**
     * Returns the first needed capability the backend lacks, or null if it has them all.
     *
     * @param caps the backend's capabilities
     * @return a missing capability or null
     */
    public Capability missing(Capabilities caps) {
        for (Capability c : needs) {
            if (!caps.has(c)) {
                return c;
            }
        }
        return null;
    }
}
