// userkeeper CDK constructs. One module per service; MemoryDB and Amazon MQ join as
// lib/memorydb.ts and lib/mq.ts, exported here, using the same UserKeeper and grants.
export * from './user-keeper';
export * from './elasticache';
