package io.ualbridge.cli;

/** What the error handlers need to know of any command: whether it prints JSON and whether it is verbose. */
interface OutputFlags {
    /** Whether stdout carries JSON (an error then also goes there as a JSON document). */
    boolean json();

    /** Whether to print stack traces of errors. */
    boolean verbose();
}
