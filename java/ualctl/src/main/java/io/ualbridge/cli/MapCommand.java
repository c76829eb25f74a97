package io.ualbridge.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** ualctl map: allocate, grant and map memory; print the fabric addresses. */
@Command(name = "map", mixinStandardHelpOptions = true,
        description = {"Allocate memory on a target accelerator, grant it to an initiator and map it for the "
                + "initiator; print the fabric addresses.",
            "Physical mode shows the routed addresses (routing bit, target id, physical address); virtual mode "
                + "shows the IOVA range and the page-table leaves the link used (use --contig or --align 2M with "
                + "--size 2M or more to see 2 MiB leaves)."})
final class MapCommand extends BaseCommand {
    @Mixin
    MappingOptions mapping;

    @Option(names = "--mode", paramLabel = "MODE", defaultValue = "both",
            description = "physical, virtual or both (default: ${DEFAULT-VALUE}).")
    Mode mode;

    @Option(names = "--max-rows", paramLabel = "N", defaultValue = "32",
            description = "Rows per table in the human output (default: ${DEFAULT-VALUE}).")
    int maxRows;

    @Override
    void validate() {
        mapping.validate(this);
    }

    @Override
    int run(Session s) {
        MappingSetup m = MappingSetup.create(s, this, mapping, mode, true, null);
        if (json()) {
            emit(m.json(s.device().uri()));
            return ExitCodes.OK;
        }
        var out = out();
        m.printMemory(out);
        if (m.physical != null) {
            m.printPhysical(out, maxRows);
        }
        if (m.range != null) {
            m.printVirtual(out, maxRows);
        }
        return ExitCodes.OK;
    }
}
