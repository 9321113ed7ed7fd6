import { describe, expect, it } from 'vitest';
import { loadConfig, readWorkerVersioning } from '../platform/config';

/** Worker Versioning from the environment: off unless both variables are set; a half-set one stops the start. */
describe('Worker Versioning settings', () => {
  it('are off when neither variable is set, so the worker is unversioned', () => {
    expect(loadConfig({}).workerVersioning).toBeUndefined();
  });

  it('default to auto-upgrade with a deployment name and a build id', () => {
    expect(readWorkerVersioning({ TEMPORAL_DEPLOYMENT_NAME: 'stocktake', TEMPORAL_BUILD_ID: '2026-11-30-2' })).toEqual({
      deploymentName: 'stocktake',
      buildId: '2026-11-30-2',
      defaultBehavior: 'AUTO_UPGRADE',
    });
  });

  it('take pinned as the default behaviour when asked', () => {
    expect(readWorkerVersioning({ TEMPORAL_DEPLOYMENT_NAME: 'stocktake', TEMPORAL_BUILD_ID: 'b1', TEMPORAL_VERSIONING_BEHAVIOR: 'pinned' })?.defaultBehavior).toBe('PINNED');
  });

  it.each([
    [{ TEMPORAL_BUILD_ID: 'b1' }, /without TEMPORAL_DEPLOYMENT_NAME/],
    [{ TEMPORAL_DEPLOYMENT_NAME: 'stocktake' }, /without TEMPORAL_BUILD_ID/],
    [{ TEMPORAL_DEPLOYMENT_NAME: 'stock.take', TEMPORAL_BUILD_ID: 'b1' }, /contains a dot/],
    [{ TEMPORAL_DEPLOYMENT_NAME: 'stocktake', TEMPORAL_BUILD_ID: 'b1', TEMPORAL_VERSIONING_BEHAVIOR: 'sometimes' }, /auto-upgrade or pinned/],
    [{ TEMPORAL_VERSIONING_BEHAVIOR: 'pinned' }, /without TEMPORAL_DEPLOYMENT_NAME and TEMPORAL_BUILD_ID/],
  ])('refuse %j in one sentence', (env, message) => {
    expect(() => readWorkerVersioning(env)).toThrow(message);
  });
});
