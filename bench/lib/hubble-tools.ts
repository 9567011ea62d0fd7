// Where scripts/install-hubble.sh puts the real `hubble` CLI and `hubble-relay` (outside the repo, cached).
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CILIUM_VERSION } from '../../src/observe/hubble/generated/hubble-protos.js';

const TOOLS = join(process.env.PORTCULLIS_TOOLS ?? join(homedir(), '.cache', 'portcullis'), `hubble-${CILIUM_VERSION}`);
export const HUBBLE = join(TOOLS, 'hubble');
export const HUBBLE_RELAY = join(TOOLS, 'hubble-relay');
