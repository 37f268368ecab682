// CSMA/CA parameters, with IEEE 802.11's names and units (802.11-2016 §10.3 DCF, Table 15-x PHY
// characteristics), and presets for the radios picolink runs on. Every station of one network must
// use the same preset: durations, padding and timing are not negotiated on the air.

export interface CsmaConfig {
  /** Slot time, µs: CCA time + RX/TX turnaround + air propagation + MAC processing. */
  aSlotTime: number;
  /** Short interframe space, µs: between the frames of one exchange (RTS-CTS-DATA-ACK). */
  aSIFSTime: number;
  /** DCF interframe space, µs: idle medium required before contending (802.11: SIFS + 2 slots). */
  DIFS: number;
  /** Initial contention window, slots; a backoff is uniform in [0, CW]. 2^k - 1. */
  aCWmin: number;
  /** Largest contention window, slots. 2^k - 1. */
  aCWmax: number;
  /** Attempts of a frame up to the RTS threshold (and of RTS) before it is dropped. 1..255. */
  dot11ShortRetryLimit: number;
  /** Attempts of a DATA frame above the RTS threshold before it is dropped. 1..255. */
  dot11LongRetryLimit: number;
  /** DATA frames (on-air bytes) longer than this use RTS/CTS: 0 always, above the MTU never. */
  dot11RTSThreshold: number;
  /** Unit of the duration field, µs (1 as in 802.11; larger for slow radios so a u16 is enough). */
  aDurationUnitUs: number;
  /** Bits the PHY adds to every frame (preamble, sync, PHY header, radio CRC), for airtime. */
  phyHeaderBits: number;
  /** DATA header length on the air, bytes (>= 8; 34 emulates 802.11's MAC header and FCS). */
  dataHeaderBytes: number;
  /** RTS, CTS and ACK lengths on the air, bytes (>= 7, 5, 5; 802.11: 20, 14, 14). */
  rtsBytes: number;
  ctsBytes: number;
  ackBytes: number;
  /** Frames the transmit queue holds; send() reports TX_QUEUE_FULL beyond. */
  queueDepth: number;
  /** Transmitters remembered for duplicate detection (last sequence number of each). */
  dupCacheSize: number;
}

/**
 * 802.11 FHSS PHY at 1 Mbit/s with the frame lengths of Bianchi's analysis (IEEE JSAC 18(3), 2000,
 * Table II): slot 50 µs, SIFS 28 µs, DIFS 128 µs, PHY header 128 bits, MAC header 272 bits, ACK/CTS
 * 112 bits and RTS 160 bits plus PHY header, CW 32..1024 (aCWmin 31, aCWmax 1023: m = 5).
 */
export const CSMA_FHSS: CsmaConfig = {
  aSlotTime: 50,
  aSIFSTime: 28,
  DIFS: 128,
  aCWmin: 31,
  aCWmax: 1023,
  dot11ShortRetryLimit: 7,
  dot11LongRetryLimit: 4,
  dot11RTSThreshold: 2347,
  aDurationUnitUs: 1,
  phyHeaderBits: 128,
  dataHeaderBytes: 34,
  rtsBytes: 20,
  ctsBytes: 14,
  ackBytes: 14,
  queueDepth: 8,
  dupCacheSize: 16,
};

/**
 * nRF24L01+ at 250 kbit/s, 32-byte payloads (Nordic nRF24L01+ product specification 1.0): 130 µs
 * RX/TX settling, the received-power detector needs 170 µs in RX to be valid, so a slot of 300 µs;
 * SIFS 150 µs (turnaround and processing); per-frame overhead 1 preamble + 5 address + 9-bit packet
 * control + 2 CRC bytes = 73 bits. Frames are short, so RTS/CTS is off by default (threshold above the MTU).
 */
export const CSMA_NRF24: CsmaConfig = {
  aSlotTime: 300,
  aSIFSTime: 150,
  DIFS: 750,
  aCWmin: 15,
  aCWmax: 255,
  dot11ShortRetryLimit: 7,
  dot11LongRetryLimit: 4,
  dot11RTSThreshold: 33,
  aDurationUnitUs: 1,
  phyHeaderBits: 73,
  dataHeaderBytes: 8,
  rtsBytes: 7,
  ctsBytes: 5,
  ackBytes: 5,
  queueDepth: 4,
  dupCacheSize: 8,
};

/**
 * SX1276 LoRa (hal/espruino/sx127x.ts) at SF7, 125 kHz, coding rate 4/5, 8-symbol preamble, explicit
 * header and CRC, 64-byte frames: a symbol is 1.024 ms; the link reports the payload bit rate
 * floor(SF · BW / 2^SF · 4/5) = 5468 bit/s. Carrier sense is a CAD started by each busy() and read
 * at the next one (the driver's header), so a slot must hold a CAD, (2^7 + 32)/125 kHz of listening
 * plus a symbol of processing = 2.3 ms, and the CadDone interrupt's handling on the board (a watch
 * callback and a few SPI accesses in Espruino's interpreter, about 1-2 ms on a Pico), with room to
 * spare: 5 ms. SIFS covers the RxDone handling, the MAC's reply and its FIFO write on the same
 * interpreter: 10 ms; DIFS = SIFS + 2 slots. A preamble (12.25 symbols, 12.5 ms) outlasts two slots, so
 * a station polling once a slot always starts a CAD while it is on the air.
 * phyHeaderBits: the datasheet's time on air is (12.25 + 8 + 5 · ceil((8 L + 16) / 28)) symbols;
 * 154 extra bits at 5468 bit/s is the least that keeps the MAC's linear estimate at or above it for
 * every length 0..255 (checked in test/hal/espruino/sx127x.test.ts); 158 rounds it up. The duration
 * unit is 16 µs (a u16 then spans 1.05 s; an RTS exchange of 64 bytes needs about 0.22 s).
 * RTS/CTS is off (threshold above the MTU): an RTS costs 31 ms of air, a quarter of the longest frame.
 * Other spreading factors need their own preset: slot and SIFS scale with the symbol time.
 */
export const CSMA_LORA: CsmaConfig = {
  aSlotTime: 5000,
  aSIFSTime: 10000,
  DIFS: 20000,
  aCWmin: 15,
  aCWmax: 255,
  dot11ShortRetryLimit: 7,
  dot11LongRetryLimit: 4,
  dot11RTSThreshold: 65,
  aDurationUnitUs: 16,
  phyHeaderBits: 158,
  dataHeaderBytes: 8,
  rtsBytes: 7,
  ctsBytes: 5,
  ackBytes: 5,
  queueDepth: 4,
  dupCacheSize: 8,
};
