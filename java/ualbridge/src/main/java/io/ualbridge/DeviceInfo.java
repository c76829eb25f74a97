package io.ualbridge;

import java.util.ArrayList;
import java.util.List;

/**
 * What {@code ual_query()} reports about a handle's fabric and local accelerator: a snapshot taken by
 * {@link UalDevice#info()}.
 *
 * @param abiVersion       ABI version of the library (major in bits 31..16)
 * @param acceleratorId    the handle's local accelerator (10 bits)
 * @param acceleratorCount accelerators in the fabric (1..1024)
 * @param modes            addressing modes supported (bit 0 physical, bit 1 virtual)
 * @param physBits         physical address bits per accelerator (57)
 * @param dmaBits          the domain's DMA limit: IOVAs are below {@code 1 << dmaBits}
 * @param pageTableLevels  page-table levels (radix 512 each)
 * @param pageSizeBitmap   page sizes the domain maps: bit n set means {@code 1 << n} bytes
 * @param memorySize       bytes of device memory of the local accelerator
 * @param memoryFree       bytes of it not allocated
 * @param ptPoolPages      page-table pool size in 4 KiB table pages
 * @param ptPoolFree       table pages neither in use nor reserved
 * @param tlbEntries       TLB capacity of the local domain
 * @param iovaRanges       live IOVA ranges of the local domain
 * @param mappedPages      4 KiB pages currently linked in the local domain
 * @param grants           live grant entries of the local accelerator
 * @param tlbHits          translations of the local domain served from the TLB
 * @param tlbMisses        translations of the local domain not served from the TLB
 * @param requestMin       smallest fabric request in bytes (64)
 * @param requestMax       largest fabric request in bytes (256)
 * @param backend          backend name: {@code "fake"}, {@code "kmod"} or {@code "vfio"}
 */
public record DeviceInfo(int abiVersion, int acceleratorId, int acceleratorCount, int modes, int physBits,
                         int dmaBits, int pageTableLevels, long pageSizeBitmap, long memorySize, long memoryFree,
                         long ptPoolPages, long ptPoolFree, long tlbEntries, long iovaRanges, long mappedPages,
                         long grants, long tlbHits, long tlbMisses, int requestMin, int requestMax, String backend) {

    /**
     * Tells whether the fabric supports physical mode (routed PFNs, {@link UalDevice#mapPfns}).
     *
     * @return {@code true} if {@code UAL_MODE_PHYSICAL} is set
     */
    public boolean supportsPhysical() {
        return (modes & 1) != 0;
    }

    /**
     * Tells whether the fabric supports virtual mode (IOVA ranges, {@link UalDevice#allocIova}).
     *
     * @return {@code true} if {@code UAL_MODE_VIRTUAL} is set
     */
    public boolean supportsVirtual() {
        return (modes & 2) != 0;
    }

    /**
     * Lists the page sizes of {@link #pageSizeBitmap()}, smallest first.
     *
     * @return for example {@code [4096, 65536, 2097152]}
     */
    public List<Long> pageSizes() {
        List<Long> sizes = new ArrayList<>(Long.bitCount(pageSizeBitmap));
        for (long bits = pageSizeBitmap; bits != 0; bits &= bits - 1) {
            sizes.add(Long.lowestOneBit(bits));
        }
        return List.copyOf(sizes);
    }
}
