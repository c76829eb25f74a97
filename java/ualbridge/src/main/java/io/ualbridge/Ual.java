package io.ualbridge;

/** Library-level entry points of ualbridge. */
public final class Ual {
    private Ual() {
    }

    /**
     * Returns the ABI version of the loaded libual (major in bits 31..16, minor in bits 15..0), loading it if
     * needed.
     *
     * @return the library's {@code UAL_ABI_VERSION}
     * @throws UnsatisfiedLinkError if libual cannot be loaded or its ABI major differs from the bindings'
     */
    public static int abiVersion() {
        NativeLoader.load();
        return FastPath.abiVersion();
    }

    /**
     * Opens a handle on a fabric; the same as {@link UalDevice#open(String)}.
     *
     * @param uri backend and options, for example {@code "fake:?accels=4"}
     * @return the open handle
     * @throws UalException         if libual refuses the URI
     * @throws UnsatisfiedLinkError if libual cannot be loaded
     */
    public static UalDevice open(String uri) {
        return UalDevice.open(uri);
    }
}
