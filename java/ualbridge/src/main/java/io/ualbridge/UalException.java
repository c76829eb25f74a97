package io.ualbridge;

import java.util.Objects;

/**
 * A libual call failed: carries the {@link ErrorCode}, the raw code, the name of the failing operation and the
 * message libual stored for the calling thread ({@code ual_last_error()}).
 *
 * <p>The message reads {@code "<operation>: <strerror> (<CODE>): <detail>"}, for example
 * {@code "iova_link: Numerical result out of range (ERANGE): iova_link: PFN 0x4000 outside accelerator 0 memory"}.
 * On failure libual changes nothing, so the state of the device is as before the call.
 */
public class UalException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final ErrorCode error;
    private final int code;
    private final String operation;
    private final String detail;

    /**
     * Creates an exception for a failed call.
     *
     * @param operation the libual operation without the {@code ual_} prefix, for example {@code "iova_link"}
     * @param code      the negative code the call returned
     * @param strerror  the description of the code ({@code ual_strerror(code)})
     * @param detail    the thread's last error message ({@code ual_last_error()}), may be empty
     * @throws NullPointerException if {@code operation} is null
     */
    public UalException(String operation, int code, String strerror, String detail) {
        super(format(operation, code, strerror, detail));
        this.operation = Objects.requireNonNull(operation, "operation");
        this.code = code;
        this.error = ErrorCode.of(code);
        this.detail = detail == null ? "" : detail;
    }

    private static String format(String operation, int code, String strerror, String detail) {
        ErrorCode e = ErrorCode.of(code);
        String name = e == ErrorCode.UNKNOWN ? "UNKNOWN " + code : e.name();
        StringBuilder sb = new StringBuilder()
                .append(operation).append(": ")
                .append(strerror == null ? "unknown error" : strerror)
                .append(" (").append(name).append(')');
        if (detail != null && !detail.isEmpty()) {
            sb.append(": ").append(detail);
        }
        return sb.toString();
    }

    /**
     * Returns the error as a constant.
     *
     * @return the error, {@link ErrorCode#UNKNOWN} if the code is not one of the known codes
     */
    public ErrorCode error() {
        return error;
    }

    /**
     * Returns the raw code the call returned.
     *
     * @return a negative {@code UAL_E*} code
     */
    public int code() {
        return code;
    }

    /**
     * Returns the failing operation.
     *
     * @return the libual function name without the {@code ual_} prefix, for example {@code "iova_link"}
     */
    public String operation() {
        return operation;
    }

    /**
     * Returns the message libual stored for the failing call ({@code ual_last_error()}).
     *
     * @return the detail message, empty if libual gave none
     */
    public String detail() {
        return detail;
    }
}
