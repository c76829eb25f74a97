import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import io.ualbridge.internal.UalNative;

/**
 * Preflight of scripts/test-asan-java: proves that a use-after-free in libual, reached from the JVM, is caught
 * (the JVM must die with an AddressSanitizer report). Uses the raw bindings to query a handle after ual_close,
 * which the Java API never does.
 */
public final class AsanCanary {
    public static void main(String[] args) throws ReflectiveOperationException {
        // The library must belong to the class loader of the bindings: load it the library's way.
        var load = Class.forName("io.ualbridge.NativeLoader").getDeclaredMethod("load");
        load.setAccessible(true);
        load.invoke(null);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            if (UalNative.ual_open(a.allocateFrom("fake:"), out) != 0) {
                throw new AssertionError("open failed");
            }
            MemorySegment dev = out.get(ValueLayout.ADDRESS, 0);
            UalNative.ual_close(dev);
            int rc = UalNative.ual_query(dev, a.allocate(512));
            System.out.println("use after free went unnoticed: rc " + rc);
        }
    }
}
