import { Item } from './item';
import { Blocking, Movement, StockPosition } from './stock';
import { Location, Warehouse, Zone } from './warehouse';

export { Item, Blocking, Movement, StockPosition, Location, Warehouse, Zone };

export const entities = [Warehouse, Zone, Location, Item, StockPosition, Blocking, Movement];
