#!/usr/bin/env node
// Example app: userkeeper plus a `default` user, an app user whose password lives in Secrets
// Manager, and a user group holding both. Synthesizes offline (no account, no region):
//   npx cdk synth            (cdk.json runs this file with ts-node)
// Deploy after `cargo lambda build --release --arm64` at the repository root:
//   npx cdk deploy UserKeeperExample
import { App, Annotations, CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import {
  DEFAULT_CODE_PATH,
  ElastiCacheEngine,
  ElastiCacheUser,
  ElastiCacheUserGroup,
  UserKeeper,
} from '../lib';
import { codePathOrPlaceholder } from '../lib/dummy-asset';

export class UserKeeperExampleStack extends Stack {
  constructor(scope: Construct, id: string, props: StackProps & { codePath?: string } = {}) {
    super(scope, id, props);
    const asset = codePathOrPlaceholder(props.codePath ?? DEFAULT_CODE_PATH);
    if (asset.placeholder) {
      Annotations.of(this).addWarningV2(
        'userkeeper:placeholder-bootstrap',
        `no bootstrap in ${props.codePath ?? DEFAULT_CODE_PATH}: synthesized with a placeholder. ` +
          'Run `cargo lambda build --release --arm64` before deploying.',
      );
    }
    const keeper = new UserKeeper(this, 'UserKeeper', { codePath: asset.codePath });

    const secret = new secretsmanager.Secret(this, 'AppUserSecret', {
      description: 'Password of the example ElastiCache user (the password key)',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ username: 'app' }),
        generateStringKey: 'password',
        // ElastiCache refuses , " / @; ' \ and space make passwords awkward to quote.
        excludeCharacters: ',"/@\'\\ ',
        passwordLength: 32,
      },
    });

    const defaultUser = new ElastiCacheUser(this, 'DefaultUser', {
      userKeeper: keeper,
      userId: 'cdk-example-default',
      userName: 'default',
      engine: ElastiCacheEngine.VALKEY,
      accessString: 'off ~* -@all',
      noPasswordRequired: true,
    });
    const appUser = new ElastiCacheUser(this, 'AppUser', {
      userKeeper: keeper,
      userId: 'cdk-example-app',
      userName: 'app',
      engine: ElastiCacheEngine.VALKEY,
      accessString: 'on ~app:* +@read +@write -@dangerous',
      passwordSecret: secret,
      tags: { app: 'userkeeper-example' },
    });
    const group = new ElastiCacheUserGroup(this, 'UserGroup', {
      userKeeper: keeper,
      userGroupId: 'cdk-example-app',
      engine: ElastiCacheEngine.VALKEY,
      userIds: [defaultUser.userId, appUser.userId],
    });

    new CfnOutput(this, 'ServiceToken', { value: keeper.serviceToken });
    new CfnOutput(this, 'AppUserArn', { value: appUser.attrArn });
    new CfnOutput(this, 'UserGroupId', { value: group.attrUserGroupId });
  }
}

if (require.main === module) {
  const app = new App();
  // No env: account- and region-agnostic, so `cdk synth` needs no credentials.
  new UserKeeperExampleStack(app, 'UserKeeperExample');
  app.synth();
}
