// One structured logger for the agent (pino, JSON lines on stderr so stdout stays free for CLI output).
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string = process.env.KBP_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { component: 'kbproxy' } }, pino.destination(2));
}
