package io.ualbridge.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.ualbridge.FabricAddress;
import io.ualbridge.Fault;
import io.ualbridge.FaultBatch;
import io.ualbridge.Translation;
import io.ualbridge.UalException;

import java.util.List;

/** One translated request: the translation, or the refusal with the fault it recorded. */
record Probe(String label, int requester, FabricAddress address, int access, Translation translation,
        UalException error, Fault fault) {

    boolean ok() {
        return translation != null;
    }

    /** Translates as the fabric would and, on refusal, drains the requester's fault ring to find the record. */
    static Probe run(Session s, String label, int requester, FabricAddress address, int access) {
        try {
            Translation t = s.device().translate(requester, address, access);
            return new Probe(label, requester, address, access, t, null, null);
        } catch (UalException e) {
            FaultBatch b = s.drain(requester);
            List<Fault> fs = b.faults();
            Fault f = fs.isEmpty() ? null : fs.get(fs.size() - 1);
            return new Probe(label, requester, address, access, null, e, f);
        }
    }

    String result() {
        if (ok()) {
            return "OK";
        }
        return "FAULT " + (fault != null ? fault.reason().name() : error.error().name());
    }

    String tlb() {
        if (!ok()) {
            return fault != null && fault.fromTlb() ? "stale" : "-";
        }
        return address.routed() ? "-" : translation.tlbHit() ? "hit" : "miss";
    }

    static Table table() {
        return new Table("STEP", "MODE", "REQUESTER", "ADDRESS", "ACCESS", "RESULT", "TARGET", "PHYS", "PAGE", "PROT",
                "TLB");
    }

    /** A narrower table for one requester and one mode (the demo). */
    static Table compactTable() {
        return new Table("STEP", "ADDRESS", "RESULT", "TARGET", "PHYS", "PAGE", "TLB");
    }

    void addCompact(Table t) {
        if (ok()) {
            t.row(label, Fmt.faddr(address), result(), translation.target(), Fmt.addr(translation.phys()),
                    Fmt.size(translation.pageSize()), tlb());
        } else {
            t.row(label, Fmt.faddr(address), result(), fault != null ? Fmt.accel(fault.target()) : "-", "-", "-",
                    tlb());
        }
    }

    void addTo(Table t) {
        String mode = address.routed() ? "physical" : "virtual";
        if (ok()) {
            t.row(label, mode, requester, Fmt.faddr(address), Fmt.access(access), result(), translation.target(),
                    Fmt.addr(translation.phys()), Fmt.size(translation.pageSize()), Fmt.prot(translation.prot()), tlb());
        } else {
            t.row(label, mode, requester, Fmt.faddr(address), Fmt.access(access), result(),
                    fault != null ? Fmt.accel(fault.target()) : "-", "-", "-", "-", tlb());
        }
    }

    /** A line explaining a refusal: the error and the fault's reason and flags. */
    String explain() {
        if (ok()) {
            return "";
        }
        StringBuilder sb = new StringBuilder(error.error().name()).append(": ");
        if (fault != null) {
            sb.append(fault.reason().description());
            if (fault.fromTlb()) {
                sb.append(" [decided from a cached TLB entry]");
            }
            if (fault.target() >= 0) {
                sb.append(" [refused by accelerator ").append(fault.target()).append("]");
            }
        } else {
            sb.append(error.getMessage());
        }
        return sb.toString();
    }

    ObjectNode json() {
        ObjectNode n = Json.object();
        n.put("step", label);
        n.put("mode", address.routed() ? "physical" : "virtual");
        n.put("requester", requester);
        n.set("address", Json.faddr(address));
        n.put("access", Fmt.access(access));
        n.put("ok", ok());
        if (ok()) {
            n.set("translation", Json.translation(translation));
        } else {
            n.put("error", error.error().name());
            n.put("message", error.getMessage());
            if (fault != null) {
                n.set("fault", Json.fault(fault));
            } else {
                n.putNull("fault");
            }
        }
        return n;
    }
}
