package io.ualbridge.bench;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;

/**
 * libual through JNA direct mapping (the fastest way JNA offers: native methods bound with
 * {@link Native#register}, no interface proxy). Loads the file named by {@code -Dualbridge.library.path}, the same
 * library the FFM side uses.
 */
final class JnaUal {
    static {
        String path = System.getProperty("ualbridge.library.path");
        if (path == null || path.isBlank()) {
            throw new IllegalStateException("set -Dualbridge.library.path=/path/to/libual.so");
        }
        Native.register(JnaUal.class, NativeLibrary.getInstance(path));
    }

    private JnaUal() {
    }

    static native int ual_abi_version();

    static native int ual_open(String uri, Pointer out);

    static native void ual_close(Pointer dev);

    static native int ual_mem_alloc(Pointer dev, long size, long align, Pointer pfnOut);

    static native int ual_iova_alloc(Pointer dev, long size, int flags, Pointer iovaOut);

    static native int ual_iova_free(Pointer dev, long iova);

    static native int ual_iova_link(Pointer dev, long iova, long offset, int target, long[] pfns, long n, int prot);

    static native int ual_iova_unlink(Pointer dev, long iova, long offset, long len);

    static native int ual_map_pfns(Pointer dev, int target, Pointer pfns, long n, int prot, Pointer out);

    static native int ual_translate(Pointer dev, int initiator, Pointer fa, int access, Pointer out);

    static native String ual_last_error();

    /** Throws if a call failed, with libual's message. */
    static void check(int rc, String what) {
        if (rc != 0) {
            throw new IllegalStateException(what + " failed (" + rc + "): " + ual_last_error());
        }
    }
}
