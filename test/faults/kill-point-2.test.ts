import { faultScenario } from '../support/fault-scenario';

faultScenario(1);
