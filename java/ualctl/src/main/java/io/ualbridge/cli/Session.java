package io.ualbridge.cli;

import io.ualbridge.DeviceInfo;
import io.ualbridge.ErrorCode;
import io.ualbridge.FaultBatch;
import io.ualbridge.UalDevice;
import io.ualbridge.UalException;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import java.util.TreeMap;

/**
 * One invocation's view of the fabric: the handle opened on --uri, handles of other accelerators opened on
 * demand, and the objects created along the way (closed in reverse order, before the handles).
 */
final class Session implements AutoCloseable {
    private final CommandLine cl;
    private final UalDevice dev;
    private final DeviceInfo info;
    private final Map<Integer, UalDevice> peers = new TreeMap<>();
    private final Deque<AutoCloseable> resources = new ArrayDeque<>();

    private Session(CommandLine cl, UalDevice dev) {
        this.cl = cl;
        this.dev = dev;
        this.info = dev.info();
    }

    /**
     * Opens the device named by the URI. A URI the library rejects as malformed or naming an unknown backend is
     * a usage error (exit 2) naming --uri.
     */
    static Session open(CommandLine cl, String uri) {
        UalDevice d;
        try {
            d = UalDevice.open(uri);
        } catch (UalException e) {
            if (e.error() == ErrorCode.EINVAL || e.error() == ErrorCode.ENODEV) {
                throw new ParameterException(cl, "--uri '" + uri + "': " + e.getMessage(), e, null, uri);
            }
            throw e;
        }
        try {
            return new Session(cl, d);
        } catch (RuntimeException e) {
            d.close();
            throw e;
        }
    }

    UalDevice device() {
        return dev;
    }

    /** Info of the local accelerator as it was when the session opened. */
    DeviceInfo info() {
        return info;
    }

    int local() {
        return info.acceleratorId();
    }

    int count() {
        return info.acceleratorCount();
    }

    /** The accelerator after the local one (or the local one in a fabric of one). */
    int nextPeer() {
        return (local() + 1) % count();
    }

    /** A handle driving the given accelerator (the --uri handle for the local one). */
    UalDevice on(int accel) {
        if (accel == local()) {
            return dev;
        }
        return peers.computeIfAbsent(accel, dev::openPeer);
    }

    /** Validates an accelerator id given by an option: a usage error naming the option if it's not in the fabric. */
    int accel(String option, int id) {
        if (id < 0 || id >= count()) {
            throw new ParameterException(cl, String.format("%s %d: no such accelerator (the fabric %s has %d: 0..%d)",
                    option, id, dev.uri(), count(), count() - 1));
        }
        return id;
    }

    /** Tracks an object to close when the session ends. */
    <T extends AutoCloseable> T track(T resource) {
        resources.push(resource);
        return resource;
    }

    /** Drains the fault ring of an accelerator. */
    FaultBatch drain(int accel) {
        return on(accel).readFaults(1024);
    }

    ParameterException usage(String message) {
        return new ParameterException(cl, message);
    }

    @Override
    public void close() {
        RuntimeException first = null;
        while (!resources.isEmpty()) {
            try {
                resources.pop().close();
            } catch (Exception e) {
                first = first == null ? asRuntime(e) : first;
            }
        }
        for (UalDevice p : peers.values()) {
            try {
                p.close();
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
        }
        peers.clear();
        dev.close();
        if (first != null) {
            throw first;
        }
    }

    private static RuntimeException asRuntime(Exception e) {
        return e instanceof RuntimeException r ? r : new IllegalStateException(e.getMessage(), e);
    }
}
