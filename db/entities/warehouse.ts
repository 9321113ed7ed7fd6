import { defineEntity, p } from '@mikro-orm/core';

export const Warehouse = defineEntity({
  name: 'Warehouse',
  tableName: 'warehouse',
  properties: {
    code: p.string().primary(),
    name: p.string(),
  },
});

export const Zone = defineEntity({
  name: 'Zone',
  tableName: 'zone',
  properties: {
    id: p.integer().primary(),
    warehouse: () => p.manyToOne(Warehouse).fieldName('warehouse_code'),
    code: p.string(),
  },
});

export const Location = defineEntity({
  name: 'Location',
  tableName: 'location',
  properties: {
    id: p.integer().primary(),
    warehouse: () => p.manyToOne(Warehouse).fieldName('warehouse_code'),
    zone: () => p.manyToOne(Zone),
    code: p.string(),
  },
});
