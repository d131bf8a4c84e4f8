/**
 * Hub answers that disagree with the spec's declared responses on purpose, because the spec
 * disagrees with its own text. Keyed `METHOD /template STATUS`, with the reason. The emulator
 * contract test fails when one of these stops happening, so the list stays true.
 */
export const KNOWN_SPEC_DEVIATIONS: Record<string, string> = {
	'POST /v1/number_authorisation/mt/blacklist 200':
		'The operation text says "If all the numbers are already on the blacklist, then a 200 is returned", but only 201 is declared.',
};
