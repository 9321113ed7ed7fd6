/**
 * Every business refusal Stocktake gives, by type, with the kind of refusal
 * it is. Activities and the workflow refuse by type; the API turns the kind
 * into an HTTP status. One table, so a refusal means the same everywhere.
 */
export type RefusalKind = 'not_found' | 'conflict' | 'invalid' | 'forbidden';

export const REFUSALS = {
  NotFound: 'not_found',
  InvalidState: 'conflict',
  ReconciliationClosed: 'conflict',
  ScopeOverlap: 'conflict',
  NotReleasable: 'conflict',
  MaxRoundsReached: 'conflict',
  NothingToCount: 'conflict',
  NothingToRecount: 'conflict',
  CountOrderClosed: 'conflict',
  CountOrderAssigned: 'conflict',
  LineAlreadyDeleted: 'conflict',
  /** The data cannot be processed as it is (e.g. a value too large for the stock records); retrying changes nothing. */
  DataError: 'conflict',
  SourceExists: 'conflict',
  NotProcessable: 'conflict',
  LevelsAlreadyReceived: 'conflict',
  InvalidImport: 'invalid',
  ImportIdReused: 'invalid',
  UnknownSource: 'invalid',
  InvalidLevels: 'invalid',
  InvalidMapping: 'invalid',
  NoRowsSelected: 'invalid',
  InvalidRowState: 'invalid',
  ReasonRequired: 'invalid',
  IdempotencyKeyReused: 'invalid',
  SubmissionIdReused: 'invalid',
  InvalidCountEntries: 'invalid',
  UnknownWarehouse: 'invalid',
  UnknownScopeCodes: 'invalid',
  NameTaken: 'conflict',
  InvalidRole: 'invalid',
  InvalidAssignee: 'invalid',
  WarehouseNotGranted: 'forbidden',
  SegregationOfDuties: 'forbidden',
  ApprovalLimitExceeded: 'forbidden',
} as const satisfies Record<string, RefusalKind>;

export type RefusalType = keyof typeof REFUSALS;

export function isRefusalType(type: string | undefined | null): type is RefusalType {
  return typeof type === 'string' && Object.hasOwn(REFUSALS, type);
}
