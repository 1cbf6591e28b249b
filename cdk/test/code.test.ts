// Where the function's code comes from: the package's own arm64 bootstrap by default, or the
// user's build (codePath / code) for either architecture.
import assert from 'node:assert/strict';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { UserKeeper } from '../lib';
import { codePathOrPlaceholder } from '../lib/dummy-asset';

const CODE = codePathOrPlaceholder(path.join(os.tmpdir(), 'userkeeper-no-such-dir')).codePath;
const stack = () => new Stack(new App(), 'S');

describe('UserKeeper code and architecture', () => {
  it('is arm64 by default', () => {
    const s = stack();
    new UserKeeper(s, 'K', { codePath: CODE });
    Template.fromStack(s).hasResourceProperties('AWS::Lambda::Function', { Architectures: ['arm64'] });
  });

  it('runs an x86_64 build given as codePath or code', () => {
    const s = stack();
    new UserKeeper(s, 'A', { codePath: CODE, architecture: lambda.Architecture.X86_64 });
    const bucket = s3.Bucket.fromBucketName(s, 'Releases', 'my-releases');
    new UserKeeper(s, 'B', { code: lambda.Code.fromBucket(bucket, 'userkeeper-x86_64.zip'), architecture: lambda.Architecture.X86_64 });
    const fns = Object.values(Template.fromStack(s).findResources('AWS::Lambda::Function')) as any[];
    assert.deepEqual(fns.map((f) => f.Properties.Architectures), [['x86_64'], ['x86_64']]);
    assert.deepEqual(fns[1].Properties.Code, { S3Bucket: 'my-releases', S3Key: 'userkeeper-x86_64.zip' });
  });

  it('refuses x86_64 with the packaged (arm64) bootstrap, and code with codePath', () => {
    assert.throws(() => new UserKeeper(stack(), 'K', { architecture: lambda.Architecture.X86_64 }), /inside this package is arm64; for x86_64 give codePath/);
    assert.throws(() => new UserKeeper(stack(), 'K', { codePath: CODE, code: lambda.Code.fromInline('x') }), /give code or codePath, not both/);
  });
});
