import { describe, expect, it } from 'vitest';
import type { Orm } from '../db/orm';
import { createActivities, type Activities } from '../activities';

/**
 * Activities take one input object: an activity's arguments are written into
 * workflow histories, and a field added to one object later replays fine,
 * while a positional argument added, removed or moved breaks every run in
 * flight. Held twice: by the compiler (`npm test` runs tsc) and at run time,
 * on exactly what the worker registers.
 */

/** True when F takes nothing or exactly one parameter that is an object. */
type OneObject<F> = F extends (...args: infer A) => unknown ? (A extends [] | [object] | [object?] ? true : false) : false;
/** The activities that take anything else; `never` when every one takes one input object. */
type Positional = { [K in keyof Activities]: OneObject<Activities[K]> extends true ? never : K }[keyof Activities];
// A compile error here ("missing the following properties") names each activity that takes positional arguments: give it one input object instead.
const positional: Record<Positional, 'takes positional arguments'> = {};

describe('activity inputs', () => {
  // The factories only keep the ORM for later calls: none is needed to list what they return.
  const activities = createActivities({} as Orm);

  it('every activity the worker registers declares at most one parameter, its input object', () => {
    const declared = Object.entries(activities).map(([name, fn]) => ({ name, parameters: (fn as (...args: unknown[]) => unknown).length }));
    expect(declared.length).toBeGreaterThan(20);
    expect(declared.filter((a) => a.parameters > 1)).toEqual([]);
    expect(positional).toEqual({});
  });

  it('no activity declares a rest parameter, which would hide positional arguments from its length', () => {
    const rest = Object.entries(activities).filter(([, fn]) => /^[^(]*\([^)]*\.\.\./.test(String(fn))).map(([name]) => name);
    expect(rest).toEqual([]);
  });
});
