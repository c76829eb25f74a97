package io.ualbridge;

/**
 * The result of a successful {@link UalDevice#translate translation} ({@code struct ual_xlate}). Hot loops that
 * cannot afford one record per call use a {@link Translator}, which exposes the same fields through getters.
 *
 * @param target   accelerator that owns the page
 * @param phys     physical address at the target
 * @param pageSize size of the page: 4 KiB, 64 KiB or 2 MiB (4 KiB in physical mode)
 * @param prot     {@link Prot} bits of the mapping (physical mode: of the grant)
 * @param tlbHit   whether the TLB served the translation
 */
public record Translation(int target, long phys, long pageSize, int prot, boolean tlbHit) {
}
