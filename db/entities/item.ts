import { defineEntity, p } from '@mikro-orm/core';

export const Item = defineEntity({
  name: 'Item',
  tableName: 'item',
  properties: {
    id: p.integer().primary(),
    code: p.string().unique(),
    description: p.string().default(''),
    storageUnit: p.string(),
    inventoryUnit: p.string(),
    /** Inventory units per storage unit. */
    conversionFactor: p.decimal('number').precision(18).scale(6),
    standardCost: p.decimal('number').precision(18).scale(4),
    lotTracked: p.boolean().default(false),
    serialTracked: p.boolean().default(false),
  },
});
