-- Wireshark dissector for picolink captures: the 8-byte capture pseudo-header that hal/mw/pcap.ts puts
-- before every frame (libpcap LINKTYPE_USER0, Wireshark encapsulation USER0), and the telemetry frame.
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
