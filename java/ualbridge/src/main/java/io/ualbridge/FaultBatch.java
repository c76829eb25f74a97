package io.ualbridge;

import java.util.List;

/**
 * Fault records drained from an accelerator's ring by {@link UalDevice#readFaults}.
 *
 * @param faults the records, oldest first (unmodifiable)
 * @param lost   faults dropped because the ring was full since the previous read
 */
public record FaultBatch(List<Fault> faults, long lost) {
    /**
     * Copies the list so the batch is immutable.
     *
     * @throws NullPointerException if {@code faults} is null
     */
    public FaultBatch {
        faults = List.copyOf(faults);
    }
}
