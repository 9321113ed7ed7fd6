import type { Orm } from '../db/orm';
import { affected, one, rows, sql, type Em } from '../db/sql';
import type { SplitPolicy } from '../domain/scope';
import { refuse } from './refusal';
import { audit } from '../db/audit';
import type { DecisionBy } from '../workflows/messages';

export interface OrdersCreated {
  round: number;
  orders: number;
  tasks: number;
  countOrderIds: number[];
}

/**
 * Count orders: the initial count is location-based and split by the
 * document's policy; a recount is one order holding every row marked for
 * recount, at product level. Both are idempotent per (reconciliation, round):
 * a retry returns the orders the first attempt committed.
 */
export function countOrderActivities(orm: Orm) {
  return {
    async createInitialCountOrders(reconciliationId: string, by?: DecisionBy): Promise<OrdersCreated> {
      return orm.em.fork().transactional(async (em) => {
        const rec = await lockReconciliation(em, reconciliationId);
        const existing = await ordersOfRound(em, reconciliationId, 0);
        if (existing) return existing;
        if (rec.round !== -1) {
          throw refuse(`initial count is only possible before any count (round is ${rec.round})`, 'InvalidState');
        }
        const policy = rec.split_policy;
        const groupSize = policy.kind === 'by_size' ? policy.maxLocations : 0;
        await one(
          em,
          sql`
            with locs as (
              select distinct r.zone_id, r.location_id, z.code as zone_code, l.code as location_code
              from reconciliation_row r
              join zone z on z.id = r.zone_id
              join location l on l.id = r.location_id
              where r.reconciliation_id = ${reconciliationId} and r.state = 'awaiting_count'
            ), numbered as (
              select zone_id, location_id,
                     case ${policy.kind}
                       when 'by_zone' then dense_rank() over (order by zone_code) - 1
                       when 'by_size' then (row_number() over (order by zone_code, location_code) - 1) / ${groupSize}
                       else 0
                     end as seq
              from locs
            ), orders as (
              insert into count_order (reconciliation_id, round, kind, sequence, zone_id, status)
              select ${reconciliationId}, 0, 'initial', seq,
                     case when ${policy.kind} = 'by_zone' then min(zone_id) end, 'open'
              from numbered group by seq
              returning id, sequence
            )
            insert into count_task (count_order_id, location_id)
            select o.id, n.location_id from numbered n join orders o on o.sequence = n.seq`,
        );
        await affected(em, sql`analyze count_task`);
        const created = await ordersOfRound(em, reconciliationId, 0);
        if (!created) throw refuse('the snapshot has no rows to count', 'NothingToCount');
        await affected(em, sql`update reconciliation set status = 'counting', round = 0 where id = ${reconciliationId}`);
        await audit(em, { reconciliationId, actor: by?.user ?? 'system', action: 'initial_count_started', after: created });
        return created;
      });
    },

    async createRecountOrder(reconciliationId: string, round: number, by?: DecisionBy): Promise<OrdersCreated> {
      return orm.em.fork().transactional(async (em) => {
        const rec = await lockReconciliation(em, reconciliationId);
        const existing = await ordersOfRound(em, reconciliationId, round);
        if (existing) return existing;
        if (round !== Math.max(rec.round, 0) + 1 || round > rec.max_recount_rounds) {
          throw refuse(
            `recount round ${round} is not allowed (current round ${rec.round}, maximum ${rec.max_recount_rounds} recount rounds)`,
            'InvalidState',
          );
        }
        const order = await one(
          em,
          sql<{ id: number }>`
            insert into count_order (reconciliation_id, round, kind, sequence, status)
            values (${reconciliationId}, ${round}, 'recount', 0, 'open') returning id::int`,
        );
        const tasks = await affected(
          em,
          sql`
            insert into count_task (count_order_id, location_id, row_id)
            select ${order!.id}, r.location_id, r.id from reconciliation_row r
            where r.reconciliation_id = ${reconciliationId} and r.state = 'marked_for_recount'`,
        );
        if (tasks === 0) throw refuse('no rows are marked for recount', 'NothingToRecount');
        await affected(
          em,
          sql`update reconciliation_row set state = 'recounting'
              where reconciliation_id = ${reconciliationId} and state = 'marked_for_recount'`,
        );
        await affected(em, sql`update reconciliation set status = 'counting', round = ${round} where id = ${reconciliationId}`);
        const created = (await ordersOfRound(em, reconciliationId, round))!;
        await audit(em, { reconciliationId, actor: by?.user ?? 'system', action: 'recount_order_generated', after: created });
        return created;
      });
    },

    /** Orders of a round still open (the workflow's source of truth after a continue-as-new or a lost signal). */
    async openOrders(reconciliationId: string, round: number): Promise<{ open: number[]; complete: number[] }> {
      const list = await rows(
        orm.em.fork(),
        sql<{ id: number; status: string }>`
          select id::int, status from count_order where reconciliation_id = ${reconciliationId} and round = ${round}`,
      );
      return {
        open: list.filter((o) => o.status === 'open').map((o) => o.id),
        complete: list.filter((o) => o.status === 'complete').map((o) => o.id),
      };
    },
  };
}

interface LockedReconciliation {
  round: number;
  max_recount_rounds: number;
  split_policy: SplitPolicy;
}

async function lockReconciliation(em: Em, reconciliationId: string): Promise<LockedReconciliation> {
  const rec = await one(
    em,
    sql<LockedReconciliation>`
      select round, max_recount_rounds, split_policy from reconciliation where id = ${reconciliationId} for update`,
  );
  if (!rec) throw refuse(`reconciliation ${reconciliationId} not found`, 'NotFound');
  return rec;
}

async function ordersOfRound(em: Em, reconciliationId: string, round: number): Promise<OrdersCreated | undefined> {
  const r = await one(
    em,
    sql<{ ids: number[] | null; tasks: number }>`
      select array_agg(o.id::int order by o.sequence) as ids,
             (select count(*)::int from count_task t join count_order o2 on o2.id = t.count_order_id
               where o2.reconciliation_id = ${reconciliationId} and o2.round = ${round}) as tasks
      from count_order o where o.reconciliation_id = ${reconciliationId} and o.round = ${round}`,
  );
  if (!r?.ids) return undefined;
  return { round, orders: r.ids.length, tasks: r.tasks, countOrderIds: r.ids };
}
