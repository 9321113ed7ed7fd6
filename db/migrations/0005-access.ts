import { Migration } from '@mikro-orm/migrations';

/**
 * Access: people and devices as principals with one role each, tokens that
 * expire and can be revoked or rotated, warehouses granted to principals,
 * and an audit trail that also records identity events and that the
 * database itself keeps append-only.
 */
export class Access extends Migration {
  override up(): void {
    this.addSql(`
      alter table app_user drop constraint app_user_role_check;
      alter table app_user add constraint app_user_role_check
        check (role in ('counter', 'manager', 'senior_manager', 'auditor', 'admin'));
      alter table app_user add column kind text not null default 'person' check (kind in ('person', 'device'));
      alter table app_user add column all_warehouses boolean not null default false;
      alter table app_user add column created_at timestamptz not null default now();
      alter table app_user add column disabled_at timestamptz;
      comment on column app_user.kind is 'device: a handheld that authenticates as itself and counts the orders assigned to it';
      comment on column app_user.all_warehouses is 'granted every warehouse, present and future (otherwise user_warehouse lists them)';

      create table api_token (
        id bigserial primary key,
        user_name text not null references app_user(name),
        token_sha256 text not null unique,
        created_at timestamptz not null default now(),
        expires_at timestamptz not null,
        revoked_at timestamptz
      );
      create index api_token_user_idx on api_token (user_name);
      -- Tokens issued before expiry existed keep working for 90 days from now; users keep the access they had.
      insert into api_token (user_name, token_sha256, expires_at) select name, token_sha256, now() + interval '90 days' from app_user;
      update app_user set all_warehouses = true;
      alter table app_user drop column token_sha256;

      create table user_warehouse (
        user_name text not null references app_user(name),
        warehouse_code text not null references warehouse(code),
        primary key (user_name, warehouse_code)
      );

      alter table audit_event alter column reconciliation_id drop not null;
      alter table audit_event add column warehouse_code text;
      update audit_event a set warehouse_code = r.warehouse_code from reconciliation r where r.id = a.reconciliation_id;
      create index audit_event_at_idx on audit_event (at);
      create index audit_event_actor_idx on audit_event (actor, at);
      create index audit_event_action_idx on audit_event (action, at);
      create function audit_is_append_only() returns trigger language plpgsql as $$
      begin
        raise exception 'the audit trail is append-only (% refused)', tg_op;
      end $$;
      create trigger audit_event_append_only before update or delete on audit_event
        for each row execute function audit_is_append_only();
      create trigger audit_event_no_truncate before truncate on audit_event
        for each statement execute function audit_is_append_only();
      -- Every event of a reconciliation carries its warehouse, so the trail can be scoped by warehouse grants.
      create function audit_event_warehouse() returns trigger language plpgsql as $$
      begin
        if new.warehouse_code is null and new.reconciliation_id is not null then
          select warehouse_code into new.warehouse_code from reconciliation where id = new.reconciliation_id;
        end if;
        return new;
      end $$;
      create trigger audit_event_warehouse before insert on audit_event
        for each row execute function audit_event_warehouse();
    `);
  }
}
