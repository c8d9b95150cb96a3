// Running a command to completion, with its stderr in the error when it fails.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ErrorCode, KbpError } from './errors.js';

const execFileP = promisify(execFile);

export async function run(cmd: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await execFileP(cmd, args, { maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new KbpError(ErrorCode.CommandFailed, `${cmd} ${args.join(' ')}: ${e.stderr?.trim() || e.message}`, { cause: err });
  }
}
