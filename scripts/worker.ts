import { NativeConnection } from '@temporalio/worker';
import { migrate, openOrm } from '../db/orm';
import { loadConfig } from '../platform/config';
import { openDatabase } from '../platform/database';
import { createWorker } from '../platform/worker';

/** Worker process for deployments: DATABASE_URL and TEMPORAL_ADDRESS point at running servers. */
const config = loadConfig();
const db = await openDatabase(config, console.log);
const orm = await openOrm(db.url);
await migrate(orm);
const connection = await NativeConnection.connect({ address: config.temporalAddress ?? '127.0.0.1:7233' });
const worker = await createWorker({ connection, namespace: config.temporalNamespace, taskQueue: config.taskQueue, orm });
console.log(`worker polling task queue ${config.taskQueue} on ${config.temporalAddress ?? '127.0.0.1:7233'}`);
// Worker.run() returns after SIGINT/SIGTERM, once in-flight tasks finish (the SDK installs those handlers).
await worker.run();
await connection.close();
await orm.close();
await db.stop();
