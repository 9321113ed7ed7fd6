import type { Orm } from '../db/orm';
import { adjustmentOrderActivities } from './adjustment-order';
import { countOrderActivities } from './count-orders';
import { populateActivities } from './populate';
import { releasePlanActivities } from './release-plan';
import { releasePostActivities } from './release-post';
import { reviewActivities } from './review';
import { snapshotActivities } from './snapshot';

/** Every activity the worker registers, bound to one ORM (and so one connection pool). */
export function createActivities(orm: Orm) {
  return {
    ...snapshotActivities(orm),
    ...countOrderActivities(orm),
    ...populateActivities(orm),
    ...reviewActivities(orm),
    ...releasePlanActivities(orm),
    ...releasePostActivities(orm),
    ...adjustmentOrderActivities(orm),
  };
}

export type Activities = ReturnType<typeof createActivities>;
