package io.ualbridge.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.ualbridge.DeviceInfo;
import io.ualbridge.FabricAddress;
import io.ualbridge.Fault;
import io.ualbridge.FaultBatch;
import io.ualbridge.Mapping;
import io.ualbridge.PodAccel;
import io.ualbridge.PodDomain;
import io.ualbridge.PodGrant;
import io.ualbridge.PodStatus;
import io.ualbridge.Translation;
import io.ualbridge.UalException;

import java.time.Instant;
import java.util.List;

/**
 * JSON documents of the CLI. Addresses are hex strings ("0x0000000000400000"), counts and sizes are numbers,
 * protections are strings ("rw").
 */
final class Json {
    static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    /** Writes a document on one line (the shell's protocol: one JSON document per line). */
    private static final ObjectWriter LINE = MAPPER.writer().without(SerializationFeature.INDENT_OUTPUT);

    private Json() {
    }

    static ObjectNode object() {
        return MAPPER.createObjectNode();
    }

    static ArrayNode array() {
        return MAPPER.createArrayNode();
    }

    static String write(Object node) {
        try {
            return MAPPER.writeValueAsString(node);
        } catch (Exception e) {
            throw new IllegalStateException("cannot write JSON: " + e.getMessage(), e);
        }
    }

    /** The document on a single line, without a line break. */
    static String line(Object node) {
        try {
            return LINE.writeValueAsString(node);
        } catch (Exception e) {
            throw new IllegalStateException("cannot write JSON: " + e.getMessage(), e);
        }
    }

    static ObjectNode info(DeviceInfo i) {
        ObjectNode n = object();
        n.put("backend", i.backend());
        n.put("abiVersion", (i.abiVersion() >>> 16) + "." + (i.abiVersion() & 0xffff));
        n.put("acceleratorId", i.acceleratorId());
        n.put("acceleratorCount", i.acceleratorCount());
        n.set("modes", modes(i.modes()));
        ArrayNode ps = n.putArray("pageSizes");
        i.pageSizes().forEach(ps::add);
        n.put("pageSizeBitmap", Fmt.hex(i.pageSizeBitmap()));
        n.put("physBits", i.physBits());
        n.put("dmaBits", i.dmaBits());
        n.put("pageTableLevels", i.pageTableLevels());
        n.put("memorySize", i.memorySize());
        n.put("memoryFree", i.memoryFree());
        n.put("ptPoolPages", i.ptPoolPages());
        n.put("ptPoolFree", i.ptPoolFree());
        n.put("tlbEntries", i.tlbEntries());
        n.put("tlbHits", i.tlbHits());
        n.put("tlbMisses", i.tlbMisses());
        n.put("iovaRanges", i.iovaRanges());
        n.put("mappedPages", i.mappedPages());
        n.put("grants", i.grants());
        n.put("requestMin", i.requestMin());
        n.put("requestMax", i.requestMax());
        return n;
    }

    static ObjectNode faddr(FabricAddress a) {
        ObjectNode n = object();
        n.put("routed", a.routed());
        n.put("route", Fmt.route(a.routeWord()));
        if (a.routed()) {
            n.put("target", a.target());
        }
        n.put("address", Fmt.addr(a.address()));
        return n;
    }

    static ObjectNode mapping(Mapping m) {
        ObjectNode n = object();
        n.put("iova", Fmt.addr(m.iova()));
        n.put("size", m.size());
        n.put("level", m.level());
        n.put("target", m.target());
        n.put("phys", Fmt.addr(m.phys()));
        n.put("prot", Fmt.prot(m.prot()));
        return n;
    }

    static ArrayNode mappings(List<Mapping> ms) {
        ArrayNode a = array();
        ms.forEach(m -> a.add(mapping(m)));
        return a;
    }

    static ObjectNode translation(Translation t) {
        ObjectNode n = object();
        n.put("target", t.target());
        n.put("phys", Fmt.addr(t.phys()));
        n.put("pageSize", t.pageSize());
        n.put("prot", Fmt.prot(t.prot()));
        n.put("tlbHit", t.tlbHit());
        return n;
    }

    static ObjectNode fault(Fault f) {
        ObjectNode n = object();
        n.put("seq", f.seq());
        n.put("initiator", f.initiator());
        if (f.target() < 0) {
            n.putNull("target");
        } else {
            n.put("target", f.target());
        }
        n.set("address", faddr(f.address()));
        n.put("access", Fmt.access(f.access()));
        n.put("reason", f.reason().name());
        n.put("description", f.reason().description());
        n.put("fromTlb", f.fromTlb());
        n.put("atTarget", f.atTarget());
        n.put("length", f.length());
        return n;
    }

    static ObjectNode faults(FaultBatch b) {
        ObjectNode n = object();
        ArrayNode a = n.putArray("faults");
        b.faults().forEach(f -> a.add(fault(f)));
        n.put("lost", b.lost());
        return n;
    }

    static ObjectNode error(UalException e) {
        ObjectNode n = object();
        n.put("error", e.error().name());
        n.put("code", e.code());
        n.put("operation", e.operation());
        n.put("message", e.getMessage());
        return n;
    }

    /** Addressing modes as names: ["physical", "virtual"]. */
    static ArrayNode modes(int modes) {
        ArrayNode a = array();
        Fmt.modeNames(modes).forEach(a::add);
        return a;
    }

    /** ualctl pod status --json (and the shell's pod-status). Times are ISO-8601 UTC strings. */
    static ObjectNode podStatus(PodStatus p) {
        ObjectNode n = object();
        n.put("path", p.path());
        n.put("acceleratorCount", p.acceleratorCount());
        n.set("modes", modes(p.modes()));
        n.put("memorySize", p.memorySize());
        n.put("heapSize", p.heapSize());
        n.put("heapUsed", p.heapUsed());
        n.put("created", instant(p.created()));
        n.put("poisoned", p.poisoned());
        n.put("poisonReason", p.poisonReason());
        n.put("reaped", p.reaped());
        ArrayNode ds = n.putArray("domains");
        for (PodDomain d : p.domains()) {
            ObjectNode o = ds.addObject();
            o.put("slot", d.slot());
            o.put("pid", d.pid());
            o.put("host", d.host());
            o.put("comm", d.comm());
            o.put("handles", d.handles());
            o.put("accels", d.accelerators());
            o.put("since", instant(d.attached()));
        }
        ArrayNode as = n.putArray("accelerators");
        for (PodAccel a : p.accelerators()) {
            ObjectNode o = as.addObject();
            o.put("id", a.id());
            o.put("state", a.state().name());
            if (a.ownerSlot() < 0) {
                o.putNull("ownerSlot");
            } else {
                o.put("ownerSlot", a.ownerSlot());
            }
            if (a.ownerPid() == 0) {
                o.putNull("ownerPid");
            } else {
                o.put("ownerPid", a.ownerPid());
            }
            o.put("memUsed", a.memoryUsed());
            o.put("grants", a.grants());
        }
        ArrayNode gs = n.putArray("grants");
        for (PodGrant g : p.grants()) {
            ObjectNode o = gs.addObject();
            o.put("target", g.target());
            o.put("initiator", g.initiator());
            o.put("pfn", g.pfn());
            o.put("pages", g.pages());
            o.put("prot", Fmt.prot(g.prot()));
        }
        return n;
    }

    static String instant(Instant t) {
        return t.toString();
    }
}
