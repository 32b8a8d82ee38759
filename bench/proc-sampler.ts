import { execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

export interface ProcessUsage {
  peakRssMb: number;
  cpuSeconds: number;
}

/**
 * Samples a child's RSS and CPU time from /proc every 100 ms; numbers a bench can report.
 * `read()` takes a sample now and returns the figures so far (the child keeps being sampled);
 * `stop()` ends the sampling and returns the final figures.
 */
export function sampleProcess(child: ChildProcess): { read(): ProcessUsage; stop(): ProcessUsage } {
  const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
  let peakRss = 0;
  let cpuTicks = 0;
  const sample = () => {
    try {
      const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
      peakRss = Math.max(peakRss, Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024);
      const stat = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      cpuTicks = Number(stat[11]) + Number(stat[12]);
    } catch {
      /* exited */
    }
  };
  const timer = setInterval(sample, 100);
  const figures = () => ({ peakRssMb: Math.round(peakRss / 1e6), cpuSeconds: cpuTicks / ticksPerSecond });
  return {
    read: () => {
      sample();
      return figures();
    },
    stop: () => {
      clearInterval(timer);
      return figures();
    },
  };
}
