/** Kept for the nodes that still import it: the contract lives in ./items. */
export type { HubContactFields } from './items';
