import { packageTestConfig } from '@lab/tooling/vitest';

export default packageTestConfig({ testTimeout: 300_000, fileParallelism: false });
