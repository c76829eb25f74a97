package io.ualbridge;

/**
 * One grant entry of a shared pod ({@code struct ual_pod_grant}): {@code target} lets {@code initiator} reach
 * {@code pages} pages from {@code pfn} with {@code prot}.
 *
 * @param target    the accelerator owning the pages
 * @param initiator the accelerator allowed in
 * @param pfn       first PFN of the target's memory
 * @param pages     number of 4 KiB pages
 * @param prot      {@link Prot} bits
 */
public record PodGrant(int target, int initiator, long pfn, long pages, int prot) {
}
