package io.ualbridge;

/** The access of a fabric request ({@code UAL_ACCESS_*}), as passed to {@link UalDevice#translate}. */
public final class Access {
    /** A read request. */
    public static final int READ = 1;
    /** A write request. */
    public static final int WRITE = 2;

    private Access() {
    }
}
