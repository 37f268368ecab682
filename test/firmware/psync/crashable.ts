// Test helper for the Psync tests: the crashable MAC of host/sim/crashable.ts.
export { crashable } from '../../../host/sim/crashable.ts';
