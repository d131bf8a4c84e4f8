/**
 * Memory of a running n8n: samples `/proc/<pid>/status` of the n8n process and of every process in its
 * process group (the harness starts n8n in a group of its own, so its task runner is in it too).
 *
 * Two views, because they answer different questions:
 * - `peakGroupRss`: the highest sum of VmRSS over the group seen in one sample (what the machine had to hold
 *   at once; sampled, so a very short spike between two samples can be missed);
 * - `peakHwm`: the kernel's own high-water mark (VmHWM) per process, exact but per process.
 * `peakGroupRssUntil(t)` gives the sampled peak up to a moment, e.g. the end of the workflow run, before n8n
 * saves and prints the run data.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface MemorySample {
	/** Epoch milliseconds. */
	at: number;
	/** Sum of VmRSS over the group, bytes. */
	groupRss: number;
	processes: number;
}

export interface MemoryReport {
	samples: MemorySample[];
	/** Highest sampled sum of VmRSS over the process group, bytes. */
	peakGroupRss: number;
	/** VmHWM of the n8n process itself, bytes (last value read). */
	peakHwmMain: number;
	/** Sum of each group member's last read VmHWM, bytes: an upper bound of the group's peak. */
	peakHwmGroupSum: number;
	/** Highest sampled group RSS at or before `at` (epoch ms). */
	peakGroupRssUntil(at: number): number;
	/**
	 * CPU seconds (user + system) the group's processes used while sampled: the last reading of each
	 * minus its first (a process that started meanwhile counts from zero). Less noisy than wall time on a
	 * shared machine.
	 */
	cpuSeconds: number;
}

const KB = 1024;

function statusOf(pid: number): { rss: number; hwm: number } | undefined {
	try {
		const status = readFileSync(`/proc/${pid}/status`, 'utf8');
		const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
		const hwm = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
		if (!rss || !hwm) return undefined; // a zombie has no memory lines
		return { rss: Number(rss[1]) * KB, hwm: Number(hwm[1]) * KB };
	} catch {
		return undefined; // gone between listing and reading
	}
}

/** User + system CPU time of a process so far, in clock ticks (fields 14 and 15 of /proc/<pid>/stat). */
function cpuTicksOf(pid: number): number | undefined {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
		const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
		return Number(fields[11]) + Number(fields[12]);
	} catch {
		return undefined;
	}
}
// Linux's USER_HZ, the unit of /proc/<pid>/stat times, is 100 on every common platform.
const TICKS_PER_SECOND = 100;

/** Process ids whose process group is `pgid` (field 5 of /proc/<pid>/stat). */
function groupMembers(pgid: number): number[] {
	const members: number[] = [];
	for (const entry of readdirSync('/proc')) {
		if (!/^\d+$/.test(entry)) continue;
		try {
			const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
			// The command name (field 2) may hold spaces and parentheses: read after its closing parenthesis.
			const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
			if (Number(fields[2]) === pgid) members.push(Number(entry));
		} catch {
			// exited meanwhile
		}
	}
	return members;
}

/**
 * Starts sampling once `pid()` gives a process id, every `intervalMs`, until `stop()`.
 * Pass a getter: the harness knows the pid only once n8n has been spawned.
 */
export function sampleProcessGroup(pid: () => number | undefined, intervalMs = 200): { stop(): MemoryReport } {
	const samples: MemorySample[] = [];
	const hwm = new Map<number, number>();
	const cpu = new Map<number, { first: number; last: number }>();
	let main: number | undefined;

	const sample = () => {
		main ??= pid();
		if (main === undefined) return;
		const members = new Set([main, ...groupMembers(main)]);
		let groupRss = 0;
		let processes = 0;
		for (const member of members) {
			const status = statusOf(member);
			if (!status) continue;
			groupRss += status.rss;
			processes++;
			hwm.set(member, Math.max(hwm.get(member) ?? 0, status.hwm));
			const ticks = cpuTicksOf(member);
			if (ticks !== undefined) {
				const seen = cpu.get(member);
				// A process first seen after the first sample started meanwhile: all its time is in the window.
				cpu.set(member, { first: seen?.first ?? (samples.length === 0 ? ticks : 0), last: ticks });
			}
		}
		if (processes > 0) samples.push({ at: Date.now(), groupRss, processes });
	};
	sample();
	const timer = setInterval(sample, intervalMs);

	return {
		stop() {
			clearInterval(timer);
			const peakUntil = (at: number) => samples.filter((s) => s.at <= at).reduce((peak, s) => Math.max(peak, s.groupRss), 0);
			return {
				samples,
				peakGroupRss: peakUntil(Number.POSITIVE_INFINITY),
				peakHwmMain: main === undefined ? 0 : (hwm.get(main) ?? 0),
				peakHwmGroupSum: [...hwm.values()].reduce((sum, value) => sum + value, 0),
				peakGroupRssUntil: peakUntil,
				cpuSeconds: [...cpu.values()].reduce((total, { first, last }) => total + (last - first), 0) / TICKS_PER_SECOND,
			};
		},
	};
}

/** The sum of VmRSS over the process group now, bytes. */
export function groupRssNow(pid: number): number {
	return [...new Set([pid, ...groupMembers(pid)])].reduce((sum, member) => sum + (statusOf(member)?.rss ?? 0), 0);
}

/**
 * Waits until the group's memory has settled: n8n holds what it parsed while starting (node types,
 * credentials, its database) for some seconds and gives it back only when V8 collects it, so a run
 * started at once would carry n8n's start-up on top of its own memory, which a scheduled run in a
 * long-running n8n does not. Settled: after at least `minMs`, the last `steadyMs` of samples within
 * `tolerance` of each other; at most `maxMs`.
 */
export async function settleProcessGroup(
	pid: number,
	{ minMs = 15_000, steadyMs = 8_000, maxMs = 90_000, tolerance = 0.02, intervalMs = 500 } = {},
): Promise<{ rss: number; waitedMs: number }> {
	const started = Date.now();
	const samples: Array<{ at: number; rss: number }> = [];
	for (;;) {
		const now = Date.now();
		samples.push({ at: now, rss: groupRssNow(pid) });
		const recent = samples.filter((s) => s.at >= now - steadyMs).map((s) => s.rss);
		const steady = samples[0].at <= now - steadyMs && Math.max(...recent) - Math.min(...recent) <= tolerance * Math.max(...recent);
		if ((now - started >= minMs && steady) || now - started >= maxMs) return { rss: samples.at(-1)!.rss, waitedMs: now - started };
		await new Promise((resolve) => setTimeout(resolve, intervalMs));
	}
}
