package io.ualbridge;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.ualbridge.internal.UalNative;

/**
 * Loads libual once per class loader, before anything touches {@link UalNative} (whose symbols are looked up
 * through {@code SymbolLookup.loaderLookup()}, i.e. among the libraries this class loader loaded).
 *
 * <p>If the system property {@value #PROPERTY} is set, that file is loaded. Otherwise the library packed in the
 * jar at {@value #RESOURCE} is extracted to a temporary file and loaded; the file is deleted right after loading
 * (Linux keeps the mapping) or, failing that, on exit. The loaded library's ABI major version must equal the one
 * the bindings were generated for.
 */
final class NativeLoader {
    /** Class path resource of the packed library. */
    static final String RESOURCE = "/io/ualbridge/native/linux-x86_64/libual.so";
    /** System property naming a library file to load instead of the packed one. */
    static final String PROPERTY = "ualbridge.library.path";

    private static final Logger LOG = LoggerFactory.getLogger(NativeLoader.class);
    private static final Object LOCK = new Object();
    private static volatile boolean loaded;
    private static Throwable failure;

    private NativeLoader() {
    }

    /**
     * Loads the library if that has not happened yet.
     *
     * @throws UnsatisfiedLinkError if the library cannot be found, loaded, or has an incompatible ABI (the same
     *                              error is thrown again on later calls)
     */
    static void load() {
        if (loaded) {
            return;
        }
        synchronized (LOCK) {
            if (loaded) {
                return;
            }
            if (failure != null) {
                throw linkError("libual failed to load earlier", failure);
            }
            try {
                doLoad();
                loaded = true;
            } catch (Throwable t) {
                failure = t;
                throw t instanceof UnsatisfiedLinkError ule ? ule : linkError("cannot load libual", t);
            }
        }
    }

    private static UnsatisfiedLinkError linkError(String message, Throwable cause) {
        UnsatisfiedLinkError e = new UnsatisfiedLinkError(message + ": " + cause.getMessage());
        e.initCause(cause);
        return e;
    }

    private static void doLoad() throws IOException {
        String override = System.getProperty(PROPERTY);
        if (override != null && !override.isBlank()) {
            Path path = Path.of(override).toAbsolutePath();
            LOG.debug("loading libual from {} (system property {})", path, PROPERTY);
            System.load(path.toString());
        } else {
            String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
            String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
            if (!os.startsWith("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
                throw new UnsatisfiedLinkError("libual is packed for linux-x86_64 only, not " + os + "-" + arch
                        + "; set -D" + PROPERTY + "=/path/to/libual.so");
            }
            try (InputStream in = NativeLoader.class.getResourceAsStream(RESOURCE)) {
                if (in == null) {
                    throw new UnsatisfiedLinkError("resource " + RESOURCE + " missing from the class path; set -D"
                            + PROPERTY + "=/path/to/libual.so");
                }
                Path tmp = Files.createTempFile("libual-", ".so");
                try {
                    Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
                    LOG.debug("loading libual extracted to {}", tmp);
                    System.load(tmp.toAbsolutePath().toString());
                } finally {
                    try {
                        Files.delete(tmp);
                    } catch (IOException e) {
                        tmp.toFile().deleteOnExit();
                    }
                }
            }
        }
        int abi = UalNative.ual_abi_version();
        int major = abi >>> 16;
        if (major != UalNative.UAL_ABI_VERSION_MAJOR()) {
            throw new UnsatisfiedLinkError(String.format(
                    "libual ABI %d.%d is incompatible with bindings for ABI %d.%d", major, abi & 0xffff,
                    UalNative.UAL_ABI_VERSION_MAJOR(), UalNative.UAL_ABI_VERSION_MINOR()));
        }
        LOG.debug("libual ABI {}.{} loaded", major, abi & 0xffff);
    }
}
