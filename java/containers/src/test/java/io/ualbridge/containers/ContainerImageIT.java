package io.ualbridge.containers;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.dockerjava.api.command.InspectImageResponse;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.output.OutputFrame;
import org.testcontainers.containers.startupcheck.OneShotStartupCheckStrategy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The image of the top-level Dockerfile: what it runs, as whom, and the conformance suite inside it. */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class ContainerImageIT {
    private static final Duration RUN_TIMEOUT = Duration.ofMinutes(3);

    /** Runs a container to completion (failing unless it exits 0 within the timeout); returns its stdout. */
    private static String run(GenericContainer<?> c) {
        try (c) {
            c.withStartupCheckStrategy(new OneShotStartupCheckStrategy().withTimeout(RUN_TIMEOUT)).start();
            return c.getLogs(OutputFrame.OutputType.STDOUT);
        }
    }

    @Test
    void imageRunsUalctlAsTheNonRootUser() {
        String image = UalctlImage.get();
        InspectImageResponse inspect = DockerClientFactory.instance().client().inspectImageCmd(image).exec();
        assertThat(inspect.getConfig().getUser()).isEqualTo("ual:ual");
        assertThat(inspect.getConfig().getEntrypoint()).containsExactly("/usr/local/bin/ualctl");

        String id = run(UalctlImage.container().withCreateContainerCmdModifier(cmd -> cmd.withEntrypoint("id"))
                .withCommand("-u"));
        assertThat(id.strip()).isEqualTo(Integer.toString(UalctlImage.UID));

        // The entrypoint itself: ualctl on the jlink'ed runtime, libual loaded from the jar.
        JsonNode info = json(run(UalctlImage.container().withCommand("info", "--json")));
        assertThat(info.path("backend").asText()).isEqualTo("fake");
        assertThat(info.path("acceleratorCount").asInt()).isPositive();
    }

    @Test
    void conformanceSuitePassesInAContainer() {
        JsonNode report = json(run(UalctlImage.container().withCommand("conformance", "--uri", "fake:", "--json")));
        JsonNode counts = report.path("counts");
        List<String> failed = new ArrayList<>();
        for (JsonNode r : report.path("results")) {
            if (!r.path("outcome").asText().equals("PASS") && !r.path("outcome").asText().equals("SKIP")) {
                failed.add(r.path("check").asText() + ": " + r.path("outcome").asText() + " " + r.path("message"));
            }
        }
        assertThat(failed).as("checks that did not pass or skip").isEmpty();
        assertThat(report.path("passed").asBoolean()).isTrue();
        assertThat(counts.path("fail").asInt()).isZero();
        assertThat(counts.path("pass").asInt()).isGreaterThanOrEqualTo(20);
        assertThat(report.path("results").size())
                .isEqualTo(counts.path("pass").asInt() + counts.path("fail").asInt() + counts.path("skip").asInt());
    }

    private static JsonNode json(String text) {
        try {
            return new ObjectMapper().readTree(text);
        } catch (Exception e) {
            throw new AssertionError("not JSON: " + text, e);
        }
    }
}
