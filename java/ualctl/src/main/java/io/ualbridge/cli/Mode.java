package io.ualbridge.cli;

/** Addressing mode selected on the command line. */
enum Mode {
    physical, virtual, both;

    boolean physicalMode() {
        return this != virtual;
    }

    boolean virtualMode() {
        return this != physical;
    }
}
