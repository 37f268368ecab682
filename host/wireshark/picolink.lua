-- Wireshark dissector for picolink captures: the 8-byte capture pseudo-header that hal/mw/pcap.ts puts
-- before every frame (libpcap LINKTYPE_USER0, Wireshark encapsulation USER0), the telemetry frame and the
-- CSMA/CA MAC frames (firmware/mac/csma/frame.ts).
-- Payloads go through the "picolink.proto" dissector table, so each protocol registers by its number.
-- Telemetry readings are a CBOR map (RFC 8949), handed to Wireshark's own CBOR dissector.
--
-- Every length is checked before a field is read: bad input becomes expert info, never a Lua error.

local picolink = Proto("picolink", "picolink capture")

local DIR_NAMES = { [0] = "received", [1] = "sent" }
-- Same numbers as CAP_PROTO and CAP_MEDIUM in hal/mw/pcap.ts.
local PROTO_NAMES = { [0] = "raw", [1] = "telemetry", [2] = "csma", [3] = "piconet", [4] = "rr", [5] = "psync" }
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
}
picolink.fields = { f.version, f.flags, f.dir, f.station, f.proto, f.medium, f.len }

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
        -- On an unpadded network a payload that starts with 'T' (0x54) and is long enough is a
        -- telemetry frame (proto 1): decode it; anything else is shown as data.
        if body:len() >= 6 and body(0, 1):uint() == 0x54 then
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
