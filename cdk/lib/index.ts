// userkeeper CDK constructs. One module per service, all using the same UserKeeper, which
// grants each resource exactly what it needs, in a few managed policies shared by the stack.
export * from './user-keeper';
export * from './grants';
export { OWNER_LOGICAL_TAG, OWNER_STACK_TAG } from './common';
export type { UserKeeperTarget } from './common';
export * from './elasticache';
export * from './memorydb';
export * from './mq';
export * from './rabbitmq';
export * from './rotation';
export * from './alarms';
