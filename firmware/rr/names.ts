// Request-reply's error codes (firmware/rr/rr.ts RR_E_*) in words, for what people read: the host's
// endpoint and tools, and the edge nodes' call lines. Kept apart from rr.ts so that a board bundle,
// which prints no error names, carries none of these strings.
import {
  RR_E_BAD_ARGS, RR_E_BAD_REPLY, RR_E_BUSY, RR_E_HANDLER, RR_E_SEND, RR_E_TIMEOUT, RR_E_TOO_LARGE, RR_E_TOO_MANY, RR_E_UNKNOWN_OP,
} from './rr.ts';

// Filled by assignment: computed keys ({[k]: v}) are a syntax error on Espruino, and all of firmware/
// stays inside what it runs.
export const RR_ERROR_NAMES: Record<number, string> = {};
RR_ERROR_NAMES[RR_E_UNKNOWN_OP] = 'unknown operation';
RR_ERROR_NAMES[RR_E_BAD_ARGS] = 'malformed arguments';
RR_ERROR_NAMES[RR_E_HANDLER] = 'handler failure';
RR_ERROR_NAMES[RR_E_BUSY] = 'server busy';
RR_ERROR_NAMES[RR_E_TIMEOUT] = 'timeout';
RR_ERROR_NAMES[RR_E_SEND] = 'not sent';
RR_ERROR_NAMES[RR_E_TOO_MANY] = 'too many calls';
RR_ERROR_NAMES[RR_E_TOO_LARGE] = 'arguments too large';
RR_ERROR_NAMES[RR_E_BAD_REPLY] = 'malformed reply';
