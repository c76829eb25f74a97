package io.ualbridge;

/** Protection bits of a mapping or grant ({@code UAL_PROT_*}). */
public final class Prot {
    /** Reads allowed. */
    public static final int READ = 1;
    /** Writes allowed. */
    public static final int WRITE = 2;
    /** Reads and writes allowed. */
    public static final int RW = READ | WRITE;

    private Prot() {
    }

    /**
     * Renders protection bits as two characters, like {@code ls}: {@code "r-"}, {@code "-w"}, {@code "rw"} or
     * {@code "--"}. Bits other than {@link #READ} and {@link #WRITE} are ignored.
     *
     * @param prot protection bits
     * @return the two-character form
     */
    public static String toString(int prot) {
        return ((prot & READ) != 0 ? "r" : "-") + ((prot & WRITE) != 0 ? "w" : "-");
    }
}
