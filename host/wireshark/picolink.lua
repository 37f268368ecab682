-- Wireshark dissector for picolink captures: the 8-byte capture pseudo-header that hal/mw/pcap.ts puts
-- before every frame (libpcap LINKTYPE_USER0, Wireshark encapsulation USER0), the telemetry frame, the
-- CSMA/CA MAC frames (firmware/mac/csma/frame.ts), the piconet packets (firmware/mac/piconet/frame.ts) and
-- the request-reply messages (firmware/rr/frame.ts), Psync messages (firmware/psync/frame.ts) and device
-- group messages (firmware/services/group.ts). A MAC payload may lead with a service byte, numbered
-- as the pseudo-header's PROTO field, naming the protocol of the rest.
-- Payloads go through the "picolink.proto" dissector table, so each protocol registers by its number.
-- Telemetry readings are a CBOR map (RFC 8949), handed to Wireshark's own CBOR dissector.
--
-- Every length is checked before a field is read: bad input becomes expert info, never a Lua error.

local picolink = Proto("picolink", "picolink capture")

local DIR_NAMES = { [0] = "received", [1] = "sent" }
-- Same numbers as CAP_PROTO and CAP_MEDIUM in hal/mw/pcap.ts.
local PROTO_NAMES = { [0] = "raw", [1] = "telemetry", [2] = "csma", [3] = "piconet", [4] = "rr", [5] = "psync", [6] = "group", [7] = "tunnel" }
local MEDIUM_NAMES = { [0] = "radio", [1] = "serial", [2] = "wired", [3] = "ip" }

local CAP_HDR = 8
local CAP_VERSION = 1

local f = {
    version = ProtoField.uint8("picolink.version", "Version", base.DEC),
    flags = ProtoField.uint8("picolink.flags", "Flags", base.HEX),
    dir = ProtoField.uint8("picolink.dir", "Direction", base.DEC, DIR_NAMES, 0x01),
    station = ProtoField.uint16("picolink.station", "Station", base.DEC),
    proto = ProtoField.uint8("picolink.proto", "Protocol", base.DEC, PROTO_NAMES),
    medium = ProtoField.uint8("picolink.medium", "Medium", base.DEC, MEDIUM_NAMES),
    len = ProtoField.uint16("picolink.len", "Length", base.DEC),
    -- Not in the pseudo-header: the service byte that may lead a MAC payload (CSMA DATA, piconet ACL).
    service = ProtoField.uint8("picolink.service", "Service", base.DEC, PROTO_NAMES, nil,
        "First byte of a MAC payload saying what the rest is, numbered as the capture's Protocol field"),
}
picolink.fields = { f.version, f.flags, f.dir, f.station, f.proto, f.medium, f.len, f.service }

picolink.prefs.service_byte = Pref.bool("MAC payloads start with a service byte", true,
    "Read the first byte of a CSMA DATA or piconet ACL payload as a service number when a dissector is " ..
    "registered for it (1 telemetry, 4 rr, ...), and hand the rest to that dissector. Off: show payloads as data.")

local e = {
    short = ProtoExpert.new("picolink.short", "Capture record shorter than the picolink pseudo-header",
        expert.group.MALFORMED, expert.severity.ERROR),
    version = ProtoExpert.new("picolink.version.unknown", "Unknown picolink capture version",
        expert.group.MALFORMED, expert.severity.WARN),
    len = ProtoExpert.new("picolink.len.mismatch", "Length field does not match the captured bytes",
        expert.group.MALFORMED, expert.severity.WARN),
}
picolink.experts = { e.short, e.version, e.len }

local proto_table = DissectorTable.new("picolink.proto", "picolink payload protocol", ftypes.UINT8, base.DEC, picolink)

-- Dissector.get raises an error for an unknown name in some Wireshark versions and returns nil in others.
local function find_dissector(name)
    local ok, d = pcall(Dissector.get, name)
    if ok then return d end
    return nil
end

local data_dissector = find_dissector("data")

function picolink.dissector(tvb, pinfo, tree)
    local avail = tvb:len()
    pinfo.cols.protocol = "picolink"
    local t = tree:add(picolink, tvb(0, math.min(avail, CAP_HDR)))
    if avail < CAP_HDR then
        t:add_proto_expert_info(e.short)
        pinfo.cols.info = "picolink: short capture record"
        return avail
    end

    local version = tvb(0, 1):uint()
    local flags = tvb(1, 1):uint()
    local station = tvb(2, 2):uint()
    local proto = tvb(4, 1):uint()
    local len = tvb(6, 2):uint()

    local vi = t:add(f.version, tvb(0, 1))
    if version ~= CAP_VERSION then vi:add_proto_expert_info(e.version) end
    local ft = t:add(f.flags, tvb(1, 1))
    ft:add(f.dir, tvb(1, 1))
    t:add(f.station, tvb(2, 2))
    t:add(f.proto, tvb(4, 1))
    t:add(f.medium, tvb(5, 1))
    local li = t:add(f.len, tvb(6, 2))

    local dir = DIR_NAMES[bit.band(flags, 1)]
    local pname = PROTO_NAMES[proto] or ("proto " .. proto)
    t:append_text(string.format(", station %d, %s, %s", station, dir, pname))
    pinfo.cols.info = string.format("station %d %s %s", station, dir, pname)

    -- The frame is what both the length field and the record say is there.
    local n = avail - CAP_HDR
    if len ~= n then
        li:add_proto_expert_info(e.len)
        if len < n then n = len end
    end
    -- An empty frame still goes to its protocol, which may call it malformed.
    local payload = tvb(CAP_HDR, n):tvb()
    local sub = proto_table:get_dissector(proto)
    if sub ~= nil then
        sub:call(payload, pinfo, tree)
    elseif data_dissector ~= nil then
        data_dissector:call(payload, pinfo, tree)
    end
    return avail
end

DissectorTable.get("wtap_encap"):add((wtap_encaps or wtap).USER0, picolink)

-- Telemetry (proto 1): type 'T', source device, sequence number, then the readings as a CBOR map.
local telemetry = Proto("picolink.telemetry", "picolink telemetry")

local TELEMETRY_TYPE = 0x54
local TELEMETRY_HDR = 5

local tf = {
    type = ProtoField.uint8("picolink.telemetry.type", "Type", base.HEX),
    src = ProtoField.uint16("picolink.telemetry.src", "Source", base.DEC),
    seq = ProtoField.uint16("picolink.telemetry.seq", "Sequence", base.DEC),
    readings = ProtoField.bytes("picolink.telemetry.readings", "Readings (CBOR)"),
}
telemetry.fields = { tf.type, tf.src, tf.seq, tf.readings }

local te = {
    short = ProtoExpert.new("picolink.telemetry.short", "Telemetry frame shorter than its 5-byte header",
        expert.group.MALFORMED, expert.severity.ERROR),
    type = ProtoExpert.new("picolink.telemetry.badtype", "Telemetry frame type is not 'T' (0x54)",
        expert.group.MALFORMED, expert.severity.ERROR),
}
telemetry.experts = { te.short, te.type }

local cbor_dissector = find_dissector("cbor")

function telemetry.dissector(tvb, pinfo, tree)
    local avail = tvb:len()
    local t = tree:add(telemetry, tvb(0, avail))
    pinfo.cols.protocol = "picolink-telemetry"
    if avail < TELEMETRY_HDR then
        t:add_proto_expert_info(te.short)
        if avail >= 1 then t:add(tf.type, tvb(0, 1)) end
        pinfo.cols.info:append(" [malformed: short]")
        return avail
    end

    local ti = t:add(tf.type, tvb(0, 1))
    if tvb(0, 1):uint() ~= TELEMETRY_TYPE then
        -- Not a telemetry frame: its other bytes mean nothing as src/seq, so show them as data.
        ti:add_proto_expert_info(te.type)
        pinfo.cols.info:append(" [malformed: type]")
        if data_dissector ~= nil then data_dissector:call(tvb(1, avail - 1):tvb(), pinfo, tree) end
        return avail
    end
    t:add(tf.src, tvb(1, 2))
    t:add(tf.seq, tvb(3, 2))
    local src = tvb(1, 2):uint()
    local seq = tvb(3, 2):uint()
    t:append_text(string.format(", src %d, seq %d", src, seq))
    pinfo.cols.info:append(string.format(" src=%d seq=%d", src, seq))

    if avail > TELEMETRY_HDR then
        local body = tvb(TELEMETRY_HDR, avail - TELEMETRY_HDR)
        if cbor_dissector ~= nil then
            -- The CBOR dissector takes the columns; put ours back afterwards.
            -- A truncated map makes it raise; that is already shown as malformed in the tree, so
            -- catch the Lua error it becomes rather than let it mark the whole frame as a script fault.
            local info = tostring(pinfo.cols.info)
            local ok = pcall(cbor_dissector.call, cbor_dissector, body:tvb(), pinfo, tree)
            pinfo.cols.protocol = "picolink-telemetry"
            pinfo.cols.info = info
            if not ok then pinfo.cols.info:append(" [malformed: CBOR]") end
        else
            t:add(tf.readings, body)
        end
    end
    return avail
end

proto_table:add(1, telemetry)

-- Request-reply (proto 4): the messages of firmware/rr/frame.ts. A kind byte (type, protocol, retry,
-- at-most-once, version), the request id, an operation id or error code, for REQUEST and ACK the client's
-- acknowledgement watermark and mask, then a CBOR body (arguments, result or error detail).
local rr = Proto("picolink.rr", "picolink request-reply")

local RR_REQUEST, RR_REPLY, RR_ACK, RR_ERROR = 0, 1, 2, 3
local RR_TYPES = { [0] = "REQUEST", [1] = "REPLY", [2] = "ACK", [3] = "ERROR" }
local RR_PROTOS = { [0] = "R", [1] = "RR", [2] = "RRA", [3] = "invalid" }
-- Error codes of ERROR messages (RR_E_* in firmware/rr/rr.ts).
local RR_CODES = { [1] = "unknown operation", [2] = "malformed arguments", [3] = "handler failure", [4] = "busy" }
local RR_HDR, RR_HDR_ACKS = 4, 8
local RR_KIND_RESERVED = 0xc0 -- version 0: bits 6-7 zero

local rf = {
    kind = ProtoField.uint8("picolink.rr.kind", "Kind", base.HEX),
    type = ProtoField.uint8("picolink.rr.type", "Type", base.DEC, RR_TYPES, 0x03),
    proto = ProtoField.uint8("picolink.rr.proto", "Protocol", base.DEC, RR_PROTOS, 0x0c,
        "R: request only; RR: request, reply; RRA: request, reply, acknowledgement"),
    retry = ProtoField.bool("picolink.rr.retry", "Retry", 8, nil, 0x10, "A request sent again"),
    amo = ProtoField.bool("picolink.rr.amo", "At-most-once", 8, nil, 0x20,
        "The server filters duplicates and keeps the reply in its history"),
    version = ProtoField.uint8("picolink.rr.version", "Version", base.DEC, nil, 0xc0, "Bits 6-7, 0 in this version"),
    id = ProtoField.uint16("picolink.rr.id", "Request id", base.DEC),
    op = ProtoField.uint8("picolink.rr.op", "Operation", base.DEC),
    code = ProtoField.uint8("picolink.rr.code", "Error code", base.DEC, RR_CODES),
    unused = ProtoField.uint8("picolink.rr.unused", "Unused (0)", base.DEC),
    ack = ProtoField.uint16("picolink.rr.ack", "Acknowledged up to", base.DEC, nil, nil,
        "Every reply to this client's calls with ids up to this one has arrived or is no longer wanted"),
    mask = ProtoField.uint16("picolink.rr.mask", "Acknowledgement mask", base.HEX, nil, nil,
        "Bit j: the reply to id ack+1+j has arrived too"),
    body = ProtoField.bytes("picolink.rr.body", "Body (CBOR)"),
}
rr.fields = {
    rf.kind, rf.type, rf.proto, rf.retry, rf.amo, rf.version, rf.id, rf.op, rf.code, rf.unused, rf.ack, rf.mask, rf.body,
}

-- ERROR experts are exactly what parseRr refuses (stations drop these messages); the WARN is a message it
-- takes whose contents make no sense.
local re = {
    short = ProtoExpert.new("picolink.rr.short", "rr message shorter than its header",
        expert.group.MALFORMED, expert.severity.ERROR),
    reserved = ProtoExpert.new("picolink.rr.reserved.set",
        "Kind bits 6-7 set (version not 0): stations drop this message",
        expert.group.MALFORMED, expert.severity.ERROR),
    badproto = ProtoExpert.new("picolink.rr.badproto", "Protocol 3 is invalid: stations drop this message",
        expert.group.MALFORMED, expert.severity.ERROR),
    ackbody = ProtoExpert.new("picolink.rr.ackbody", "ACK with a body: acknowledgements carry none",
        expert.group.MALFORMED, expert.severity.WARN),
}
rr.experts = { re.short, re.reserved, re.badproto, re.ackbody }

-- The ids a mask acknowledges besides the watermark, for the tree.
local function rr_mask_ids(ack, mask)
    local ids = {}
    for j = 0, 15 do
        if bit.band(mask, bit.lshift(1, j)) ~= 0 then ids[#ids + 1] = tostring(bit.band(ack + 1 + j, 0xffff)) end
    end
    return table.concat(ids, ", ")
end

function rr.dissector(tvb, pinfo, tree)
    local avail = tvb:len()
    local t = tree:add(rr, tvb(0, avail))
    pinfo.cols.protocol = "picolink-rr"
    if avail < RR_HDR then
        t:add_proto_expert_info(re.short, string.format("rr message of %d bytes, shorter than its %d-byte header",
            avail, RR_HDR))
        if avail >= 1 then t:add(rf.kind, tvb(0, 1)) end
        pinfo.cols.info:append(" [malformed: short]")
        return avail
    end

    local kind = tvb(0, 1):uint()
    local rtype = bit.band(kind, 0x03)
    local rproto = bit.band(bit.rshift(kind, 2), 0x03)
    local tname = RR_TYPES[rtype]
    local ki = t:add(rf.kind, tvb(0, 1))
    ki:add(rf.type, tvb(0, 1))
    local pi = ki:add(rf.proto, tvb(0, 1))
    ki:add(rf.retry, tvb(0, 1))
    ki:add(rf.amo, tvb(0, 1))
    local vi = ki:add(rf.version, tvb(0, 1))
    if bit.band(kind, RR_KIND_RESERVED) ~= 0 then
        -- Another version's message: its other bytes mean nothing as fields, so show them as data.
        vi:add_proto_expert_info(re.reserved)
        pinfo.cols.info:append(string.format(" [malformed: kind 0x%02x]", kind))
        if data_dissector ~= nil then data_dissector:call(tvb(1, avail - 1):tvb(), pinfo, tree) end
        return avail
    end

    local id = tvb(1, 2):uint()
    local op = tvb(3, 1):uint()
    t:add(rf.id, tvb(1, 2))
    if rtype == RR_REQUEST then
        t:add(rf.op, tvb(3, 1))
    elseif rtype == RR_ERROR then
        t:add(rf.code, tvb(3, 1))
    else
        t:add(rf.unused, tvb(3, 1))
    end

    local acks = rtype == RR_REQUEST or rtype == RR_ACK
    if acks and avail < RR_HDR_ACKS then
        t:add_proto_expert_info(re.short, string.format("rr %s of %d bytes, shorter than its %d-byte header",
            tname, avail, RR_HDR_ACKS))
        pinfo.cols.info:append(string.format(" %s id %d [malformed: short]", tname, id))
        return avail
    end

    -- Info: the type, then the id or (ACK) the acknowledgement, the operation or error, the protocol, the flags.
    local desc
    if rtype == RR_ACK then
        desc = string.format("ACK up to %d mask 0x%04x", tvb(4, 2):uint(), tvb(6, 2):uint())
    else
        desc = string.format("%s id %d", tname, id)
        if rtype == RR_REQUEST then
            desc = desc .. string.format(" op %d", op)
        elseif rtype == RR_ERROR then
            desc = desc .. " " .. (RR_CODES[op] or string.format("code %d", op))
        end
        desc = desc .. " " .. (rproto == 3 and "proto 3" or RR_PROTOS[rproto])
    end
    if bit.band(kind, 0x10) ~= 0 then desc = desc .. " retry" end
    if bit.band(kind, 0x20) ~= 0 then desc = desc .. " at-most-once" end

    local off = RR_HDR
    if acks then
        local ack = tvb(4, 2):uint()
        local mask = tvb(6, 2):uint()
        t:add(rf.ack, tvb(4, 2))
        local mi = t:add(rf.mask, tvb(6, 2))
        if mask ~= 0 then mi:append_text(" (also ids " .. rr_mask_ids(ack, mask) .. ")") end
        off = RR_HDR_ACKS
    end

    local fault
    if rproto == 3 then
        pi:add_proto_expert_info(re.badproto)
        fault = "protocol 3"
    end
    local n = avail - off
    local bi
    if n > 0 then bi = t:add(rf.body, tvb(off, n)) end
    if rtype == RR_ACK and n > 0 then
        bi:add_proto_expert_info(re.ackbody, string.format("ACK with a body of %d bytes: acknowledgements carry none", n))
        fault = fault or "ACK body"
    end
    t:append_text(": " .. desc)
    pinfo.cols.info:append(" " .. desc)
    if fault then pinfo.cols.info:append(" [malformed: " .. fault .. "]") end

    if n > 0 and rtype ~= RR_ACK and cbor_dissector ~= nil then
        -- As for telemetry: keep our columns, and turn the CBOR dissector's exception on a truncated item
        -- into a note rather than a script fault.
        local info = tostring(pinfo.cols.info)
        local ok = pcall(cbor_dissector.call, cbor_dissector, tvb(off, n):tvb(), pinfo, tree)
        pinfo.cols.protocol = "picolink-rr"
        pinfo.cols.info = info
        if not ok then pinfo.cols.info:append(" [malformed: CBOR]") end
    end
    return avail
end

proto_table:add(4, rr)

-- Device group messages (firmware/services/group.ts), service 6: [origin u16][seq u16][data...], sent to
-- a group address (0xFF00 + group); the origin and seq are the sender's, kept when a bridge forwards.
local group = Proto("picolink-group", "picolink device group message")
local GROUP_HDR = 4
local gf = {
    origin = ProtoField.uint16("picolink.group.origin", "Origin", base.DEC, nil, nil, "Station that multicast the message"),
    seq = ProtoField.uint16("picolink.group.seq", "Sequence", base.DEC, nil, nil, "The origin's message number (duplicates share it)"),
    data = ProtoField.bytes("picolink.group.data", "Data"),
}
group.fields = { gf.origin, gf.seq, gf.data }
local ge = {
    short = ProtoExpert.new("picolink.group.short", "Group message shorter than its 4-byte header",
        expert.group.MALFORMED, expert.severity.ERROR),
}
group.experts = { ge.short }

function group.dissector(tvb, pinfo, tree)
    local avail = tvb:len()
    pinfo.cols.protocol = "picolink-group"
    local t = tree:add(group, tvb())
    if avail < GROUP_HDR then
        t:add_proto_expert_info(ge.short)
        pinfo.cols.info:append(" [malformed: short]")
        return avail
    end
    local origin = tvb(0, 2):uint()
    local seq = tvb(2, 2):uint()
    t:add(gf.origin, tvb(0, 2))
    t:add(gf.seq, tvb(2, 2))
    local n = avail - GROUP_HDR
    if n > 0 then t:add(gf.data, tvb(GROUP_HDR, n)) end
    local desc = string.format("from %d seq %d, %d bytes", origin, seq, n)
    t:append_text(": " .. desc)
    pinfo.cols.info:append(" " .. desc)
    return avail
end

proto_table:add(6, group)

-- Psync messages (firmware/psync/frame.ts), proto and service 5: a kind byte (bits 0-1 type SC, AN,
-- RTX, RS; bit 2 RESENT, or in an RS answer LOGGED (the answering host serves its image from its
-- log); bits 3-5 participant index; bit 6 RTX: a message is named / RS: an answer / SC: a notice,
-- the header alone, to a participant that never had the SC: restart into the conversation),
-- the conversation id (initiator address u16, sequence u16), then by type:
--   SC: n u8, the addresses of participants 1..n-1 (u16 each), data;
--   AN: seq u16, a predecessor mask u8 and a u16 sequence number for each set bit, data (none: an ACK);
--   RTX and RS: seq u16, a frontier mask u8 and a u16 sequence number for each set bit.
local psync = Proto("picolink.psync", "picolink Psync")
local PS_TYPES = { [0] = "SC", [1] = "AN", [2] = "RTX", [3] = "RS" }
local pf = {
    kind = ProtoField.uint8("picolink.psync.kind", "Kind", base.HEX),
    type = ProtoField.uint8("picolink.psync.type", "Type", base.DEC, PS_TYPES, 0x03),
    resent = ProtoField.bool("picolink.psync.resent", "Resent", 8, nil, 0x04),
    index = ProtoField.uint8("picolink.psync.index", "Participant index", base.DEC, nil, 0x38),
    named = ProtoField.bool("picolink.psync.named", "Names a message / answer / notice", 8, nil, 0x40),
    cid_addr = ProtoField.uint16("picolink.psync.cid.addr", "Conversation: initiator", base.DEC),
    cid_seq = ProtoField.uint16("picolink.psync.cid.seq", "Conversation: number", base.DEC),
    n = ProtoField.uint8("picolink.psync.n", "Participants", base.DEC),
    pid = ProtoField.uint16("picolink.psync.pid", "Participant", base.DEC),
    seq = ProtoField.uint16("picolink.psync.seq", "Sequence", base.DEC),
    mask = ProtoField.uint8("picolink.psync.mask", "Participants named", base.HEX),
    pseq = ProtoField.uint16("picolink.psync.pseq", "Their sequence", base.DEC),
    data = ProtoField.bytes("picolink.psync.data", "Data"),
}
psync.fields = { pf.kind, pf.type, pf.resent, pf.index, pf.named, pf.cid_addr, pf.cid_seq, pf.n, pf.pid, pf.seq, pf.mask, pf.pseq, pf.data }
local pe = {
    short = ProtoExpert.new("picolink.psync.short", "Psync message shorter than its header",
        expert.group.MALFORMED, expert.severity.ERROR),
    version = ProtoExpert.new("picolink.psync.version", "Psync kind byte with its reserved bit set",
        expert.group.MALFORMED, expert.severity.WARN),
}
psync.experts = { pe.short, pe.version }

local function psync_short(t, pinfo, avail)
    t:add_proto_expert_info(pe.short)
    pinfo.cols.info:append(" [malformed: short]")
    return avail
end

function psync.dissector(tvb, pinfo, tree)
    local avail = tvb:len()
    pinfo.cols.protocol = "picolink-psync"
    local t = tree:add(psync, tvb())
    if avail < 5 then return psync_short(t, pinfo, avail) end
    local k = tvb(0, 1):uint()
    local kt = t:add(pf.kind, tvb(0, 1))
    kt:add(pf.type, tvb(0, 1))
    kt:add(pf.resent, tvb(0, 1))
    kt:add(pf.index, tvb(0, 1))
    kt:add(pf.named, tvb(0, 1))
    if bit.band(k, 0x80) ~= 0 then kt:add_proto_expert_info(pe.version) end
    local ty = bit.band(k, 3)
    local idx = bit.rshift(bit.band(k, 0x38), 3)
    t:add(pf.cid_addr, tvb(1, 2))
    t:add(pf.cid_seq, tvb(3, 2))
    local cid = string.format("%d:%d", tvb(1, 2):uint(), tvb(3, 2):uint())
    local desc
    local off
    if ty == 0 then
        if avail < 6 then return psync_short(t, pinfo, avail) end
        local n = tvb(5, 1):uint()
        t:add(pf.n, tvb(5, 1))
        off = 6
        local pids = {}
        for _ = 1, n - 1 do
            if off + 2 > avail then return psync_short(t, pinfo, avail) end
            t:add(pf.pid, tvb(off, 2))
            pids[#pids + 1] = tostring(tvb(off, 2):uint())
            off = off + 2
        end
        desc = string.format("SC%s conv %s, %d participants (%s)", bit.band(k, 0x40) ~= 0 and " NOTICE" or "", cid, n, table.concat(pids, ","))
    else
        if avail < 8 then return psync_short(t, pinfo, avail) end
        local seq = tvb(5, 2):uint()
        t:add(pf.seq, tvb(5, 2))
        local mask = tvb(7, 1):uint()
        t:add(pf.mask, tvb(7, 1))
        off = 8
        local named = {}
        for i = 0, 7 do
            if bit.band(mask, bit.lshift(1, i)) ~= 0 then
                if off + 2 > avail then return psync_short(t, pinfo, avail) end
                t:add(pf.pseq, tvb(off, 2)):append_text(string.format(" (participant %d)", i))
                named[#named + 1] = string.format("%d:%d", i, tvb(off, 2):uint())
                off = off + 2
            end
        end
        if ty == 1 then
            desc = string.format("AN conv %s from #%d seq %d after [%s]", cid, idx, seq, table.concat(named, " "))
        else
            desc = string.format("%s conv %s #%d seq %d, frontier [%s]", PS_TYPES[ty], cid, idx, seq, table.concat(named, " "))
        end
    end
    if bit.band(k, 0x04) ~= 0 then desc = desc .. (ty == 3 and " LOGGED" or " RESENT") end
    local n = avail - off
    if ty <= 1 then
        if n > 0 then
            t:add(pf.data, tvb(off, n))
            desc = desc .. string.format(", %d data bytes", n)
        elseif ty == 1 then
            desc = desc .. ", ACK"
        end
    end
    t:append_text(": " .. desc)
    pinfo.cols.info:append(" " .. desc)
    return avail
end

proto_table:add(5, psync)

-- A MAC payload (CSMA DATA, piconet ACL) may start with a service byte (firmware/mac/ports.ts) numbered as
-- the pseudo-header's PROTO field: 1 telemetry, 4 rr, ...; 0 is an application's own bytes. When the first
-- byte names a protocol in the payload table other than the MACs themselves, the rest goes to it; otherwise
-- the payload is shown as before. `parent` is the MAC's tree item. Returns true when it took the payload.
local function mac_service(body, pinfo, tree, parent)
    local n = body:len()
    if not picolink.prefs.service_byte or n < 1 then return false end
    local svc = body(0, 1):uint()
    if svc == 2 or svc == 3 or svc == 7 then return false end
    local sub = proto_table:get_dissector(svc)
    if sub == nil then return false end
    parent:add(f.service, body(0, 1))
    pinfo.cols.info:append(" " .. (PROTO_NAMES[svc] or ("service " .. svc)))
    -- A Tvb, unlike a TvbRange, takes an empty range at its end: a lone service byte gives its protocol
    -- an empty message, which it calls short.
    sub:call(body:tvb()(1, n - 1):tvb(), pinfo, tree)
    return true
end

-- CSMA/CA (proto 2): the MAC frames of firmware/mac/csma/frame.ts, 802.11 DCF frames compacted to
-- 16-bit addresses and no FCS. Frame control (type, retry, version), duration, receiver address, then
-- for DATA and RTS the transmitter address, and for DATA a sequence number and the payload.
-- Stations may pad frames to 802.11's lengths (DATA header 34, RTS 20, CTS and ACK 14 bytes); the
-- padding is not marked on the air, so for DATA it is shown as the start of the payload.
local csma = Proto("picolink.csma", "picolink CSMA/CA")

local CSMA_TYPES = { [0] = "DATA", [1] = "ACK", [2] = "RTS", [3] = "CTS" }
local CSMA_DATA = 0
local CSMA_RTS = 2
-- Natural lengths; a DATA frame carries at least one payload byte.
local CSMA_DATA_HDR = 8
local CSMA_MIN = { [0] = CSMA_DATA_HDR + 1, [1] = 5, [2] = 7, [3] = 5 }
local CSMA_FC_RESERVED = 0xf8 -- bits 3-5 reserved and bits 6-7 version: all zero in version 0

local cf = {
    fc = ProtoField.uint8("picolink.csma.fc", "Frame control", base.HEX),
    type = ProtoField.uint8("picolink.csma.type", "Type", base.DEC, CSMA_TYPES, 0x03),
    retry = ProtoField.bool("picolink.csma.retry", "Retry", 8, nil, 0x04),
    reserved = ProtoField.uint8("picolink.csma.reserved", "Reserved", base.HEX, nil, 0x38),
    version = ProtoField.uint8("picolink.csma.version", "Version", base.DEC, nil, 0xc0),
    duration = ProtoField.uint16("picolink.csma.duration", "Duration", base.DEC, nil, nil,
        "Time the rest of the exchange holds the medium (sets the NAV), in units of the network's " ..
        "aDurationUnitUs: 1 µs unless the network configures a larger unit"),
    ra = ProtoField.uint16("picolink.csma.ra", "Receiver address", base.DEC, nil, nil,
        "0xFFFF broadcast, 0xFF00-0xFFFE groups"),
    ta = ProtoField.uint16("picolink.csma.ta", "Transmitter address", base.DEC),
    seq = ProtoField.uint8("picolink.csma.seq", "Sequence number", base.DEC),
    padding = ProtoField.bytes("picolink.csma.padding", "Padding"),
}
csma.fields = { cf.fc, cf.type, cf.retry, cf.reserved, cf.version, cf.duration, cf.ra, cf.ta, cf.seq, cf.padding }

local ce = {
    short = ProtoExpert.new("picolink.csma.short", "CSMA frame shorter than its type's minimum length",
        expert.group.MALFORMED, expert.severity.ERROR),
    badfc = ProtoExpert.new("picolink.csma.badfc", "Reserved frame-control bits set or version not 0: stations drop this frame",
        expert.group.MALFORMED, expert.severity.ERROR),
    nopayload = ProtoExpert.new("picolink.csma.nopayload", "CSMA DATA frame with no payload byte",
        expert.group.MALFORMED, expert.severity.ERROR),
}
csma.experts = { ce.short, ce.badfc, ce.nopayload }

-- How an address reads in the tree and the Info column.
local function csma_addr(a)
    if a == 0xffff then return "broadcast" end
    if a >= 0xff00 then return string.format("group 0x%04x", a) end
    return tostring(a)
end

function csma.dissector(tvb, pinfo, tree)
    local avail = tvb:len()
    local t = tree:add(csma, tvb(0, avail))
    pinfo.cols.protocol = "picolink-csma"
    if avail < 1 then
        t:add_proto_expert_info(ce.short, "CSMA frame is empty")
        pinfo.cols.info:append(" [malformed: empty]")
        return avail
    end

    local fc = tvb(0, 1):uint()
    local ftype = bit.band(fc, 0x03)
    local tname = CSMA_TYPES[ftype]
    local fci = t:add(cf.fc, tvb(0, 1))
    fci:add(cf.type, tvb(0, 1))
    fci:add(cf.retry, tvb(0, 1))
    fci:add(cf.reserved, tvb(0, 1))
    fci:add(cf.version, tvb(0, 1))
    if bit.band(fc, CSMA_FC_RESERVED) ~= 0 then
        -- Not a frame of this version: its other bytes mean nothing as fields, so show them as data.
        fci:add_proto_expert_info(ce.badfc)
        pinfo.cols.info:append(string.format(" %s [malformed: fc 0x%02x]", tname, fc))
        if avail > 1 and data_dissector ~= nil then data_dissector:call(tvb(1, avail - 1):tvb(), pinfo, tree) end
        return avail
    end

    local min = CSMA_MIN[ftype]
    if avail < min then
        -- Show whichever whole fields are there, then say what is missing.
        if avail >= 3 then t:add(cf.duration, tvb(1, 2)) end
        if avail >= 5 then t:add(cf.ra, tvb(3, 2)) end
        if avail >= 7 then t:add(cf.ta, tvb(5, 2)) end
        if ftype == CSMA_DATA and avail == CSMA_DATA_HDR then
            t:add(cf.seq, tvb(7, 1))
            t:add_proto_expert_info(ce.nopayload)
            pinfo.cols.info:append(" DATA [malformed: no payload]")
        else
            t:add_proto_expert_info(ce.short, string.format("CSMA %s frame of %d bytes, shorter than its %d-byte minimum", tname, avail, min))
            pinfo.cols.info:append(string.format(" %s [malformed: short]", tname))
        end
        return avail
    end

    local dur = tvb(1, 2):uint()
    local ra = tvb(3, 2):uint()
    t:add(cf.duration, tvb(1, 2)):append_text(" (× aDurationUnitUs; 1 µs unless configured)")
    local rai = t:add(cf.ra, tvb(3, 2))
    if ra >= 0xff00 then rai:append_text(" (" .. csma_addr(ra) .. ")") end

    local desc
    if ftype == CSMA_DATA or ftype == CSMA_RTS then
        local ta = tvb(5, 2):uint()
        local tai = t:add(cf.ta, tvb(5, 2))
        if ta >= 0xff00 then tai:append_text(" (" .. csma_addr(ta) .. ")") end
        desc = string.format("%s %d -> %s", tname, ta, csma_addr(ra))
    else
        desc = string.format("%s -> %s", tname, csma_addr(ra))
    end
    if ftype == CSMA_DATA then
        local seq = tvb(7, 1):uint()
        t:add(cf.seq, tvb(7, 1))
        desc = desc .. string.format(" seq %d", seq)
    end
    if bit.band(fc, 0x04) ~= 0 then desc = desc .. " retry" end
    desc = desc .. string.format(" dur %d", dur)
    t:append_text(": " .. desc)
    pinfo.cols.info:append(" " .. desc)

    if ftype == CSMA_DATA then
        -- Where the payload starts depends on the network's dataHeaderBytes, which is not on the air.
        local body = tvb(CSMA_DATA_HDR, avail - CSMA_DATA_HDR)
        t:add(body, string.format("Payload: %d bytes (includes the padding when the network pads DATA headers)", body:len()))
        -- A service byte hands the rest to its protocol. Without one, on an unpadded network a payload
        -- that starts with 'T' (0x54) and is long enough is a telemetry frame (proto 1): decode it;
        -- anything else is shown as data.
        if mac_service(body, pinfo, tree, t) then
            -- taken
        elseif body:len() >= 6 and body(0, 1):uint() == 0x54 then
            telemetry.dissector(body:tvb(), pinfo, tree)
        elseif data_dissector ~= nil then
            data_dissector:call(body:tvb(), pinfo, tree)
        end
    elseif avail > min then
        -- Control frames have no payload: whatever follows is padding to 802.11's lengths.
        t:add(cf.padding, tvb(min, avail - min))
    end
    return avail
end

proto_table:add(2, csma)

-- Piconet (proto 3): the packets of firmware/mac/piconet/frame.ts, Bluetooth BR baseband packets compacted
-- to bytes (textbook 3.5.3). Access code (u16), h0 (AM_ADDR, TYPE, FLOW), h1 (ARQN, SEQN, reply budget),
-- HEC (CRC-8, polynomial 0x07, seeded with the access code's low byte), once or three times, then the
-- payload: LMP control messages in DM1, FHS contents, ACL data in DH1/DH3/DH5 (telemetry frames decoded),
-- SCO data in HV3.
-- Whether a network sends its header in triplicate is a setting, not on the air: by default the dissector
-- guesses (triple when bytes 5-7 and 8-10 repeat bytes 2-4); the "Header copies" preference fixes it.
local piconet = Proto("picolink.piconet", "picolink piconet")

local PN_GIAC = 0x9e8b
local PN_NULL, PN_POLL, PN_FHS, PN_DM1, PN_DH1, PN_HV3, PN_DH3, PN_DH5 = 0, 1, 2, 3, 4, 7, 11, 15
local PN_TYPES = { [0] = "NULL", [1] = "POLL", [2] = "FHS", [3] = "DM1", [4] = "DH1", [7] = "HV3", [11] = "DH3", [15] = "DH5" }
local PN_SINGLE, PN_TRIPLE = 5, 11
local PN_BUDGET_SLOTS = { [0] = 1, [1] = 3, [2] = 5 }
-- LMP opcodes (first byte of a DM1 payload) and each message's length, opcode included.
local LMP_NAMES = { [1] = "PARK", [2] = "UNPARK", [3] = "DETACH", [4] = "SCO" }
local LMP_PARK, LMP_UNPARK, LMP_SCO = 1, 2, 4
local LMP_LEN = { [1] = 2, [2] = 3, [3] = 1, [4] = 3 }
-- FHS payloads: an inquiry response carries the device's address, a page the master's address and the
-- AM_ADDR it hands out. The inquiry itself (a POLL under the GIAC) and the paged device's answer (a NULL)
-- carry a master's address.
local FHS_INQUIRY_LEN, FHS_PAGE_LEN = 2, 3
local MASTER_LEN = 2

local HDR_AUTO, HDR_SINGLE, HDR_TRIPLE = 0, 1, 3
-- Registered on the picolink module under a dotted name: tshark gives a "-o a.b.c" setting to the shortest
-- prefix that is a module, and "picolink" is one (service_byte), so a preference of this Proto would no
-- longer be reachable as "picolink.piconet.header".
picolink.prefs["piconet.header"] = Pref.enum("Piconet header copies", HDR_AUTO,
    "Whether the network sends the packet header once or three times (the tripleHeader setting of " ..
    "firmware/mac/piconet/config.ts). auto: triple when bytes 5-7 and 8-10 repeat bytes 2-4.",
    { { 1, "auto", HDR_AUTO }, { 2, "single", HDR_SINGLE }, { 3, "triple", HDR_TRIPLE } }, false)

local pf = {
    ac = ProtoField.uint16("picolink.piconet.ac", "Access code", base.HEX, nil, nil,
        "Piconet id from the master's address, GIAC 0x9e8b for inquiry, or the paged device's code"),
    h0 = ProtoField.uint8("picolink.piconet.h0", "Header byte 0", base.HEX),
    am = ProtoField.uint8("picolink.piconet.am", "AM_ADDR", base.DEC, nil, 0x07,
        "Active member address of the slave the link is with; 0 = broadcast from the master"),
    type = ProtoField.uint8("picolink.piconet.type", "Type", base.DEC, PN_TYPES, 0x78),
    flow = ProtoField.uint8("picolink.piconet.flow", "Flow", base.DEC, { [0] = "stop", [1] = "go" }, 0x80,
        "stop: the sender's receive buffer is full"),
    h1 = ProtoField.uint8("picolink.piconet.h1", "Header byte 1", base.HEX),
    arqn = ProtoField.uint8("picolink.piconet.arqn", "ARQN", base.DEC, { [0] = "NAK", [1] = "ACK" }, 0x01,
        "ACK: the last packet received on this link arrived"),
    seqn = ProtoField.uint8("picolink.piconet.seqn", "SEQN", base.DEC, nil, 0x02),
    budget_code = ProtoField.uint8("picolink.piconet.budget_code", "Reply budget code", base.DEC,
        { [0] = "1 slot", [1] = "3 slots", [2] = "5 slots", [3] = "reserved" }, 0x0c),
    epoch = ProtoField.uint8("picolink.piconet.epoch", "Flush epoch", base.DEC, nil, 0x10,
        "Toggled by the sender each time it gives up on a packet"),
    reserved = ProtoField.uint8("picolink.piconet.reserved", "Reserved", base.HEX, nil, 0xe0),
    budget = ProtoField.uint8("picolink.piconet.budget", "Reply budget (slots)", base.DEC, nil, nil,
        "Slots the addressed slave may use for its reply (master packets)"),
    hec = ProtoField.uint8("picolink.piconet.hec", "HEC", base.HEX),
    hec_ok = ProtoField.bool("picolink.piconet.hec.correct", "HEC correct"),
    copies = ProtoField.uint8("picolink.piconet.copies", "Header copies", base.DEC, { [1] = "single", [3] = "triple" }),
    copy = ProtoField.bytes("picolink.piconet.copy", "Header copy"),
    lmp_op = ProtoField.uint8("picolink.piconet.lmp.op", "LMP opcode", base.DEC, LMP_NAMES),
    lmp_pm = ProtoField.uint8("picolink.piconet.lmp.pm_addr", "PM_ADDR", base.DEC),
    lmp_am = ProtoField.uint8("picolink.piconet.lmp.am_addr", "AM_ADDR", base.DEC),
    lmp_interval = ProtoField.uint8("picolink.piconet.lmp.interval", "SCO interval (slots)", base.DEC, nil, nil,
        "0 removes the SCO link"),
    lmp_offset = ProtoField.uint8("picolink.piconet.lmp.offset", "SCO offset (slots)", base.DEC),
    master = ProtoField.uint16("picolink.piconet.master", "Master address", base.HEX, nil, nil,
        "POLL under the GIAC: the inquiring master; NULL: the master whose page the device answers"),
    fhs_addr = ProtoField.uint16("picolink.piconet.fhs.addr", "Device address", base.HEX),
    fhs_master = ProtoField.uint16("picolink.piconet.fhs.master", "Master address", base.HEX),
    fhs_am = ProtoField.uint8("picolink.piconet.fhs.am_addr", "AM_ADDR", base.DEC),
    sco = ProtoField.bytes("picolink.piconet.sco", "SCO data"),
    extra = ProtoField.bytes("picolink.piconet.extra", "Unexpected bytes"),
}
piconet.fields = {
    pf.ac, pf.h0, pf.am, pf.type, pf.flow, pf.h1, pf.arqn, pf.seqn, pf.budget_code, pf.epoch, pf.reserved, pf.budget,
    pf.hec, pf.hec_ok, pf.copies, pf.copy, pf.lmp_op, pf.lmp_pm, pf.lmp_am, pf.lmp_interval, pf.lmp_offset,
    pf.master, pf.fhs_addr, pf.fhs_master, pf.fhs_am, pf.sco, pf.extra,
}

-- Header faults (ERROR) are exactly what parseHeader rejects: stations drop these packets. Payload faults
-- (WARN) are packets a station's header check lets through but whose contents make no sense.
local pe = {
    short = ProtoExpert.new("picolink.piconet.short", "Piconet packet shorter than its header",
        expert.group.MALFORMED, expert.severity.ERROR),
    badhec = ProtoExpert.new("picolink.piconet.badhec", "HEC incorrect: stations drop this packet",
        expert.group.MALFORMED, expert.severity.ERROR),
    reserved = ProtoExpert.new("picolink.piconet.reserved.set", "Reserved header bits set: stations drop this packet",
        expert.group.MALFORMED, expert.severity.ERROR),
    badbudget = ProtoExpert.new("picolink.piconet.badbudget", "Reply budget code 3 is reserved: stations drop this packet",
        expert.group.MALFORMED, expert.severity.ERROR),
    corrected = ProtoExpert.new("picolink.piconet.copy.corrected", "Header copy differs from the majority of the three",
        expert.group.CHECKSUM, expert.severity.NOTE),
    badtype = ProtoExpert.new("picolink.piconet.badtype", "Packet type not used by picolink",
        expert.group.PROTOCOL, expert.severity.WARN),
    lmp_short = ProtoExpert.new("picolink.piconet.lmp.short", "LMP message shorter than its opcode needs",
        expert.group.MALFORMED, expert.severity.WARN),
    lmp_unknown = ProtoExpert.new("picolink.piconet.lmp.unknown", "Unknown LMP opcode",
        expert.group.MALFORMED, expert.severity.WARN),
    fhs_len = ProtoExpert.new("picolink.piconet.fhs.badlen",
        "FHS payload is neither an inquiry response (2 bytes) nor a page (3 bytes)",
        expert.group.MALFORMED, expert.severity.WARN),
    extra = ProtoExpert.new("picolink.piconet.trailing", "Bytes after the end of the message",
        expert.group.PROTOCOL, expert.severity.WARN),
}
piconet.experts = {
    pe.short, pe.badhec, pe.reserved, pe.badbudget, pe.corrected, pe.badtype, pe.lmp_short, pe.lmp_unknown,
    pe.fhs_len, pe.extra,
}

-- CRC-8, polynomial 0x07, no reflection, over two bytes from `init`: the header error check.
local function pn_crc8(a, b, init)
    local c = init
    for k = 1, 2 do
        c = bit.bxor(c, k == 1 and a or b)
        for _ = 1, 8 do
            if bit.band(c, 0x80) ~= 0 then
                c = bit.band(bit.bxor(bit.lshift(c, 1), 0x07), 0xff)
            else
                c = bit.band(bit.lshift(c, 1), 0xff)
            end
        end
    end
    return c
end

local function pn_majority(a, b, c)
    return bit.bor(bit.band(a, b), bit.band(a, c), bit.band(b, c))
end

local function pn_am(am)
    if am == 0 then return "broadcast" end
    return "AM " .. am
end

-- Marks bytes past the end of a message; true when there were some.
local function pn_extra(tvb, t, off, avail)
    if avail <= off then return false end
    t:add(pf.extra, tvb(off, avail - off)):add_proto_expert_info(pe.extra,
        string.format("%d bytes after the end of the message", avail - off))
    return true
end

-- DM1: an LMP control message. Returns the Info text for it.
local function pn_lmp(tvb, t, off, avail)
    if avail <= off then
        t:add_proto_expert_info(pe.lmp_short, "DM1 packet with no LMP opcode")
        return " LMP [malformed: empty]"
    end
    local op = tvb(off, 1):uint()
    local name = LMP_NAMES[op]
    local lt = t:add(tvb(off, avail - off), "LMP " .. (name or "unknown"))
    local oi = lt:add(pf.lmp_op, tvb(off, 1))
    if name == nil then
        oi:add_proto_expert_info(pe.lmp_unknown, string.format("Unknown LMP opcode %d", op))
        if avail > off + 1 then lt:add(pf.extra, tvb(off + 1, avail - off - 1)) end
        return string.format(" LMP opcode %d [malformed: unknown opcode]", op)
    end
    local need = LMP_LEN[op]
    if avail - off < need then
        lt:add_proto_expert_info(pe.lmp_short, string.format("LMP %s of %d bytes, shorter than its %d", name,
            avail - off, need))
        return " LMP " .. name .. " [malformed: short]"
    end
    local desc = " LMP " .. name
    if op == LMP_PARK then
        lt:add(pf.lmp_pm, tvb(off + 1, 1))
        desc = desc .. string.format(" pm_addr %d", tvb(off + 1, 1):uint())
    elseif op == LMP_UNPARK then
        lt:add(pf.lmp_pm, tvb(off + 1, 1))
        lt:add(pf.lmp_am, tvb(off + 2, 1))
        desc = desc .. string.format(" pm_addr %d am_addr %d", tvb(off + 1, 1):uint(), tvb(off + 2, 1):uint())
    elseif op == LMP_SCO then
        local interval = tvb(off + 1, 1):uint()
        local ii = lt:add(pf.lmp_interval, tvb(off + 1, 1))
        lt:add(pf.lmp_offset, tvb(off + 2, 1))
        desc = desc .. string.format(" interval %d offset %d", interval, tvb(off + 2, 1):uint())
        if interval == 0 then
            ii:append_text(" (remove)")
            desc = desc .. " (remove)"
        end
    end
    lt:set_text(desc:sub(2))
    -- Not flagged: a station may send a fixed-size LMP message (DETACH goes out with a zero argument byte).
    if avail > off + need then lt:add(pf.extra, tvb(off + need, avail - off - need)) end
    return desc
end

-- FHS: an inquiry response ([device address]) or a page ([master address, AM_ADDR]). Returns the Info text.
local function pn_fhs(tvb, pinfo, t, off, avail)
    local n = avail - off
    if n == FHS_INQUIRY_LEN then
        local a = tvb(off, 2):uint()
        t:add(tvb(off, n), "FHS: inquiry response"):add(pf.fhs_addr, tvb(off, 2))
        return string.format(" inquiry response 0x%04x", a)
    elseif n == FHS_PAGE_LEN then
        local a = tvb(off, 2):uint()
        local am = tvb(off + 2, 1):uint()
        local ft = t:add(tvb(off, n), "FHS: page")
        ft:add(pf.fhs_master, tvb(off, 2))
        ft:add(pf.fhs_am, tvb(off + 2, 1))
        return string.format(" page master 0x%04x AM %d", a, am)
    end
    t:add_proto_expert_info(pe.fhs_len, string.format("FHS payload of %d bytes is neither an inquiry " ..
        "response (2 bytes) nor a page (3 bytes)", n))
    if n > 0 and data_dissector ~= nil then data_dissector:call(tvb(off, n):tvb(), pinfo, t) end
    return " [malformed: FHS length]"
end

function piconet.dissector(tvb, pinfo, tree)
    local avail = tvb:len()
    local t = tree:add(piconet, tvb(0, avail))
    pinfo.cols.protocol = "picolink-piconet"

    -- Single or triple header: the setting, or the guess when the setting is auto.
    local mode = picolink.prefs["piconet.header"]
    local copies, why
    if mode == HDR_SINGLE then
        copies, why = 1, "preference"
    elseif mode == HDR_TRIPLE then
        copies, why = 3, "preference"
    elseif avail >= PN_TRIPLE and tvb(5, 3):uint() == tvb(2, 3):uint() and tvb(8, 3):uint() == tvb(2, 3):uint() then
        copies, why = 3, "guessed: bytes 5-10 repeat bytes 2-4"
    else
        copies, why = 1, "guessed: bytes 5-10 do not repeat bytes 2-4"
    end
    local hlen = copies == 3 and PN_TRIPLE or PN_SINGLE

    if avail < hlen then
        if avail >= 2 then t:add(pf.ac, tvb(0, 2)) end
        t:add_proto_expert_info(pe.short, string.format("Piconet packet of %d bytes, shorter than its %d-byte %s header",
            avail, hlen, copies == 3 and "triple" or "single"))
        pinfo.cols.info:append(" [malformed: short]")
        return avail
    end

    local ac = tvb(0, 2):uint()
    local h0 = tvb(2, 1):uint()
    local h1 = tvb(3, 1):uint()
    local hec = tvb(4, 1):uint()
    if copies == 3 then
        h0 = pn_majority(h0, tvb(5, 1):uint(), tvb(8, 1):uint())
        h1 = pn_majority(h1, tvb(6, 1):uint(), tvb(9, 1):uint())
        hec = pn_majority(hec, tvb(7, 1):uint(), tvb(10, 1):uint())
    end
    local am = bit.band(h0, 0x07)
    local ptype = bit.band(bit.rshift(h0, 3), 0x0f)
    local go = bit.band(h0, 0x80) ~= 0
    local ack = bit.band(h1, 0x01) ~= 0
    local seqn = bit.band(bit.rshift(h1, 1), 1)
    local code = bit.band(bit.rshift(h1, 2), 3)
    local budget = PN_BUDGET_SLOTS[code]
    local want = pn_crc8(h0, h1, bit.band(ac, 0xff))

    local aci = t:add(pf.ac, tvb(0, 2))
    if ac == PN_GIAC then aci:append_text(" (GIAC (inquiry))") end

    -- With three copies the fields show the majority; the byte ranges point at the first copy.
    local h0i = t:add(pf.h0, tvb(2, 1), h0)
    local ami = h0i:add(pf.am, tvb(2, 1), h0)
    if am == 0 then ami:append_text(" (broadcast)") end
    local ti = h0i:add(pf.type, tvb(2, 1), h0)
    h0i:add(pf.flow, tvb(2, 1), h0)
    local h1i = t:add(pf.h1, tvb(3, 1), h1)
    h1i:add(pf.arqn, tvb(3, 1), h1)
    h1i:add(pf.seqn, tvb(3, 1), h1)
    local bci = h1i:add(pf.budget_code, tvb(3, 1), h1)
    h1i:add(pf.epoch, tvb(3, 1), h1)
    local ri = h1i:add(pf.reserved, tvb(3, 1), h1)
    if budget ~= nil then t:add(pf.budget, tvb(3, 1), budget):set_generated() end
    local hi = t:add(pf.hec, tvb(4, 1), hec)
    local hoi = t:add(pf.hec_ok, tvb(4, 1), want == hec)
    hoi:set_generated()

    local ci = t:add(pf.copies, tvb(2, hlen - 2), copies)
    ci:append_text(" (" .. why .. ")")
    if copies == 3 then
        for k = 0, 2 do
            local r = tvb(2 + 3 * k, 3)
            local item = ci:add(pf.copy, r)
            item:set_text(string.format("Copy %d: %02x %02x %02x", k + 1, r(0, 1):uint(), r(1, 1):uint(), r(2, 1):uint()))
            if r(0, 1):uint() ~= h0 or r(1, 1):uint() ~= h1 or r(2, 1):uint() ~= hec then
                item:add_proto_expert_info(pe.corrected)
            end
        end
    end

    -- Header faults, in parseHeader's order of concern: a station drops the packet for any of them.
    local fault
    if bit.band(h1, 0xe0) ~= 0 then
        ri:add_proto_expert_info(pe.reserved)
        fault = "reserved bits"
    end
    if code == 3 then
        bci:add_proto_expert_info(pe.badbudget)
        fault = fault or "budget"
    end
    if want ~= hec then
        hi:add_proto_expert_info(pe.badhec, string.format("HEC 0x%02x incorrect (should be 0x%02x): stations drop this packet", hec, want))
        fault = "HEC"
    end

    local tname = PN_TYPES[ptype]
    if tname == nil then
        tname = "type " .. ptype
        if not fault then ti:add_proto_expert_info(pe.badtype) end
    end
    local giac = ac == PN_GIAC and " GIAC" or ""
    local desc
    if ptype == PN_POLL then
        desc = string.format("POLL%s -> %s", giac, pn_am(am))
        if ack then desc = desc .. " ACK" end
        if budget ~= nil and budget ~= 1 then desc = desc .. " budget " .. budget end
    elseif ptype == PN_NULL then
        desc = string.format("NULL%s %s %s", giac, pn_am(am), ack and "ACK" or "NAK")
    elseif ptype == PN_FHS then
        desc = "FHS" .. giac
    else
        desc = string.format("%s%s -> %s seqn %d %s budget %s", tname, giac, pn_am(am), seqn, ack and "ACK" or "NAK",
            budget ~= nil and tostring(budget) or "?")
    end
    local stop = go and "" or " flow stop"

    local off = hlen
    local plen = avail - off
    if fault then
        -- Stations drop this packet; its payload is shown as it is.
        desc = desc .. stop
        t:append_text(": " .. desc)
        pinfo.cols.info:append(" " .. desc .. " [malformed: " .. fault .. "]")
        if plen > 0 and data_dissector ~= nil then data_dissector:call(tvb(off, plen):tvb(), pinfo, tree) end
        return avail
    end

    if ptype == PN_DM1 then
        desc = desc .. pn_lmp(tvb, t, off, avail)
    elseif ptype == PN_FHS then
        desc = desc .. pn_fhs(tvb, pinfo, t, off, avail)
    elseif ptype == PN_POLL and ac == PN_GIAC and plen == MASTER_LEN then
        t:add(pf.master, tvb(off, 2))
        desc = desc .. string.format(" inquiry by 0x%04x", tvb(off, 2):uint())
    elseif ptype == PN_NULL and plen == MASTER_LEN then
        t:add(pf.master, tvb(off, 2))
        desc = desc .. string.format(" page response to 0x%04x", tvb(off, 2):uint())
    elseif ptype == PN_POLL or ptype == PN_NULL then
        pn_extra(tvb, t, off, avail)
    elseif ptype == PN_HV3 then
        if plen > 0 then t:add(pf.sco, tvb(off, plen)) end
    end
    desc = desc .. stop
    t:append_text(": " .. desc)
    pinfo.cols.info:append(" " .. desc)

    local acl = ptype == PN_DH1 or ptype == PN_DH3 or ptype == PN_DH5
    if (acl or PN_TYPES[ptype] == nil) and plen > 0 then
        local body = tvb(off, plen)
        t:add(body, string.format("Payload: %d bytes", plen))
        -- An ACL payload may start with a service byte; without one, a payload that starts with 'T' (0x54)
        -- and is long enough is a telemetry frame: decode it.
        if acl and mac_service(body, pinfo, tree, t) then
            -- taken
        elseif acl and plen >= 6 and body(0, 1):uint() == TELEMETRY_TYPE then
            telemetry.dissector(body:tvb(), pinfo, tree)
        elseif data_dissector ~= nil then
            data_dissector:call(body:tvb(), pinfo, tree)
        end
    end
    return avail
end

proto_table:add(3, piconet)

-- The MAC tunnel (proto 7): the messages on a gateway board's serial line (firmware/mac/tunnel.ts), one
-- per frame, first byte the kind: 1 RX [src u16][dst u16][rssi i8][payload] and 3 TX [dst u16][payload],
-- whose payloads are MAC payloads (a service byte, then its protocol); 2 SENT [status][transmissions]
-- [dst u16]; 4 HELLO, a question ([4]) or the gateway's answer ([4][version][addr u16][mtu]); 5 JOIN
-- [group u16][1 join | 0 leave].
local tunnel = Proto("picolink.tunnel", "picolink MAC tunnel")
local TUN_KINDS = { [1] = "RX", [2] = "SENT", [3] = "TX", [4] = "HELLO", [5] = "JOIN" }
local TUN_STATUS = { [0] = "ok", [1] = "collision", [2] = "no ack", [3] = "deferred", [4] = "queue full", [5] = "error" }
local tf = {
    kind = ProtoField.uint8("picolink.tunnel.kind", "Kind", base.DEC, TUN_KINDS),
    src = ProtoField.uint16("picolink.tunnel.src", "Source", base.DEC),
    dst = ProtoField.uint16("picolink.tunnel.dst", "Destination", base.DEC),
    rssi = ProtoField.int8("picolink.tunnel.rssi", "RSSI (dBm)", base.DEC),
    status = ProtoField.uint8("picolink.tunnel.status", "Status", base.DEC, TUN_STATUS),
    tx = ProtoField.uint8("picolink.tunnel.transmissions", "Transmissions", base.DEC),
    version = ProtoField.uint8("picolink.tunnel.version", "Tunnel version", base.DEC),
    addr = ProtoField.uint16("picolink.tunnel.addr", "Gateway address", base.DEC),
    mtu = ProtoField.uint8("picolink.tunnel.mtu", "MAC payload limit", base.DEC),
    group = ProtoField.uint16("picolink.tunnel.group", "Group address", base.HEX),
    join = ProtoField.uint8("picolink.tunnel.join", "Join", base.DEC, { [0] = "leave", [1] = "join" }),
    payload = ProtoField.bytes("picolink.tunnel.payload", "Payload"),
}
tunnel.fields = { tf.kind, tf.src, tf.dst, tf.rssi, tf.status, tf.tx, tf.version, tf.addr, tf.mtu, tf.group, tf.join, tf.payload }
local te = {
    bad = ProtoExpert.new("picolink.tunnel.bad", "Tunnel message of unknown kind or wrong length",
        expert.group.MALFORMED, expert.severity.ERROR),
}
tunnel.experts = { te.bad }

local function tun_addr(a)
    if a == 0xffff then return "broadcast" end
    if a >= 0xff00 then return string.format("group %d", a - 0xff00) end
    return tostring(a)
end

function tunnel.dissector(tvb, pinfo, tree)
    local n = tvb:len()
    pinfo.cols.protocol = "picolink-tunnel"
    local t = tree:add(tunnel, tvb())
    local k = n >= 1 and tvb(0, 1):uint() or -1
    if n >= 1 then t:add(tf.kind, tvb(0, 1)) end
    local desc
    if k == 1 and n > 6 then
        t:add(tf.src, tvb(1, 2))
        t:add(tf.dst, tvb(3, 2))
        t:add(tf.rssi, tvb(5, 1))
        desc = string.format("RX %d -> %s", tvb(1, 2):uint(), tun_addr(tvb(3, 2):uint()))
        pinfo.cols.info:append(" " .. desc)
        local body = tvb(6, n - 6)
        t:add(tf.payload, body)
        mac_service(body, pinfo, tree, t)
    elseif k == 3 and n > 3 then
        t:add(tf.dst, tvb(1, 2))
        desc = "TX -> " .. tun_addr(tvb(1, 2):uint())
        pinfo.cols.info:append(" " .. desc)
        local body = tvb(3, n - 3)
        t:add(tf.payload, body)
        mac_service(body, pinfo, tree, t)
    elseif k == 2 and n == 5 then
        t:add(tf.status, tvb(1, 1))
        t:add(tf.tx, tvb(2, 1))
        t:add(tf.dst, tvb(3, 2))
        desc = string.format("SENT to %s: %s after %d", tun_addr(tvb(3, 2):uint()), TUN_STATUS[tvb(1, 1):uint()] or ("status " .. tvb(1, 1):uint()), tvb(2, 1):uint())
        pinfo.cols.info:append(" " .. desc)
    elseif k == 4 and n == 1 then
        desc = "HELLO?"
        pinfo.cols.info:append(" " .. desc)
    elseif k == 4 and n == 5 then
        t:add(tf.version, tvb(1, 1))
        t:add(tf.addr, tvb(2, 2))
        t:add(tf.mtu, tvb(4, 1))
        desc = string.format("HELLO gateway %d v%d mtu %d", tvb(2, 2):uint(), tvb(1, 1):uint(), tvb(4, 1):uint())
        pinfo.cols.info:append(" " .. desc)
    elseif k == 5 and n == 4 then
        t:add(tf.group, tvb(1, 2))
        t:add(tf.join, tvb(3, 1))
        desc = string.format("%s %s", tvb(3, 1):uint() ~= 0 and "JOIN" or "LEAVE", tun_addr(tvb(1, 2):uint()))
        pinfo.cols.info:append(" " .. desc)
    else
        t:add_proto_expert_info(te.bad)
        pinfo.cols.info:append(" [malformed]")
        return n
    end
    t:append_text(": " .. desc)
    return n
end

proto_table:add(7, tunnel)
