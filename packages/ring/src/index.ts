export { Ring } from './ring.js';
export {
  RING_F_SP_ENQ,
  RING_F_SC_DEQ,
  RING_F_EXACT_SZ,
  RING_F_MP_RTS_ENQ,
  RING_F_MC_RTS_DEQ,
  RING_F_MP_HTS_ENQ,
  RING_F_MC_HTS_DEQ,
  SP_ENQ,
  SC_DEQ,
  EXACT_SZ,
  MP_RTS_ENQ,
  MC_RTS_DEQ,
  MP_HTS_ENQ,
  MC_HTS_DEQ,
  RING_SZ_MASK,
} from './flags.js';
export type { RingCreateOptions, SyncMode } from './flags.js';
export { RingStaleError } from './errors.js';
export type { RingOpOptions, RingData, RingData64, RingZcData, RingDescriptor, RingRecovery, RingSide } from './types.js';
export { RING_NAME_MAX, RING_MZ_PREFIX, RING_VERSION, PARTICIPANTS as RING_PARTICIPANTS, ringMemSize } from './layout.js';
export { MpError } from '@mp/memory';
export type { MpErrorCode } from '@mp/memory';
import './telemetry.js';
