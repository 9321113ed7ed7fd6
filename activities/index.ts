import type { Orm } from '../db/orm';
import { countingActivities } from './counting';
import { releaseActivities } from './release';
import { reviewActivities } from './review';
import { statusActivities } from './status';
import { systemActivities } from './system';

/** Every activity the worker registers, bound to one ORM (and so one connection pool). Each takes one input object. */
export function createActivities(orm: Orm) {
  return {
    ...countingActivities(orm),
    ...reviewActivities(orm),
    ...releaseActivities(orm),
    ...statusActivities(orm),
    ...systemActivities(orm),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { Decided, DecisionInput, WithTransition } from './inputs';
