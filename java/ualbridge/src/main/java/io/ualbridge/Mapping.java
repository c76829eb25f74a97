package io.ualbridge;

/**
 * One leaf entry of a domain's page tables ({@code struct ual_mapping}), as listed by {@link UalDevice#dump}.
 *
 * @param iova   first IOVA the entry maps
 * @param phys   physical address at the target
 * @param size   bytes mapped by the entry (4 KiB, 64 KiB, 2 MiB)
 * @param target target accelerator
 * @param level  page-table level of the entry (1 = last level, 2 = 2 MiB)
 * @param prot   {@link Prot} bits of the entry
 */
public record Mapping(long iova, long phys, long size, int target, int level, int prot) {
}
