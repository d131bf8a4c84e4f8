/** How the nodes say numbers and times to people: "1 member", "3 members", "30 Nov 2026, 8:33 pm AEDT". */

/** "1 member", "1,234 members". */
export function countOf(count: number, noun: string, pluralNoun = `${noun}s`): string {
	return `${count.toLocaleString('en')} ${count === 1 ? noun : pluralNoun}`;
}

/**
 * A moment in the time zone the workflow runs in (n8n's workflow or instance time zone), with the
 * zone's name, as people read it; ISO times stay in the items' fields for machines.
 */
export function localTime(moment: Date, timeZone?: string): string {
	const format = (zone: string | undefined) =>
		new Intl.DateTimeFormat('en-AU', {
			timeZone: zone,
			day: 'numeric',
			month: 'short',
			year: 'numeric',
			hour: 'numeric',
			minute: '2-digit',
			timeZoneName: 'short',
		}).format(moment);
	try {
		return format(timeZone || undefined);
	} catch {
		return format('UTC'); // an unknown zone name: still a readable time, with its zone named
	}
}
