package io.ualbridge.containers;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.exception.DockerException;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.model.Image;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.images.builder.ImageFromDockerfile;
import org.testcontainers.utility.DockerImageName;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The image of the repository's top-level Dockerfile, built once per JVM through Testcontainers, and containers of it.
 *
 * <p>Nothing is ever pulled: the build refuses to start unless the local base image exists (docker would otherwise
 * try to pull it), builds with pull off and no network, and containers are created with a pull policy that never
 * pulls.
 */
final class UalctlImage {
    /** The tag the tests build (not the scripts' {@code :latest}, which they leave alone). */
    static final String NAME = System.getProperty("ual.image", "localhost/ualbridge/ualctl:test");
    /** The Dockerfile's base, made by scripts/docker-base-image. */
    static final String BASE = System.getProperty("ual.base.image", "localhost/ualbridge/debian-base:bookworm");
    /** The non-root user the Dockerfile creates. */
    static final int UID = 10001;
    private static final String LABEL = "io.ualbridge.image";
    private static final Logger LOG = LoggerFactory.getLogger(UalctlImage.class);
    private static String built;

    private UalctlImage() {
    }

    /** The repository root (failsafe passes it as {@code ual.root}). */
    static Path root() {
        Path root = Path.of(System.getProperty("ual.root", "../..")).toAbsolutePath().normalize();
        if (!Files.isRegularFile(root.resolve("Dockerfile"))) {
            throw new IllegalStateException("no Dockerfile in " + root + " (set -Dual.root to the repository)");
        }
        return root;
    }

    /**
     * Builds the image if this JVM has not yet; returns its name. Skips or fails the caller as
     * {@link DockerEnvironment#require()} decides when Docker is unusable.
     */
    static synchronized String get() {
        DockerEnvironment.require();
        if (built != null) {
            return built;
        }
        Path root = root();
        for (String part : new String[] {"java/ualctl/target/ualctl.jar", "java/ualctl/target/runtime/bin/java"}) {
            if (!Files.isRegularFile(root.resolve(part))) {
                throw new IllegalStateException(root.resolve(part) + " is missing: the image is built from what `mvn "
                        + "package` leaves in java/ualctl/target (run the whole reactor, or scripts/build, first)");
            }
        }
        DockerClient docker = DockerClientFactory.instance().client();
        try {
            docker.inspectImageCmd(BASE).exec();
        } catch (NotFoundException e) {
            throw new IllegalStateException("the base image " + BASE + " is missing; make it with "
                    + "scripts/docker-base-image (scripts/test does). Not building: docker would try to pull it.");
        }
        long t0 = System.nanoTime();
        ImageFromDockerfile image = new ImageFromDockerfile(NAME, false)
                .withDockerfile(root.resolve("Dockerfile"))
                .withBuildArg("BASE", BASE)
                .withBuildImageCmdModifier(cmd -> cmd.withPull(false).withNetworkMode("none")
                        .withLabels(Map.of(LABEL, "ualctl-test")));
        try {
            built = image.get(10, TimeUnit.MINUTES);
        } catch (TimeoutException e) {
            throw new IllegalStateException("building " + NAME + " from " + root.resolve("Dockerfile")
                    + " took more than 10 minutes", e);
        } catch (RuntimeException e) {
            throw new IllegalStateException("building " + NAME + " from " + root.resolve("Dockerfile") + " failed: " + e,
                    e);
        }
        LOG.info("built {} from {} in {} ms", built, root.resolve("Dockerfile"), (System.nanoTime() - t0) / 1_000_000);
        removeDanglingBuilds(docker);
        return built;
    }

    /** Earlier builds of the test tag, untagged by this one: each holds a jar layer the daemon would keep forever. */
    private static void removeDanglingBuilds(DockerClient docker) {
        for (Image old : docker.listImagesCmd().withDanglingFilter(true).withLabelFilter(Map.of(LABEL, "ualctl-test"))
                .exec()) {
            try {
                docker.removeImageCmd(old.getId()).exec();
                LOG.debug("removed the earlier build {}", old.getId());
            } catch (DockerException e) {
                LOG.debug("kept the earlier build {}: {}", old.getId(), e.getMessage());
            }
        }
    }

    /** A container of the image with no network, that never pulls. */
    static GenericContainer<?> container() {
        return new GenericContainer<>(DockerImageName.parse(get()))
                .withImagePullPolicy(name -> false)
                .withNetworkMode("none");
    }
}
