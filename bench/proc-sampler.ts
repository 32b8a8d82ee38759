import { execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

/** Samples a child's RSS and CPU time from /proc every 100 ms; numbers a bench can report. */
export function sampleProcess(child: ChildProcess): { stop(): { peakRssMb: number; cpuSeconds: number } } {
  const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
  let peakRss = 0;
  let cpuTicks = 0;
  const timer = setInterval(() => {
    try {
      const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
      peakRss = Math.max(peakRss, Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024);
      const stat = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      cpuTicks = Number(stat[11]) + Number(stat[12]);
    } catch {
      /* exited */
    }
  }, 100);
  return {
    stop: () => {
      clearInterval(timer);
      return { peakRssMb: Math.round(peakRss / 1e6), cpuSeconds: cpuTicks / ticksPerSecond };
    },
  };
}
