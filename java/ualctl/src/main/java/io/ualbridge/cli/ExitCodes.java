package io.ualbridge.cli;

/** Exit codes of ualctl. */
final class ExitCodes {
    /** Success; every check passed. */
    static final int OK = 0;
    /** The library refused an operation (UalException): "ualctl: &lt;message&gt;" on stderr. */
    static final int LIBRARY = 1;
    /** Bad arguments (picocli usage error, out-of-range accelerator, malformed --uri). */
    static final int USAGE = 2;
    /** The fabric refused a request that was expected to go through (translate, copy): a fault was shown. */
    static final int REFUSED = 3;
    /** A check failed: copied bytes differ, or a demo step failed. */
    static final int CHECK_FAILED = 4;
    /** Internal error (a bug): unexpected exception. */
    static final int INTERNAL = 70;

    private ExitCodes() {
    }
}
