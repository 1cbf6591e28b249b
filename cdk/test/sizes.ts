// The sizes of the grants for N rotated ElastiCache users in one group (plus rotated MQ users
// on one broker), measured on the synthesized templates (test/measure.ts), for the README:
//   npx ts-node test/sizes.ts
import { measure, platformApp, templatesOf } from './measure';

const rows: string[] = [];
for (const [ec, mq, perStack] of [[10, 10], [50, 10], [200, 10], [200, 50, 100]] as const) {
  const m = measure(templatesOf(platformApp(ec, mq, { perStack })));
  const managed = Object.values(m.managedChars);
  const resources = Object.values(m.resources);
  rows.push(
    `| ${ec} + ${mq} | ${resources.length === 1 ? 'one' : `${resources.length} (${perStack} users each)`} ` +
      `| ${m.roleInlineChars} | ${managed.length} + ${m.awsManagedPolicies} AWS | ${managed.length ? Math.max(...managed) : 0} ` +
      `| ${managed.reduce((a, b) => a + b, 0)} | ${resources.join(' + ')} |`,
  );
}
console.log('| rotated ElastiCache + MQ users | stacks | role inline chars (quota 10,240) | managed policies (quota 10) | largest (quota 6,144) | all managed chars | resources per stack (quota 500) |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
