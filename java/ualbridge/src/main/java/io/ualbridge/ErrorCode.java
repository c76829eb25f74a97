package io.ualbridge;

/**
 * The error codes of libual: negated Linux errno values, as returned by every failing {@code ual_*} call.
 *
 * <p>{@link #UNKNOWN} stands for a code this version of the bindings does not know.
 */
public enum ErrorCode {
    /** Operation not permitted for this handle (for example a grant of another accelerator's pages). */
    EPERM(-1),
    /** Nothing there: range, mapping, grant, or PFN not allocated. */
    ENOENT(-2),
    /** Backend I/O error. */
    EIO(-5),
    /** Invalid or closed handle. */
    EBADF(-9),
    /** Out of memory: page-table pool, device memory, host. */
    ENOMEM(-12),
    /** Refused by the target's access control. */
    EACCES(-13),
    /** Translation fault: not present, protection, bad route. */
    EFAULT(-14),
    /** In use: page already linked, range still linked. */
    EBUSY(-16),
    /** Already exists: overlapping grant, fabric name. */
    EEXIST(-17),
    /** Unknown accelerator id or backend. */
    ENODEV(-19),
    /** Invalid argument: zero or unaligned size, bad flags. */
    EINVAL(-22),
    /** Address space exhausted: IOVA, grant table. */
    ENOSPC(-28),
    /** Out of range: offset past a range, PFN outside memory, address above the DMA limit. */
    ERANGE(-34),
    /** Arithmetic overflow: base plus length wraps. */
    EOVERFLOW(-75),
    /** Addressing mode or feature not supported. */
    ENOTSUP(-95),
    /**
     * Shared pod: the target accelerator's OS domain (the process owning it) died; its grants were revoked and its
     * memory freed. Requests to that accelerator fail this way until a process opens it again.
     */
    EHOSTDOWN(-112),
    /**
     * Shared pod: a domain died holding a pod lock mid-operation, so the pod's state can't be trusted; every call
     * on the pod fails this way. Re-create the pod ({@link Pod#create(String, boolean)} with replace).
     */
    EOWNERDEAD(-130),
    /** A code these bindings do not know. */
    UNKNOWN(0);

    private static final ErrorCode[] VALUES = values();

    private final int code;

    ErrorCode(int code) {
        this.code = code;
    }

    /**
     * Returns the negative code libual uses for this error.
     *
     * @return the code, for example {@code -34} for {@link #ERANGE}; {@code 0} for {@link #UNKNOWN}
     */
    public int code() {
        return code;
    }

    /**
     * Maps a libual return code to its constant.
     *
     * @param code a negative {@code UAL_E*} code
     * @return the matching constant, {@link #UNKNOWN} for a code not listed here (including 0)
     */
    public static ErrorCode of(int code) {
        for (ErrorCode e : VALUES) {
            if (e.code == code && e != UNKNOWN) {
                return e;
            }
        }
        return UNKNOWN;
    }
}
