# ualctl in a container: a jlink'ed JDK 25 runtime, the ualctl jar (libual.so is inside it), a non-root user.
#
# Nothing here comes from a registry. The base is a local image made from Debian's packages by
# scripts/docker-base-image; the runtime and the jar are what `mvn package` leaves in java/ualctl/target
# (the .dockerignore sends only those). scripts/docker-image does all of it:
#
#   scripts/docker-image                     # -> localhost/ualbridge/ualctl:latest
#   docker run --rm --network none --pull never localhost/ualbridge/ualctl conformance --uri fake:
#
# By hand: scripts/build && scripts/docker-base-image && docker build --pull=false --network none -t localhost/ualbridge/ualctl .
ARG BASE=localhost/ualbridge/debian-base:bookworm
FROM ${BASE}
# Lets scripts/docker-image (and the tests) find and remove their earlier, untagged builds.
LABEL io.ualbridge.image=ualctl

# A fixed uid, so that a host directory shared by several containers (a pod file) can be made writable for it.
# /usr/local/bin/ualctl runs the jar on the jlink'ed runtime; it is the entrypoint and is on PATH for scripts
# (e.g. `sh -c 'ualctl shell --uri ... < fifo'`). FFM downcalls need native access; libual is extracted to
# java.io.tmpdir (/tmp) and loaded from there.
RUN useradd --uid 10001 --user-group --create-home --home-dir /home/ual --shell /usr/sbin/nologin ual \
 && printf '%s\n' '#!/bin/sh' \
      'exec /opt/ualbridge/runtime/bin/java --enable-native-access=ALL-UNNAMED -jar /opt/ualbridge/ualctl.jar "$@"' \
      > /usr/local/bin/ualctl \
 && chmod 0755 /usr/local/bin/ualctl

COPY java/ualctl/target/runtime /opt/ualbridge/runtime
COPY java/ualctl/target/ualctl.jar /opt/ualbridge/ualctl.jar

USER ual:ual
WORKDIR /home/ual
ENTRYPOINT ["/usr/local/bin/ualctl"]
CMD ["--help"]
