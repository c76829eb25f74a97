package io.ualbridge.cli;

import picocli.CommandLine.Option;

/** Options every subcommand has: the device URI, JSON output, verbosity. */
final class CommonOptions {
    @Option(names = "--uri", paramLabel = "URI", defaultValue = "fake:",
            description = "Fabric to open (default: ${DEFAULT-VALUE}). Examples: fake:, fake:?accels=8&local=1, "
                    + "fake:?mode=virtual&mem=16M. Each invocation on fake: builds a fresh in-process fabric; "
                    + "fake:/PATH?local=N joins the shared pod in file PATH (see 'ualctl pod') as a domain owning "
                    + "accelerator N.")
    String uri;

    @Option(names = "--json", description = "Print one JSON document on stdout instead of the human report.")
    boolean json;

    @Option(names = {"-v", "--verbose"}, description = "Say what is being done on stderr; print stack traces of errors.")
    boolean verbose;
}
