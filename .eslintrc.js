/** n8n's community, credentials and nodes rule sets; rules are only switched off with a reason. */
module.exports = {
	root: true,
	env: { node: true, es2022: true },
	parser: '@typescript-eslint/parser',
	parserOptions: { project: ['./tsconfig.json'], sourceType: 'module', extraFileExtensions: ['.json'] },
	ignorePatterns: ['.eslintrc.js', '**/*.js', 'node_modules/**', 'dist/**', '.cache/**'],
	overrides: [
		{
			// Tests, benchmarks and scripts are code we keep too: TypeScript's recommended rules, typed against
			// the test tsconfig (which includes them; the package's own tsconfig leaves them out of dist).
			files: ['./test/**/*.ts', './bench/**/*.ts', './scripts/**/*.ts'],
			parserOptions: { project: ['./tsconfig.test.json'] },
			plugins: ['@typescript-eslint'],
			extends: ['eslint:recommended', 'plugin:@typescript-eslint/recommended'],
			rules: {
				// Emulators and fakes stand in for n8n's and the APIs' loosely typed objects on purpose.
				'@typescript-eslint/no-explicit-any': 'off',
				// `_name` marks a parameter a callback signature requires but this implementation does not use.
				'@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
			},
		},
		{
			files: ['package.json'],
			plugins: ['eslint-plugin-n8n-nodes-base'],
			extends: ['plugin:n8n-nodes-base/community'],
			rules: {
				// Self-hosted package: it needs the Mailchimp client, pg and a phone library at run time (see README).
				'n8n-nodes-base/community-package-json-name-still-default': 'off',
			},
		},
		{
			files: ['./credentials/**/*.ts'],
			plugins: ['eslint-plugin-n8n-nodes-base'],
			extends: ['plugin:n8n-nodes-base/credentials'],
			rules: {
				// The rule itself says it only applies to nodes in n8n's main repository; ours link to vendor docs.
				'n8n-nodes-base/cred-class-field-documentation-url-miscased': 'off',
			},
		},
		{
			files: ['./nodes/**/*.ts'],
			plugins: ['eslint-plugin-n8n-nodes-base'],
			extends: ['plugin:n8n-nodes-base/nodes'],
			rules: {
				// These predate n8n 1.83's NodeConnectionTypes, which n8n 2.x nodes use instead of the 'main' literal.
				'n8n-nodes-base/node-class-description-inputs-wrong-regular-node': 'off',
				'n8n-nodes-base/node-class-description-outputs-wrong': 'off',
			},
		},
	],
};
