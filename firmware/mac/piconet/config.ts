// Piconet parameters (Bluetooth BR baseband names where there are some) and presets. Every node of
// one piconet must use the same preset.

export interface PiconetConfig {
  /** Slot length, µs (Bluetooth 625). Long enough for the shortest packet, turnaround and propagation. */
  slotUs: number;
  /** Bits the PHY adds to every packet besides its bytes (preamble, sync, trailer, payload CRC). */
  phyHeaderBits: number;
  /**
   * Bytes every packet occupies on the air whatever its length, for a radio that pads frames to a fixed
   * width (the nRF24 driver: 32); absent or 0: a packet's own length. A slave dates the master's packet
   * from its airtime, so this must match the radio.
   */
  frameBytes?: number;
  /** Send the packet header three times with bitwise majority decoding (the textbook's triplicate). */
  tripleHeader: boolean;
  /** Largest ACL payload of the 1-, 3- and 5-slot data types (DH1, DH3, DH5); 0 = type not used. */
  dh1: number;
  dh3: number;
  dh5: number;
  /** Frames queued per slave at the master, and at a slave toward its master. */
  queueDepth: number;
  /** Transmissions of a data packet before it is dropped with TX_NOACK (Bluetooth: the flush timeout). */
  maxTransmissions: number;
  /** A slave (or the master) unheard this long is gone, µs (Bluetooth's link supervision timeout). */
  supervisionUs: number;
  /** The master broadcasts a beacon (a NULL to AM_ADDR 0) at least this often, µs, while slaves are parked. */
  beaconUs: number;
  /** Inquiry: a scanning node answers after a random number of inquiry packets in [0, this]. */
  inquiryBackoff: number;
  /** Page: give up after this long without an answer, µs. */
  pageTimeoutUs: number;
  /** Adaptive polling: an idle slave is skipped for up to this many rounds. */
  adaptiveMaxSkip: number;
}

/**
 * Bluetooth BR at 1 Mbit/s: 625 µs slots, 72-bit access code (16 bits of which are the frame's `ac`
 * field) plus 16-bit payload CRC, DH1/DH3/DH5 payloads of 27, 183 and 339 bytes (Bluetooth Core 1.1,
 * baseband packet types), supervision timeout 20 s (Bluetooth's default; short in tests).
 */
export const PICONET_BT: PiconetConfig = {
  slotUs: 625,
  phyHeaderBits: 72,
  tripleHeader: true,
  dh1: 27,
  dh3: 183,
  dh5: 339,
  queueDepth: 8,
  maxTransmissions: 16,
  supervisionUs: 20_000_000,
  beaconUs: 100_000,
  inquiryBackoff: 8,
  pageTimeoutUs: 1_000_000,
  adaptiveMaxSkip: 8,
};

/**
 * nRF24L01+ at 250 kbit/s with 32-byte frames: only 1-slot packets fit (5-byte header, 27-byte
 * payload). A slot holds a full frame (32 bytes + 73 bits of overhead = 1 316 µs) plus 130 µs of
 * RX/TX settling and processing: 1 500 µs.
 */
export const PICONET_NRF24: PiconetConfig = {
  slotUs: 1500,
  phyHeaderBits: 73,
  tripleHeader: false,
  dh1: 27,
  dh3: 0,
  dh5: 0,
  queueDepth: 4,
  maxTransmissions: 8,
  supervisionUs: 2_000_000,
  beaconUs: 200_000,
  inquiryBackoff: 4,
  pageTimeoutUs: 500_000,
  adaptiveMaxSkip: 8,
};
