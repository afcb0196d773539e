import { packageTestConfig } from '@lab/tooling/vitest';

export default packageTestConfig({ browser: true });
