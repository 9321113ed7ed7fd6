/**
 * Imported first by tests that act while a release is posting (cancel it,
 * kill it): with the default 20,000 rows per transaction a test-sized release
 * can finish before the act lands. store/release/post.ts reads the size once,
 * when it is first loaded, so this import must come before anything that loads it.
 */
process.env.POSTING_BATCH_ROWS ??= '500';
