import { affected, sql, type Em } from '../../db/sql';
import type { TolerancePolicy } from '../../domain/tolerance';

/**
 * The variance and tolerance rules of domain/variance.ts and
 * domain/tolerance.ts, in SQL, for steps that judge a million rows in one
 * statement. PostgreSQL's numeric is exact and its round() rounds half away
 * from zero, as domain/decimal.ts does, so the two agree value for value;
 * test/variance-sql.test.ts holds them together on generated inputs.
 */

/**
 * tolerance_rule: the policy as rows, rule 0 the default and one rule per
 * item code that has its own (an item rule replaces the default, no
 * merging). A null limit is unlimited on that side; `configured` is false
 * for a rule without any dimension, which means zero tolerance.
 * Temporary, dropped at commit: call inside the step's transaction.
 */
export async function createToleranceRules(em: Em, policy: TolerancePolicy): Promise<void> {
  // JSON.stringify writes each limit as the shortest decimal that reads back to it, the decimal domain/decimal.ts reads.
  await affected(
    em,
    sql`
      create temp table tolerance_rule on commit drop as
      with policy as (select ${JSON.stringify(policy)}::jsonb as p),
      rules as (
        select 0 as rule_id, null::text as item_code, p -> 'default' as rule from policy
        union all
        select (row_number() over (order by e.key))::int, e.key, e.value
        from policy, jsonb_each(coalesce(p -> 'items', '{}'::jsonb)) e
      )
      select rule_id, item_code, rule ?| array['quantity', 'percent', 'value'] as configured,
             (rule #>> '{quantity,plus}')::numeric as quantity_plus, (rule #>> '{quantity,minus}')::numeric as quantity_minus,
             (rule #>> '{percent,plus}')::numeric as percent_plus, (rule #>> '{percent,minus}')::numeric as percent_minus,
             (rule #>> '{value,plus}')::numeric as value_plus, (rule #>> '{value,minus}')::numeric as value_minus
      from rules`,
  );
  // A few rows; without statistics the planner guesses hundreds and hashes the million rows it joins them to instead.
  await affected(em, sql`analyze tolerance_rule`);
}

/**
 * Joins that judge each row of `source`, which has the columns expected,
 * counted, conversion_factor, standard_cost and item_code. They add the
 * relation `v` with the columns quantity (storage unit), inventory_quantity,
 * value and approval ('not_required' | 'to_approve'), as computeVariance and
 * judgeVariance give them. Needs tolerance_rule (createToleranceRules).
 */
export function varianceJoins(source: string) {
  const x = (column: string) => sql.ref(`${source}.${column}`);
  return sql`
    left join tolerance_rule own_rule on own_rule.item_code = ${x('item_code')}
    join tolerance_rule rule on rule.rule_id = coalesce(own_rule.rule_id, 0)
    cross join lateral (select round(${x('counted')} - ${x('expected')}, 4) as quantity) vq
    cross join lateral (
      select vq.quantity * ${x('conversion_factor')} as inventory,
             abs(round(${x('expected')}, 4)) as expected,
             -- The side of the limits is the direction of the variance.
             case when vq.quantity > 0 then rule.quantity_plus else rule.quantity_minus end as quantity_limit,
             case when vq.quantity > 0 then rule.percent_plus else rule.percent_minus end as percent_limit,
             case when vq.quantity > 0 then rule.value_plus else rule.value_minus end as value_limit) vs
    cross join lateral (
      select vq.quantity, round(vs.inventory, 4) as inventory_quantity,
             -- Money from the unrounded inventory quantity, rounded once.
             round(vs.inventory * ${x('standard_cost')}, 4) as value) vv
    cross join lateral (
      select vv.quantity, vv.inventory_quantity, vv.value,
             case
               when vv.quantity = 0 then 'not_required'
               when not rule.configured then 'to_approve'
               when abs(vv.quantity) > vs.quantity_limit then 'to_approve'
               -- |v| / expected * 100 <= limit, cross-multiplied; on an expected 0 the percentage is infinite.
               when vs.percent_limit is not null and (vs.expected = 0 or abs(vv.quantity) * 100 > vs.percent_limit * vs.expected) then 'to_approve'
               when abs(vv.value) > vs.value_limit then 'to_approve'
               else 'not_required'
             end as approval) v`;
}
