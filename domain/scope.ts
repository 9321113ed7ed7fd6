/**
 * What a reconciliation counts: the whole warehouse, selected zones or
 * selected locations, optionally narrowed to some products.
 */
export type Scope =
  | { kind: 'warehouse'; items?: string[] }
  | { kind: 'zones'; zones: string[]; items?: string[] }
  | { kind: 'locations'; locations: string[]; items?: string[] };

export type SplitPolicy = { kind: 'none' } | { kind: 'by_zone' } | { kind: 'by_size'; maxLocations: number };

/** Zone, location and item code lists as SQL parameters; null means "no restriction". */
export function scopeFilters(scope: Scope): { zones: string[] | null; locations: string[] | null; items: string[] | null } {
  return {
    zones: scope.kind === 'zones' ? scope.zones : null,
    locations: scope.kind === 'locations' ? scope.locations : null,
    items: scope.items && scope.items.length > 0 ? scope.items : null,
  };
}
