// The worker bundles this file: it lists every workflow and nothing else.
export { reconciliationWorkflow } from './reconciliation';
