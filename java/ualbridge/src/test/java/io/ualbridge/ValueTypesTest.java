package io.ualbridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** Pure-Java value types: no native library needed. */
class ValueTypesTest {

    @Test
    void fabricAddressText() {
        assertThat(FabricAddress.physical(3, 0x1234000L))
                .hasToString("phys[route=1 target=3 addr=0x0000000001234000]");
        assertThat(FabricAddress.iova(0x200000L)).hasToString("iova[0x0000000000200000]");
    }

    @Test
    void fabricAddressRouteWord() {
        assertThat(FabricAddress.physical(3, 0).routeWord()).isEqualTo(0x8000_0003);
        assertThat(FabricAddress.physical(1023, 0).routeWord()).isEqualTo(0x8000_03ff);
        assertThat(FabricAddress.iova(0x1000).routeWord()).isZero();
    }

    @Test
    void fabricAddressValidates() {
        assertThatThrownBy(() -> FabricAddress.physical(1024, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> FabricAddress.physical(-1, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> FabricAddress.physical(0, 1L << 57)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> FabricAddress.physical(0, -1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new FabricAddress(false, 2, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThat(FabricAddress.physical(0, (1L << 57) - 1).address()).isEqualTo((1L << 57) - 1);
        // IOVAs are not limited to 57 bits by the type: the fabric decides (EOVERFLOW, EFAULT)
        assertThat(FabricAddress.iova(-64).address()).isEqualTo(-64);
    }

    @Test
    void fabricAddressPlus() {
        assertThat(FabricAddress.physical(2, 0x1000).plus(0x40)).isEqualTo(FabricAddress.physical(2, 0x1040));
        assertThat(FabricAddress.iova(0x2000).plus(-0x1000)).isEqualTo(FabricAddress.iova(0x1000));
        assertThatThrownBy(() -> FabricAddress.physical(0, (1L << 57) - 64).plus(64))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> FabricAddress.iova(-64).plus(64)).isInstanceOf(ArithmeticException.class);
        assertThatThrownBy(() -> FabricAddress.iova(0).plus(-1)).isInstanceOf(ArithmeticException.class);
    }

    @Test
    void fabricAddressWireRoundTrip() {
        assertThat(FabricAddress.fromWire(0x5000, 0x8000_0007)).isEqualTo(FabricAddress.physical(7, 0x5000));
        assertThat(FabricAddress.fromWire(0x5000, 0)).isEqualTo(FabricAddress.iova(0x5000));
        assertThatThrownBy(() -> FabricAddress.fromWire(0, 0x10)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void protText() {
        assertThat(Prot.toString(Prot.READ)).isEqualTo("r-");
        assertThat(Prot.toString(Prot.WRITE)).isEqualTo("-w");
        assertThat(Prot.toString(Prot.RW)).isEqualTo("rw");
        assertThat(Prot.toString(0)).isEqualTo("--");
        assertThat(Prot.RW).isEqualTo(3);
        assertThat(Access.READ).isEqualTo(1);
        assertThat(Access.WRITE).isEqualTo(2);
    }

    @Test
    void errorCodes() {
        for (ErrorCode e : ErrorCode.values()) {
            assertThat(ErrorCode.of(e.code())).isEqualTo(e);
        }
        assertThat(ErrorCode.of(-34)).isEqualTo(ErrorCode.ERANGE);
        assertThat(ErrorCode.of(-1000)).isEqualTo(ErrorCode.UNKNOWN);
        assertThat(ErrorCode.of(1)).isEqualTo(ErrorCode.UNKNOWN);
    }

    @Test
    void faultReasons() {
        for (FaultReason r : FaultReason.values()) {
            assertThat(FaultReason.of(r.code())).isEqualTo(r);
            assertThat(r.description()).isNotBlank();
        }
        assertThat(FaultReason.NOT_PRESENT.code()).isEqualTo(1);
        assertThat(FaultReason.MODE.code()).isEqualTo(7);
        assertThatThrownBy(() -> FaultReason.of(0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void exceptionMessage() {
        UalException e = new UalException("iova_link", -34, "Numerical result out of range",
                "iova_link: PFN 0x4000 outside accelerator 0 memory");
        assertThat(e).hasMessage("iova_link: Numerical result out of range (ERANGE): "
                + "iova_link: PFN 0x4000 outside accelerator 0 memory");
        assertThat(e.error()).isEqualTo(ErrorCode.ERANGE);
        assertThat(e.code()).isEqualTo(-34);
        assertThat(e.operation()).isEqualTo("iova_link");
        assertThat(new UalException("x", -999, "unknown error", "")).hasMessage("x: unknown error (UNKNOWN -999)");
    }

    @Test
    void deviceInfoPageSizes() {
        DeviceInfo info = new DeviceInfo(0x10000, 0, 4, 3, 57, 48, 4, (1L << 12) | (1L << 16) | (1L << 21), 0, 0,
                0, 0, 0, 0, 0, 0, 0, 0, 64, 256, "fake");
        assertThat(info.pageSizes()).containsExactly(4096L, 65536L, 2097152L);
        assertThat(info.supportsPhysical()).isTrue();
        assertThat(info.supportsVirtual()).isTrue();
    }
}
