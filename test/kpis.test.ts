import { describe, expect, it } from 'vitest';
import { affected, sql } from '../db/sql';
import { updateException } from '../store/system-reconciliation/exceptions';
import { smallWarehouse } from './support/fixtures';
import { expectProblem } from './support/problem-checks';
import { useStack } from './support/stack';
import { exceptionOfLine, getText, insertLevels, runWithLines } from './support/system-runs';

/**
 * KPIs of system reconciliation on a constructed dataset whose every number
 * is known, for warehouse W1 and sources ERP (A) and WMS (B):
 *
 * - run O, 27 Feb (outside the period asked): LOT at B-01, unavailable, an exception.
 * - run A, 1 Mar 06:00, 10 keys: P1@A-01 exception -20, BOX@A-01 exception +30, LOT@B-01 explainable 8.
 *   Levels: ERP and WMS report P1@A-01, BOX@A-01, LOT@B-01, SER@B-01, P1@A-02.
 * - run B, 2 Mar 06:00, 8 keys: P1@A-01 exception -30 (recurs), SER@B-01 exception +100 (new),
 *   LOT@B-01 explainable +4 and BOX@A-01 explainable -24, both processed (difference +1 and -1).
 *   Levels: ERP reports P1@A-01, BOX@A-01, LOT@B-01 (SER only through its line).
 * - run X, 2 Mar 07:00, ERP against book: another source pair, left out.
 * - BOX's exception (opened 1 Mar 06:00) resolved 3 Mar 08:00: 50 h; SER's (opened 2 Mar 06:00) accepted 3 Mar 06:00: 24 h.
 *   P1's exception stays open.
 */
describe('system reconciliation KPIs', () => {
  const t = useStack(async (stack) => {
    const { orm } = stack.db;
    await smallWarehouse(orm, 'W1');
    await smallWarehouse(orm, 'W2');
    const w1 = { warehouse: 'W1', sourceA: 'ERP', sourceB: 'WMS' };
    await runWithLines(orm, { ...w1, comparedAt: '2025-02-27T06:00:00Z', keys: 5 }, [
      { item: 'LOT', location: 'B-01', category: 'unavailable', quantityA: 1, quantityB: 0, value: -4 },
    ]);
    const a = await runWithLines(orm, { ...w1, comparedAt: '2025-03-01T06:00:00Z', keys: 10 }, [
      { item: 'P1', location: 'A-01', quantityA: 10, quantityB: 8, value: -20 },
      { item: 'BOX', location: 'A-01', quantityA: 5, quantityB: 6, value: 30 },
      { item: 'LOT', location: 'B-01', quantityA: 20, quantityB: 22, value: 8, outcome: 'explainable', rootCause: 'timing' },
    ]);
    const levelsA = [
      { item: 'P1', location: 'A-01', quantity: 10 }, { item: 'BOX', location: 'A-01', quantity: 5 }, { item: 'LOT', location: 'B-01', quantity: 20 },
      { item: 'SER', location: 'B-01', quantity: 1 }, { item: 'P1', location: 'A-02', quantity: 4 },
    ];
    await insertLevels(orm, a.id, 'ERP', levelsA);
    await insertLevels(orm, a.id, 'WMS', levelsA);
    const b = await runWithLines(orm, { ...w1, comparedAt: '2025-03-02T06:00:00Z', keys: 8 }, [
      { item: 'P1', location: 'A-01', quantityA: 10, quantityB: 7, value: -30 },
      { item: 'SER', location: 'B-01', quantityA: 1, quantityB: 2, value: 100 },
      { item: 'LOT', location: 'B-01', quantityA: 20, quantityB: 21, value: 4, outcome: 'explainable', state: 'processed' },
      { item: 'BOX', location: 'A-01', quantityA: 6, quantityB: 5, value: -24, outcome: 'explainable', state: 'processed' },
    ]);
    await insertLevels(orm, b.id, 'ERP', [
      { item: 'P1', location: 'A-01', quantity: 10 }, { item: 'BOX', location: 'A-01', quantity: 6 }, { item: 'LOT', location: 'B-01', quantity: 20 },
    ]);
    await runWithLines(orm, { warehouse: 'W1', sourceA: 'ERP', sourceB: 'book', comparedAt: '2025-03-02T07:00:00Z', keys: 3 }, [
      { item: 'P1', location: 'A-01', quantityA: 10, quantityB: 1, value: -90 },
    ]);

    const box = await exceptionOfLine(orm, a.id, 2);
    const ser = await exceptionOfLine(orm, b.id, 2);
    await updateException(orm.em.fork(), box, { status: 'resolved' }, 'manager-1');
    await updateException(orm.em.fork(), ser, { status: 'accepted' }, 'manager-1');
    // When they were closed, as the dataset says (the store stamps now()).
    await affected(orm.em.fork(), sql`update system_exception set resolved_at = '2025-03-03T08:00:00Z' where id = ${box}`);
    await affected(orm.em.fork(), sql`update system_exception set resolved_at = '2025-03-03T06:00:00Z' where id = ${ser}`);
    return { a, b };
  });

  const period = (query = '', from = '2025-03-01', to = '2025-03-03') =>
    `/kpis/system-reconciliation?warehouse=W1&sourceA=ERP&sourceB=WMS&from=${from}&to=${to}${query}`;

  const dayA = {
    day: '2025-03-01', runs: 1, keys: 10, matched: 7, explainable: 1, exceptions: 2, exceptionRate: 0.2, accuracy: 0.8,
    exceptionValue: 50, valueAtRisk: 20, exceptionsOpened: 2, exceptionsRecurring: 0,
    adjustmentLines: 0, adjustmentQuantity: 0, adjustmentValue: 0,
    resolved: 0, accepted: 0, timeToResolutionAvgHours: null, timeToResolutionP90Hours: null,
  };
  const dayB = {
    day: '2025-03-02', runs: 1, keys: 8, matched: 4, explainable: 2, exceptions: 2, exceptionRate: 0.25, accuracy: 0.75,
    exceptionValue: 130, valueAtRisk: 30, exceptionsOpened: 1, exceptionsRecurring: 1,
    adjustmentLines: 2, adjustmentQuantity: 2, adjustmentValue: 28,
    resolved: 0, accepted: 0, timeToResolutionAvgHours: null, timeToResolutionP90Hours: null,
  };
  const dayC = {
    day: '2025-03-03', runs: 0, keys: null, matched: null, explainable: 0, exceptions: 0, exceptionRate: null, accuracy: null,
    exceptionValue: 0, valueAtRisk: 0, exceptionsOpened: 0, exceptionsRecurring: 0,
    adjustmentLines: 0, adjustmentQuantity: 0, adjustmentValue: 0,
    resolved: 1, accepted: 1, timeToResolutionAvgHours: 37, timeToResolutionP90Hours: 47.4,
  };

  it('per run: compared keys, exception rate, explainable lines, value at risk (open exceptions only), no adjustments yet', async () => {
    const { a } = t.fixture;
    const res = await t.stack.http('GET', `/system-reconciliations/${a.id}/kpis`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({
      run: { id: a.id, number: a.number, warehouse: 'W1', sourceA: 'ERP', sourceB: 'WMS', comparedAt: '2025-03-01T06:00:00.000Z' },
      keys: 10, matched: 7, explainable: 1, exceptions: 2, exceptionRate: 0.2, accuracy: 0.8,
      exceptionValue: 50, valueAtRisk: 20, exceptionsOpened: 2, exceptionsRecurring: 0,
      adjustmentLines: 0, adjustmentQuantity: 0, adjustmentValue: 0,
    });
  });

  it('per run: a recurring exception, a closed one out of the value at risk, and the processed lines as adjustment volume', async () => {
    const { b } = t.fixture;
    const res = await t.stack.http('GET', `/system-reconciliations/${b.id}/kpis`);
    expect(res.body).toMatchObject({
      keys: 8, matched: 4, explainable: 2, exceptions: 2, exceptionRate: 0.25, exceptionValue: 130, valueAtRisk: 30,
      exceptionsOpened: 1, exceptionsRecurring: 1, adjustmentLines: 2, adjustmentQuantity: 2, adjustmentValue: 28,
    });
  });

  it('per run as CSV: a header and one record, amounts as exact decimals', async () => {
    const { b } = t.fixture;
    const res = await getText(t.stack, `/system-reconciliations/${b.id}/kpis?format=csv`);
    expect(res.status, res.text).toBe(200);
    expect(res.contentType).toContain('text/csv');
    expect(res.text).toBe(
      'run,number,warehouse,sourceA,sourceB,comparedAt,keys,matched,explainable,exceptions,exceptionRate,accuracy,exceptionValue,valueAtRisk,' +
        'exceptionsOpened,exceptionsRecurring,adjustmentLines,adjustmentQuantity,adjustmentValue\r\n' +
        `${b.id},${b.number},W1,ERP,WMS,2025-03-02T06:00:00.000Z,8,4,2,2,0.25,0.75,130,30,1,1,2,2,28\r\n`,
    );
  });

  it('over time: one row per day of the period, runs of other days and other source pairs left out', async () => {
    const res = await t.stack.http('GET', period());
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ warehouse: 'W1', sourceA: 'ERP', sourceB: 'WMS', from: '2025-03-01', to: '2025-03-03' });
    expect(res.body.days).toEqual([dayA, dayB, dayC]);
  });

  it('time to resolution: average and 90th percentile of opened -> closed, in hours, of the exceptions closed each day', async () => {
    const res = await t.stack.http('GET', period('', '2025-03-03'));
    expect(res.body.days).toEqual([dayC]);
    expect(res.body.total).toMatchObject({ resolved: 1, accepted: 1, timeToResolutionAvgHours: 37, timeToResolutionP90Hours: 47.4 });
  });

  it('over time: the total of the period', async () => {
    const res = await t.stack.http('GET', period());
    expect(res.body.total).toEqual({
      runs: 2, keys: 18, matched: 11, explainable: 3, exceptions: 4, exceptionRate: 4 / 18, accuracy: 1 - 4 / 18,
      exceptionValue: 180, valueAtRisk: 50, exceptionsOpened: 3, exceptionsRecurring: 1,
      adjustmentLines: 2, adjustmentQuantity: 2, adjustmentValue: 28,
      resolved: 1, accepted: 1, timeToResolutionAvgHours: 37, timeToResolutionP90Hours: 47.4,
    });
  });

  it('inventory accuracy by item: 1 - runs with an exception line / runs that covered the item (levels or lines), worst first', async () => {
    const res = await t.stack.http('GET', period());
    expect(res.body.items).toEqual([
      { item: 'P1', runsCovered: 2, runsWithException: 2, accuracy: 0 },
      { item: 'BOX', runsCovered: 2, runsWithException: 1, accuracy: 0.5 },
      { item: 'SER', runsCovered: 2, runsWithException: 1, accuracy: 0.5 },
      { item: 'LOT', runsCovered: 2, runsWithException: 0, accuracy: 1 },
    ]);
  });

  it('inventory accuracy by location, worst first', async () => {
    const res = await t.stack.http('GET', period());
    expect(res.body.locations).toEqual([
      { location: 'A-01', runsCovered: 2, runsWithException: 2, accuracy: 0 },
      { location: 'B-01', runsCovered: 2, runsWithException: 1, accuracy: 0.5 },
      { location: 'A-02', runsCovered: 1, runsWithException: 0, accuracy: 1 },
    ]);
  });

  it('over time as CSV: the days, the items or the locations', async () => {
    const days = await getText(t.stack, period('&format=csv'));
    expect(days.status, days.text).toBe(200);
    expect(days.contentType).toContain('text/csv');
    expect(days.text.split('\r\n')).toEqual([
      'day,runs,keys,matched,explainable,exceptions,exceptionRate,accuracy,exceptionValue,valueAtRisk,exceptionsOpened,exceptionsRecurring,' +
        'adjustmentLines,adjustmentQuantity,adjustmentValue,resolved,accepted,timeToResolutionAvgHours,timeToResolutionP90Hours',
      '2025-03-01,1,10,7,1,2,0.2,0.8,50,20,2,0,0,0,0,0,0,,',
      '2025-03-02,1,8,4,2,2,0.25,0.75,130,30,1,1,2,2,28,0,0,,',
      '2025-03-03,0,,,0,0,,,0,0,0,0,0,0,0,1,1,37,47.4',
      '',
    ]);
    const items = await getText(t.stack, period('&format=csv&view=items'));
    expect(items.text).toBe('item,runsCovered,runsWithException,accuracy\r\nP1,2,2,0\r\nBOX,2,1,0.5\r\nSER,2,1,0.5\r\nLOT,2,0,1\r\n');
    const locations = await getText(t.stack, period('&format=csv&view=locations'));
    expect(locations.text).toBe('location,runsCovered,runsWithException,accuracy\r\nA-01,2,2,0\r\nB-01,2,1,0.5\r\nA-02,1,0,1\r\n');
  });

  it('a period that ends before it starts, is longer than two years, or names no calendar day is refused (422)', async () => {
    // Each a valid day, but not a period: a rule across the two parameters (invalid-period); not a day at all: the schema's (invalid-request).
    for (const [from, to, type] of [['2025-03-04', '2025-03-03', 'invalid-period'], ['2020-01-01', '2025-03-03', 'invalid-period'], ['2025-02-30', '2025-03-03', 'invalid-request'], ['2025-03-01', 'tomorrow', 'invalid-request']]) {
      expectProblem(await t.stack.http('GET', period('', from, to)), 422, type!, `${from}..${to}`);
    }
  });

  it('a warehouse with no runs in the period has a row of zeros per day; an unknown warehouse answers 404', async () => {
    const res = await t.stack.http('GET', '/kpis/system-reconciliation?warehouse=W2&sourceA=ERP&sourceB=WMS&from=2025-03-01&to=2025-03-02');
    expect(res.body.days.map((d: { day: string; runs: number; exceptions: number }) => [d.day, d.runs, d.exceptions]))
      .toEqual([['2025-03-01', 0, 0], ['2025-03-02', 0, 0]]);
    expect(res.body.items).toEqual([]);
    expectProblem(await t.stack.http('GET', '/kpis/system-reconciliation?warehouse=W9&sourceA=ERP&sourceB=WMS'), 404, 'not-found');
  });
});
