"""End-to-end harness for the userkeeper Lambda.

Pieces (all on loopback, all on free ports, no network access needed), one module each:

* ``runtime_api.LocalRuntimeApi`` - a Lambda Runtime API (the endpoint ``AWS_LAMBDA_RUNTIME_API``
  points at), handing out ``Invocation``s.
* ``receiver.ResponseReceiver``   - stands in for CloudFormation's pre-signed S3 ``ResponseURL``;
  ``receiver.check_put`` holds every rule a PUT to it must follow.
* ``function.Function``           - the release binary as a child process, logs captured line by line.
* ``emulator.Emulator``           - ``python -m tests.emulator`` (moto + extensions) as a child process.
* ``events``                      - CloudFormation custom-resource and rotation events, exactly as sent.
* ``views``                       - what a test reads from a response (``CfnResult``), and helpers
  to look for secrets in output.
* ``constants``                   - the account, region, function and stack the pieces share.
* ``loopback``                    - the HTTP server plumbing the runtime API and the receiver share.

Only the standard library (plus boto3 for seeding the emulator, imported lazily) is used, so the
programs under ``tools/`` can share these modules.
"""
