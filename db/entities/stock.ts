import { defineEntity, p } from '@mikro-orm/core';
import { Item } from './item';
import { Location, Warehouse } from './warehouse';

export const StockPosition = defineEntity({
  name: 'StockPosition',
  tableName: 'stock_position',
  properties: {
    id: p.bigint('number').primary(),
    warehouse: () => p.manyToOne(Warehouse).fieldName('warehouse_code'),
    location: () => p.manyToOne(Location),
    item: () => p.manyToOne(Item),
    lot: p.string().default(''),
    serial: p.string().default(''),
    handlingUnit: p.string().default(''),
    owner: p.string().default(''),
    quantity: p.decimal('number').precision(18).scale(4),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});

/** Quantity of a stock position held back for a reason (damaged, quality, pending_putaway, ...). */
export const Blocking = defineEntity({
  name: 'Blocking',
  tableName: 'blocking',
  properties: {
    id: p.bigint('number').primary(),
    stockPosition: () => p.manyToOne(StockPosition),
    reason: p.string(),
    quantity: p.decimal('number').precision(18).scale(4),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});

export const MOVEMENT_KINDS = ['receipt', 'issue', 'move_in', 'move_out', 'adjustment', 'count'] as const;
export type MovementKind = (typeof MOVEMENT_KINDS)[number];

/** Append-only log; the database refuses updates and deletes. */
export const Movement = defineEntity({
  name: 'Movement',
  tableName: 'movement',
  properties: {
    id: p.bigint('number').primary(),
    stockPosition: () => p.manyToOne(StockPosition),
    kind: p.enum(MOVEMENT_KINDS),
    quantity: p.decimal('number').precision(18).scale(4),
    occurredAt: p.datetime().onCreate(() => new Date()),
    reference: p.string().default(''),
  },
});
