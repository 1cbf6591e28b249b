import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/**
 * For synth and tests only: `codePath` if it holds a `bootstrap`, otherwise a temporary
 * directory with a placeholder `bootstrap` (so that synthesizing never needs the
 * cross-compiled binary). The placeholder is not a Lambda: never deploy it.
 */
export function codePathOrPlaceholder(codePath: string): { codePath: string; placeholder: boolean } {
  if (fs.existsSync(path.join(codePath, 'bootstrap'))) {
    return { codePath, placeholder: false };
  }
  // Always the same directory and content: the same asset hash on every synth.
  const dir = path.join(os.tmpdir(), 'userkeeper-placeholder-asset');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'bootstrap'),
    '#!/bin/sh\necho "placeholder bootstrap: build userkeeper with cargo lambda build --release --arm64" >&2\nexit 1\n',
    { mode: 0o755 },
  );
  return { codePath: dir, placeholder: true };
}
