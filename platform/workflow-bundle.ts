import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createRequire } from 'node:module';
import webpack from 'webpack';

const require = createRequire(import.meta.url);

/** The path the worker bundles; workflows/index.ts lists every workflow. */
export const WORKFLOWS_PATH = require.resolve('../workflows/index.ts');

/**
 * The workflow bundle with the decision key compiled in (see
 * workflows/decision-key.ts): the key lives in the memory of the worker that
 * built the bundle, nowhere in Temporal.
 */
export function withDecisionKey(keyText: string) {
  return (config: webpack.Configuration): webpack.Configuration => ({
    ...config,
    plugins: [...(config.plugins ?? []), new webpack.DefinePlugin({ __STOCKTAKE_DECISION_KEY__: JSON.stringify(keyText) })],
  });
}

export async function bundleWorkflows(keyText: string, logger?: Parameters<typeof bundleWorkflowCode>[0]['logger']): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, webpackConfigHook: withDecisionKey(keyText), ...(logger ? { logger } : {}) });
}
