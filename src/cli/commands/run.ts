import type { Logger } from 'pino';
import type { Config } from '../../../config/load.js';
import type { ParsedJob } from '../../definition/parse.js';
import { createDaemon } from '../../daemon.js';

/**
 * The long-lived daemon. The first SIGTERM or SIGINT drains (see Daemon.stop)
 * and exits 0; a second signal forces: running refreshes are abandoned
 * (another replica picks them up as stalled) and the process exits 1.
 */
export async function runCommand(jobs: readonly ParsedJob[], config: Config, logger: Logger): Promise<number> {
  const daemon = createDaemon(jobs, config, logger);
  let stopping = false;
  let resolveExit!: (code: number) => void;
  const exited = new Promise<number>((resolve) => (resolveExit = resolve));

  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: stopping at once');
      void daemon.forceStop().finally(() => resolveExit(1));
      return;
    }
    stopping = true;
    logger.info({ signal, graceMs: config.shutdown.graceMs }, 'stopping: waiting for running refreshes');
    daemon.stop().then(
      () => {
        logger.info('stopped');
        resolveExit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'error while stopping');
        resolveExit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  daemon.start().catch((error: unknown) => {
    if (stopping) return; // connections closed under a start that waited for Redis
    logger.fatal({ err: error }, 'daemon failed to start');
    void daemon.forceStop().finally(() => resolveExit(1));
  });
  const code = await exited;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  return code;
}
