package io.ualbridge.cli;

import io.ualbridge.Access;

/** Access of a request selected on the command line. */
enum AccessKind {
    read, write;

    int code() {
        return this == read ? Access.READ : Access.WRITE;
    }
}
