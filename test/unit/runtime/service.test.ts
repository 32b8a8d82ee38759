import { exitOnFatal } from '../../../runtime/service';
import { Shutdown } from '../../../runtime/shutdown';
import { createLogger } from '../../../runtime/logger';

/**
 * exitOnFatal: a consumer that stops for good ends the process with 1 (so it is restarted), unless
 * the process is already shutting down, when the one who began the shutdown decides how it ends.
 */
describe('exitOnFatal', () => {
  const logger = createLogger({ level: 'silent' });
  let exit: jest.SpyInstance;
  beforeEach(() => {
    exit = jest.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
  });
  afterEach(() => exit.mockRestore());
  const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

  it('runs the shutdown steps, then exits 1, when the process was running', async () => {
    const shutdown = new Shutdown(logger);
    const closed: string[] = [];
    shutdown.register('consumer', async () => void closed.push('consumer'));
    exitOnFatal({ logger, shutdown }, 'sink.elasticsearch')(new Error('request is not a function'));
    await settle();
    expect(closed).toEqual(['consumer']);
    expect(exit).toHaveBeenCalledWith(1);
  });

  it('does not exit when the failure comes while the process is already shutting down', async () => {
    const shutdown = new Shutdown(logger);
    const closed: string[] = [];
    shutdown.register('consumer', async () => void closed.push('consumer'));
    const stopping = shutdown.run();
    exitOnFatal({ logger, shutdown }, 'sink.elasticsearch')(new Error('request is not a function'));
    await stopping;
    await settle();
    expect(closed).toEqual(['consumer']);
    expect(exit).not.toHaveBeenCalled();
  });
});
