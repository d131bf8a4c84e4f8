/**
 * Two projects: fast unit/contract tests, and the end-to-end tests that drive the real n8n (those set
 * their own timeouts: jest takes `testTimeout` only at the top level).
 */
const tsJest = ['ts-jest', { tsconfig: 'tsconfig.test.json' }];

module.exports = {
	projects: [
		{
			displayName: 'unit',
			testEnvironment: 'node',
			transform: { '^.+\\.ts$': tsJest },
			testMatch: ['<rootDir>/test/unit/**/*.test.ts', '<rootDir>/test/contract/**/*.test.ts', '<rootDir>/test/emulators/**/*.test.ts'],
			setupFiles: ['<rootDir>/test/unit/helpers/n8nHelperTransport.ts'],
		},
		{
			displayName: 'e2e',
			testEnvironment: 'node',
			transform: { '^.+\\.ts$': tsJest },
			testMatch: ['<rootDir>/test/e2e/**/*.e2e.test.ts'],
		},
	],
};
