package io.ualbridge.conformance;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.ualbridge.UalDevice;
import io.ualbridge.UalException;

/**
 * Runs conformance checks against a URI: probes the backend's capabilities once, then runs each check on a
 * fresh device opened from the URI (closed afterwards), turning what happens into a {@link CheckResult}.
 */
public final class ConformanceRunner {
    private static final Logger LOG = LoggerFactory.getLogger(ConformanceRunner.class);

    private final String uri;
    private Capabilities caps;
    private String backend;

    /**
     * Creates a runner for a URI (nothing is opened yet).
     *
     * @param uri the backend URI, for example {@code "fake:?mode=virtual"} or {@code "kmod:/dev/ualmock"}
     */
    public ConformanceRunner(String uri) {
        this.uri = Objects.requireNonNull(uri, "uri");
    }

    /**
     * Returns the backend's capabilities, probing them on first use.
     *
     * @return the capabilities
     * @throws UalException if the URI cannot be opened
     */
    public synchronized Capabilities capabilities() {
        if (caps == null) {
            try (UalDevice d = UalDevice.open(uri)) {
                backend = d.info().backend();
                caps = Capabilities.probe(d);
            }
        }
        return caps;
    }

    /**
     * Runs every check of {@link ConformanceSuite#checks()}.
     *
     * @param listener progress callbacks
     * @return the report
     * @throws UalException if the URI cannot be opened at all
     */
    public ConformanceReport run(ConformanceListener listener) {
        return run(ConformanceSuite.checks(), listener);
    }

    /**
     * Runs the given checks in order.
     *
     * @param checks   the checks
     * @param listener progress callbacks
     * @return the report
     * @throws UalException if the URI cannot be opened at all
     */
    public ConformanceReport run(List<Check> checks, ConformanceListener listener) {
        Capabilities c = capabilities();
        listener.started(uri, c, checks.size());
        List<CheckResult> results = new ArrayList<>();
        for (int i = 0; i < checks.size(); i++) {
            Check check = checks.get(i);
            listener.checkStarted(check, i, checks.size());
            CheckResult r = run(check);
            results.add(r);
            listener.checkFinished(r, i, checks.size());
        }
        return new ConformanceReport(uri, backend, c, results);
    }

    /**
     * Runs one check: SKIP if the backend lacks a capability it needs, else on a fresh device.
     *
     * @param check the check
     * @return its result
     */
    public CheckResult run(Check check) {
        Capabilities c = capabilities();
        Capability missing = check.missing(c);
        if (missing != null) {
            return new CheckResult(check.name(), uri, Outcome.SKIP,
                    "needs " + missing.description() + " (" + c.whyAbsent(missing) + ")", Duration.ZERO);
        }
        long t0 = System.nanoTime();
        Outcome outcome;
        String message;
        try {
            try (CheckContext ctx = new CheckContext(UalDevice.open(uri), c)) {
                check.body().run(ctx);
            }
            outcome = Outcome.PASS;
            message = "";
        } catch (CheckSkipped e) {
            outcome = Outcome.SKIP;
            message = e.getMessage();
        } catch (CheckFailure e) {
            outcome = Outcome.FAIL;
            message = e.getMessage();
        } catch (UalException e) {
            outcome = Outcome.FAIL;
            message = "unexpected error: " + e.getMessage();
        } catch (Exception | AssertionError e) {
            outcome = Outcome.FAIL;
            message = "unexpected " + e;
            LOG.debug("check {} on {} threw", check.name(), uri, e);
        }
        Duration time = Duration.ofNanos(System.nanoTime() - t0);
        LOG.debug("{} on {}: {} {}", check.name(), uri, outcome, message);
        return new CheckResult(check.name(), uri, outcome, message, time);
    }
}
