import { MasterData } from './0001-master-data';
import { Reconciliation } from './0002-reconciliation';
import { Release } from './0003-release';
import { Trust } from './0004-trust';
import { Access } from './0005-access';
import { SystemReconciliation } from './0006-system-reconciliation';
import { Progress } from './0007-progress';
import { Performance } from './0008-performance';
import { BulkSteps } from './0009-bulk-steps';
import { StockReferences } from './0010-stock-references';
import { ReferenceChecksBySet } from './0011-reference-checks-by-set';

/** Every migration, in order. Listed explicitly so bundlers and tsx need no file globbing. */
export const migrationsList = [
  { name: '0001-master-data', class: MasterData },
  { name: '0002-reconciliation', class: Reconciliation },
  { name: '0003-release', class: Release },
  { name: '0004-trust', class: Trust },
  { name: '0005-access', class: Access },
  { name: '0006-system-reconciliation', class: SystemReconciliation },
  { name: '0007-progress', class: Progress },
  { name: '0008-performance', class: Performance },
  { name: '0009-bulk-steps', class: BulkSteps },
  { name: '0010-stock-references', class: StockReferences },
  { name: '0011-reference-checks-by-set', class: ReferenceChecksBySet },
];
