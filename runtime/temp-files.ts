import fs from 'node:fs';

/*
 * Temporary files and folders this process made (an output's `.partial-PID` file, a zip's spool
 * folder), removed when the process exits however it exits through Node: a normal end, an
 * uncaught error, or process.exit from a signal handler. Their owners untrack them when they are
 * done with them (renamed into place, or removed). A kill -9 leaves them, as it leaves everything.
 */
const tracked = new Set<string>();
let installed = false;

export function trackTemp(path: string): void {
  tracked.add(path);
  if (installed) return;
  installed = true;
  process.on('exit', removeTracked);
}

export function untrackTemp(path: string): void {
  tracked.delete(path);
}

/** Removes every tracked path now (synchronously: it also runs in the 'exit' event). */
export function removeTracked(): void {
  for (const p of tracked) {
    try {
      fs.rmSync(p, { recursive: true, force: true });
    } catch {
      /* best effort: the process is ending */
    }
  }
  tracked.clear();
}
