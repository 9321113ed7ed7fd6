/**
 * The judgement of one difference between two sources' stock levels for one key
 * (item × warehouse × location × status category), in the system reconciliation
 * (seeds 002 and 004): match, explainable (and by what), or exception.
 *
 * The difference is B − A in storage units (source_b minus source_a; A is
 * usually the system of record or the book). Its value is the difference in the
 * inventory unit times the standard cost (domain/variance.ts computeVariance,
 * rounded once to 4 decimals). The rule, in order:
 *
 *  1. A key whose levels could not be normalised (a status without a category
 *     mapping, a unit without a conversion) is an `exception` with root cause
 *     `status_mapping` / `unit_conversion`, whatever its difference: such rows
 *     are never silently dropped nor silently matched.
 *  2. `match` when the item's tolerance rule (domain/tolerance.ts, the item's
 *     rule or the default, expected = quantity A) says `not_required`. A zero
 *     difference is always a match (the SQL around this rule relies on it to
 *     judge only keys whose quantities differ).
 *  3. `explainable` / `unprocessed_message` when at least one interface message
 *     between the two sources is outstanding for the key and the residual
 *     difference − net effect of those messages is within the same tolerance
 *     (same rule, expected = quantity A, value of the residual). The net effect
 *     is expressed on B − A: a message from B to A that A has not processed
 *     counts +its quantity (B already has it, A not yet), one from A to B −.
 *  4. `explainable` / `timing` when at least one movement of either source for
 *     the key lies inside the cutoff window and the sum of their magnitudes
 *     (|quantity| in storage units) is at least |difference|: every unit of the
 *     difference could still be in flight.
 *  5. Otherwise `exception` / `unknown`.
 *
 * Pure: no I/O, no clock, exact decimals.
 */
import { abs, add, cmp, dec, toNumber } from './decimal';
import { judgeVariance, type ToleranceRule } from './tolerance';
import { computeVariance, type Direction } from './variance';

export type SystemOutcome = 'match' | 'explainable' | 'exception';
export type MappingProblem = 'status_mapping' | 'unit_conversion';
export type SystemRootCause = 'unprocessed_message' | 'timing' | MappingProblem | 'unknown';

export interface DifferenceFigures {
  /** Source A's quantity for the key, storage units. */
  quantityA: number;
  /** Source B's quantity for the key, storage units. */
  quantityB: number;
  /** Inventory units per storage unit (item.conversion_factor), > 0. */
  conversionFactor: number;
  /** Per inventory unit. */
  standardCost: number;
  /** Set when a level row of the key could not be normalised; status_mapping wins over unit_conversion. */
  mappingProblem: MappingProblem | null;
  /** Outstanding interface messages between the two sources for the key. */
  messages: { count: number; /** net effect on B − A, storage units */ net: number };
  /** Movements of either source for the key inside the cutoff window. */
  window: { count: number; /** Σ |quantity|, storage units */ magnitude: number };
}

export interface DifferenceJudgement {
  /** B − A, storage units, 4 decimals. */
  difference: number;
  /** difference × conversion factor × standard cost, 4 decimals. */
  value: number;
  /** IN: B has more than A; OUT: B has less. */
  direction: Direction;
  outcome: SystemOutcome;
  /** null for a match. */
  rootCause: SystemRootCause | null;
}

export function judgeDifference(f: DifferenceFigures, rule: ToleranceRule): DifferenceJudgement {
  const v = computeVariance({
    expected: f.quantityA,
    counted: f.quantityB,
    conversionFactor: f.conversionFactor,
    standardCost: f.standardCost,
  });
  const base = { difference: v.quantity, value: v.value, direction: v.direction };
  if (f.mappingProblem !== null) return { ...base, outcome: 'exception', rootCause: f.mappingProblem };

  const withinTolerance = (variance: number, value: number) =>
    judgeVariance({ expected: f.quantityA, variance, varianceValue: value }, rule) === 'not_required';
  if (withinTolerance(v.quantity, v.value)) return { ...base, outcome: 'match', rootCause: null };

  if (f.messages.count > 0) {
    // The residual once the outstanding messages are applied to A: (A + net) → B.
    const residual = computeVariance({
      expected: toNumber(add(dec(f.quantityA), dec(f.messages.net))),
      counted: f.quantityB,
      conversionFactor: f.conversionFactor,
      standardCost: f.standardCost,
    });
    if (withinTolerance(residual.quantity, residual.value)) return { ...base, outcome: 'explainable', rootCause: 'unprocessed_message' };
  }

  if (f.window.count > 0 && cmp(dec(f.window.magnitude), abs(dec(v.quantity))) >= 0) {
    return { ...base, outcome: 'explainable', rootCause: 'timing' };
  }
  return { ...base, outcome: 'exception', rootCause: 'unknown' };
}

/**
 * Whether a key needs judging at all: a key whose quantities are equal and
 * whose rows were all normalised is a match under every tolerance rule
 * (judgeDifference's rule 2). The SQL that gathers keys uses the same test.
 */
export function needsJudgement(quantityA: number, quantityB: number, mappingProblem: MappingProblem | null): boolean {
  return mappingProblem !== null || cmp(dec(quantityA), dec(quantityB)) !== 0;
}
