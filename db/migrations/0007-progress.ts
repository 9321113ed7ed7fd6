import { Migration } from '@mikro-orm/migrations';

/**
 * Progress of a reconciliation's long steps (snapshot, populate, release),
 * for a client's progress bar: one row per reconciliation and step, written
 * by the activities as they advance, read by GET /reconciliations/{id}.
 *
 * No foreign key to reconciliation, on purpose: progress is written on a
 * connection of its own while the step's transaction holds the document's
 * row lock, and a foreign key check would wait for that lock until the step
 * ends (the step waiting for its own progress write: a deadlock PostgreSQL
 * cannot see).
 */
export class Progress extends Migration {
  override up(): void {
    this.addSql(`
      create table step_progress (
        reconciliation_id uuid not null,
        phase text not null check (phase in ('snapshot', 'populate', 'release')),
        done bigint not null default 0 check (done >= 0),
        total bigint check (total >= 0),
        started_at timestamptz not null,
        updated_at timestamptz not null,
        primary key (reconciliation_id, phase)
      );
    `);
  }
}
