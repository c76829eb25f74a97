package io.ualbridge;

/**
 * One accelerator of a shared pod ({@code struct ual_pod_accel}), as listed by {@link Pod#status(String)}.
 *
 * @param id         the accelerator's id
 * @param state      whether a live process owns it, nobody does, or its process died
 * @param ownerSlot  the owning domain's slot ({@link PodDomain#slot()}), or -1 if none
 * @param ownerPid   the owning process's pid (when {@link State#DOWN}: the dead process's), or 0 if none
 * @param memoryUsed bytes of its device memory allocated
 * @param grants     entries of its grant table
 */
public record PodAccel(int id, State state, int ownerSlot, int ownerPid, long memoryUsed, long grants) {

    /** State of an accelerator in a pod ({@code UAL_POD_ACCEL_*}). */
    public enum State {
        /** No process owns it; the next open of it takes it. */
        FREE(0),
        /** A live process owns it. */
        OWNED(1),
        /** Its process died (its grants were revoked); requests to it fail with {@link ErrorCode#EHOSTDOWN}. */
        DOWN(2),
        /** A state these bindings do not know (a newer library). */
        UNKNOWN(-1);

        private final int code;

        State(int code) {
            this.code = code;
        }

        /**
         * Returns the libual code of this state.
         *
         * @return the {@code UAL_POD_ACCEL_*} value, -1 for {@link #UNKNOWN}
         */
        public int code() {
            return code;
        }

        /**
         * Maps a libual state code to its constant.
         *
         * @param code a {@code UAL_POD_ACCEL_*} value
         * @return the constant, {@link #UNKNOWN} for a code not listed here
         */
        public static State of(int code) {
            for (State s : values()) {
                if (s.code == code && s != UNKNOWN) {
                    return s;
                }
            }
            return UNKNOWN;
        }
    }
}
