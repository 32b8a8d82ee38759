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

/**
 * CPU seconds (user + system) used so far by a process and every process below it. A server of the
 * local stack is often a launcher with the real server as its child (Elasticsearch's JVM), so the
 * tree is what a bench can compare; a descendant that already exited is not counted.
 */
export function treeCpuSeconds(rootPid: number): number {
  const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
  const children = new Map<number, number[]>();
  const ticks = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const fields = fs.readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1].split(' ');
      const pid = Number(entry);
      const parent = Number(fields[1]);
      ticks.set(pid, Number(fields[11]) + Number(fields[12]));
      children.set(parent, [...(children.get(parent) ?? []), pid]);
    } catch {
      /* exited while listed */
    }
  }
  let total = 0;
  for (const todo = [rootPid]; todo.length > 0;) {
    const pid = todo.pop()!;
    total += ticks.get(pid) ?? 0;
    todo.push(...(children.get(pid) ?? []));
  }
  return total / ticksPerSecond;
}
