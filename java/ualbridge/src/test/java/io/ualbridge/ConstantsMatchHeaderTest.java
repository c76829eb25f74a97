package io.ualbridge;

import static org.assertj.core.api.Assertions.assertThat;

import io.ualbridge.internal.UalNative;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The public API spells the header's constants as Java constants (so they are compile-time
 * constants usable in switch labels). This pins every one of them to the value jextract
 * generated from ual.h, so the two cannot drift apart.
 */
class ConstantsMatchHeaderTest {

    @Test
    void protectionAccessAndFlagsMatchTheHeader() {
        assertThat(Prot.READ).isEqualTo(UalNative.UAL_PROT_READ());
        assertThat(Prot.WRITE).isEqualTo(UalNative.UAL_PROT_WRITE());
        assertThat(Prot.RW).isEqualTo(UalNative.UAL_PROT_RW());
        assertThat(Access.READ).isEqualTo(UalNative.UAL_ACCESS_READ());
        assertThat(Access.WRITE).isEqualTo(UalNative.UAL_ACCESS_WRITE());
        assertThat(IovaRange.PREALLOC).isEqualTo(UalNative.UAL_IOVA_PREALLOC());
        assertThat(FabricAddress.PHYS_BITS).isEqualTo(UalNative.UAL_PHYS_BITS());
        assertThat(FabricAddress.ROUTE_PHYS).isEqualTo(UalNative.UAL_ROUTE_PHYS());
        assertThat(FabricAddress.ROUTE_TARGET_MASK).isEqualTo(UalNative.UAL_ROUTE_TARGET_MASK());
    }

    @Test
    void everyErrorCodeMatchesTheHeader() {
        Map<ErrorCode, Integer> header = Map.ofEntries(
                Map.entry(ErrorCode.EPERM, UalNative.UAL_EPERM()),
                Map.entry(ErrorCode.ENOENT, UalNative.UAL_ENOENT()),
                Map.entry(ErrorCode.EIO, UalNative.UAL_EIO()),
                Map.entry(ErrorCode.EBADF, UalNative.UAL_EBADF()),
                Map.entry(ErrorCode.ENOMEM, UalNative.UAL_ENOMEM()),
                Map.entry(ErrorCode.EACCES, UalNative.UAL_EACCES()),
                Map.entry(ErrorCode.EFAULT, UalNative.UAL_EFAULT()),
                Map.entry(ErrorCode.EBUSY, UalNative.UAL_EBUSY()),
                Map.entry(ErrorCode.EEXIST, UalNative.UAL_EEXIST()),
                Map.entry(ErrorCode.ENODEV, UalNative.UAL_ENODEV()),
                Map.entry(ErrorCode.EINVAL, UalNative.UAL_EINVAL()),
                Map.entry(ErrorCode.ENOSPC, UalNative.UAL_ENOSPC()),
                Map.entry(ErrorCode.ERANGE, UalNative.UAL_ERANGE()),
                Map.entry(ErrorCode.EOVERFLOW, UalNative.UAL_EOVERFLOW()),
                Map.entry(ErrorCode.ENOTSUP, UalNative.UAL_ENOTSUP()),
                Map.entry(ErrorCode.EHOSTDOWN, UalNative.UAL_EHOSTDOWN()),
                Map.entry(ErrorCode.EOWNERDEAD, UalNative.UAL_EOWNERDEAD()));
        for (ErrorCode e : ErrorCode.values()) {
            if (e == ErrorCode.UNKNOWN) continue;
            assertThat(header).as("ual.h has a code for %s", e).containsKey(e);
            assertThat(e.code()).as(e.name()).isEqualTo(header.get(e));
            assertThat(ErrorCode.of(header.get(e))).isEqualTo(e);
        }
    }

    @Test
    void podConstantsMatchTheHeader() {
        assertThat(Pod.MAX_DOMAINS).isEqualTo(UalNative.UAL_POD_MAX_DOMAINS());
        assertThat(PodAccel.State.FREE.code()).isEqualTo(UalNative.UAL_POD_ACCEL_FREE());
        assertThat(PodAccel.State.OWNED.code()).isEqualTo(UalNative.UAL_POD_ACCEL_OWNED());
        assertThat(PodAccel.State.DOWN.code()).isEqualTo(UalNative.UAL_POD_ACCEL_DOWN());
        assertThat(PodAccel.State.of(UalNative.UAL_POD_ACCEL_DOWN())).isEqualTo(PodAccel.State.DOWN);
        assertThat(PodAccel.State.of(-1)).isEqualTo(PodAccel.State.UNKNOWN);
        assertThat(PodAccel.State.of(99)).isEqualTo(PodAccel.State.UNKNOWN);
    }

    @Test
    void faultReasonsMatchTheHeader() {
        assertThat(FaultReason.NOT_PRESENT.code()).isEqualTo(UalNative.UAL_FAULT_NOT_PRESENT());
        assertThat(FaultReason.PROT.code()).isEqualTo(UalNative.UAL_FAULT_PROT());
        assertThat(FaultReason.NO_GRANT.code()).isEqualTo(UalNative.UAL_FAULT_NO_GRANT());
        assertThat(FaultReason.GRANT_PROT.code()).isEqualTo(UalNative.UAL_FAULT_GRANT_PROT());
        assertThat(FaultReason.BAD_TARGET.code()).isEqualTo(UalNative.UAL_FAULT_BAD_TARGET());
        assertThat(FaultReason.OUT_OF_RANGE.code()).isEqualTo(UalNative.UAL_FAULT_OUT_OF_RANGE());
        assertThat(FaultReason.MODE.code()).isEqualTo(UalNative.UAL_FAULT_MODE());
    }
}
