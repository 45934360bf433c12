import type { Logger } from 'pino';
import type { Config } from '../../../config/load.js';
import type { ParsedJob } from '../../definition/parse.js';
import { startDaemon } from '../../daemon.js';

/**
 * The long-lived daemon. The first SIGTERM or SIGINT drains: no new job is
 * taken, running refreshes finish, connections close, exit 0. A second signal
 * forces: running refreshes are abandoned (another replica picks them up as
 * stalled) and the process exits 1.
 */
export async function runCommand(jobs: readonly ParsedJob[], config: Config, logger: Logger): Promise<number> {
  let stopping: Promise<number> | undefined;
  let resolveExit!: (code: number) => void;
  const exited = new Promise<number>((resolve) => (resolveExit = resolve));

  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: stopping at once');
      void daemonReady.then((d) => d?.forceStop()).finally(() => resolveExit(1));
      return;
    }
    logger.info({ signal }, 'stopping: waiting for running refreshes');
    stopping = daemonReady.then(async (d) => {
      await d?.stop();
      logger.info('stopped');
      return 0;
    });
    void stopping.then(resolveExit, (error) => {
      logger.error({ err: error }, 'error while stopping');
      resolveExit(1);
    });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const daemonReady = startDaemon(jobs, config, logger).catch((error) => {
    logger.fatal({ err: error }, 'daemon failed to start');
    resolveExit(1);
    return undefined;
  });
  const code = await exited;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  return code;
}
