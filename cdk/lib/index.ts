// userkeeper CDK constructs. One module per service, all using the same UserKeeper, which
// gives each resource a policy of its own with exactly what it needs.
export * from './user-keeper';
export { OWNER_LOGICAL_TAG, OWNER_STACK_TAG } from './common';
export type { UserKeeperTarget } from './common';
export * from './elasticache';
export * from './memorydb';
export * from './mq';
export * from './rotation';
export * from './alarms';
