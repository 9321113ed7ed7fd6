import { MasterData } from './0001-master-data';
import { Reconciliation } from './0002-reconciliation';

/** Every migration, in order. Listed explicitly so bundlers and tsx need no file globbing. */
export const migrationsList = [
  { name: '0001-master-data', class: MasterData },
  { name: '0002-reconciliation', class: Reconciliation },
];
