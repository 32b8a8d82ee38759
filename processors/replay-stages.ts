/**
 * The stages whose dead letters `meterflow replay` can re-drive: each has an input topic to send a
 * letter back to. Its own module, free of Kafka imports, so the CLI can check `--stage` while it
 * parses the command line.
 */
export const REPLAYABLE_STAGES = ['processor.price', 'processor.dedupe', 'processor.normalize'] as const;

export function isReplayableStage(stage: string): boolean {
  return (REPLAYABLE_STAGES as readonly string[]).includes(stage);
}
