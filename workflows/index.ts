// The worker bundles this file: it lists every workflow and nothing else.
export { reconciliationWorkflow } from './reconciliation';
export { systemReconciliationWorkflow } from './system-reconciliation';
export { scheduledSystemRunWorkflow } from './scheduled-system-run';
